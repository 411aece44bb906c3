-- The states in KEYS[1]: user ARGV[1]'s (as a list of at most one), or
-- every one when ARGV[1] is empty.
if ARGV[1] == '' then
  return redis.call('HVALS', KEYS[1])
end
local state = redis.call('HGET', KEYS[1], ARGV[1])
return state and {state} or {}

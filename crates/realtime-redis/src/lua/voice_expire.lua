-- Removes user ARGV[1]'s state (member ARGV[2]) if its expiry is still due
-- (no renewal came since it was found); the state removed, or false.
local due = redis.call('ZSCORE', EXPIRY, ARGV[2])
if not due or tonumber(due) > now_ms() then
  return false
end
local state = redis.call('HGET', STATES, ARGV[1])
drop_state(ARGV[1], ARGV[2])
return state or false

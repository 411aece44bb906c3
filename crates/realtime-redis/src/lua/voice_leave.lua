-- Removes user ARGV[1]'s state (member ARGV[3]) if session ARGV[2] owns
-- it (any session when ARGV[2] is empty); the state removed, or false.
local state = redis.call('HGET', STATES, ARGV[1])
if not state then
  return false
end
if ARGV[2] ~= '' and cjson.decode(state).session_id ~= ARGV[2] then
  return false
end
drop_state(ARGV[1], ARGV[3])
return state

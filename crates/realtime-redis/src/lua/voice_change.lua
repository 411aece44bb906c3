-- Applies a change to user ARGV[1]'s state: ARGV[2] mute and ARGV[3] deaf
-- ('1', '0', or '' to keep), ARGV[4] a channel to move to with ARGV[5]
-- its new token ('' to stay). Returns {before, after, endpoint}, or false
-- when the user has no state.
local before = redis.call('HGET', STATES, ARGV[1])
if not before then
  return false
end
local state = cjson.decode(before)
if ARGV[2] ~= '' then
  state.mute = ARGV[2] == '1'
end
if ARGV[3] ~= '' then
  state.deaf = ARGV[3] == '1'
end
if ARGV[4] ~= '' then
  state.channel_id = ARGV[4]
  state.token = ARGV[5]
end
local after = cjson.encode(state)
redis.call('HSET', STATES, ARGV[1], after)
return {before, after, redis.call('GET', ENDPOINT) or ''}

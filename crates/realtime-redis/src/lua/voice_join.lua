-- Sets ARGV[2] (a state's JSON) as user ARGV[1]'s, living ARGV[5] ms as
-- member ARGV[8]. ARGV[3]: the channel's limit (-1 for none), ARGV[4]:
-- the endpoint a guild without states takes, ARGV[6]/ARGV[7]: the state's
-- channel and session. Returns {0} when the channel is full, else
-- {1, before or false, after, endpoint}.
local user, state, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local channel, session = ARGV[6], ARGV[7]
local before = redis.call('HGET', STATES, user)
local prev = before and cjson.decode(before)
if prev and prev.channel_id == channel and prev.session_id == session then
  local kept = cjson.decode(state)
  kept.token = prev.token
  state = cjson.encode(kept)
elseif limit >= 0 and not (prev and prev.channel_id == channel) then
  local others = 0
  local all = redis.call('HGETALL', STATES)
  for i = 1, #all, 2 do
    if all[i] ~= user and cjson.decode(all[i + 1]).channel_id == channel then
      others = others + 1
    end
  end
  if others >= limit then
    return {0}
  end
end
redis.call('HSET', STATES, user, state)
redis.call('SET', ENDPOINT, ARGV[4], 'NX')
redis.call('ZADD', EXPIRY, now_ms() + tonumber(ARGV[5]), ARGV[8])
return {1, before or false, state, redis.call('GET', ENDPOINT)}

-- A live session sets its presence. ARGV: offline, user, session, shown.
-- Returns {0} if the session is gone, else {1} or {1, before, after}.
local key, user, field = KEYS[3], ARGV[2], 's:' .. ARGV[3]
local now = now_ms()
local expires = live(key, field, now)
if not expires then
  return {0}
end
redis.call('HSET', key, field, entry(expires, redis.call('INCR', CLOCK), ARGV[4]))
local told = settle(key, user, now)
if told then
  return {1, told[1], told[2]}
end
return {1}

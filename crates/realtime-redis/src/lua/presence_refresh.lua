-- A heartbeat. ARGV: offline, user, session, ttl_ms. Returns as update.
local key, user, session = KEYS[3], ARGV[2], ARGV[3]
local field = 's:' .. session
local now = now_ms()
local expires, set, shown = live(key, field, now)
if not expires then
  return {0}
end
expires = now + tonumber(ARGV[4])
redis.call('HSET', key, field, entry(expires, set, shown))
redis.call('ZADD', EXPIRY, expires, user .. ' ' .. session)
local told = settle(key, user, now)
if told then
  return {1, told[1], told[2]}
end
return {1}

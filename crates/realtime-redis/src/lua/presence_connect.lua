-- A session connects. ARGV: offline, user, session, shown, ttl_ms.
-- Returns the transition or nil.
local key, user, session = KEYS[3], ARGV[2], ARGV[3]
local now = now_ms()
local expires = now + tonumber(ARGV[5])
local set = redis.call('INCR', CLOCK)
redis.call('HSET', key, 's:' .. session, entry(expires, set, ARGV[4]))
redis.call('ZADD', EXPIRY, expires, user .. ' ' .. session)
return settle(key, user, now)

-- A session ends. ARGV: offline, user, session. Returns the transition or nil.
local key, user, session = KEYS[3], ARGV[2], ARGV[3]
redis.call('HDEL', key, 's:' .. session)
redis.call('ZREM', EXPIRY, user .. ' ' .. session)
return settle(key, user, now_ms())

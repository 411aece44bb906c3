-- Up to ARGV[1] expiry members ("guild user") due by now, in KEYS[1].
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))

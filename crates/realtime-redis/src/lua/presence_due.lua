-- Up to ARGV[2] sessions ("user session") due by now.
return redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[2]))

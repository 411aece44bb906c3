-- Registers a session. KEYS: record, frames. ARGV: user, node, intents,
-- shard, state, seq, last_event, ttl_ms.
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'node', ARGV[2], 'intents', ARGV[3],
  'shard', ARGV[4], 'state', ARGV[5], 'seq', ARGV[6], 'last_event', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return 0

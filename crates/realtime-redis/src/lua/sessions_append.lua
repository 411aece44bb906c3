-- Applies one batch if ARGV[1] (a node) holds the session; 1 if it did.
-- KEYS: record, frames. ARGV: node, last_event, has_state (0/1), state,
-- renew_ms (0: none), kept, prev (the sequence the first frame follows),
-- last (the last frame's sequence), then the frames ("seq\nkind\ndata").
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then
  return 0
end
if #ARGV > 8 then
  -- Frames that do not follow the kept ones replace them: no holes.
  if redis.call('HGET', KEYS[1], 'seq') ~= ARGV[7] then
    redis.call('DEL', KEYS[2])
  end
  redis.call('HSET', KEYS[1], 'seq', ARGV[8])
  for from = 9, #ARGV, 512 do
    redis.call('RPUSH', KEYS[2], unpack(ARGV, from, math.min(from + 511, #ARGV)))
  end
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
end
if cmp(ARGV[2], redis.call('HGET', KEYS[1], 'last_event') or '0') > 0 then
  redis.call('HSET', KEYS[1], 'last_event', ARGV[2])
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'state', ARGV[4])
end
if ARGV[5] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
else
  -- The frames live as long as their record.
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then
    redis.call('PEXPIRE', KEYS[2], left)
  end
end
return 1

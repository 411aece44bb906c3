-- Ends the session if ARGV[1] (a node) holds it. KEYS: record, frames.
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 0

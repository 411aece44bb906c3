-- Sets the guild's endpoint (KEYS[1]) to ARGV[2] if it is ARGV[1]; 1 when
-- it did. A guild nobody is in has no endpoint, and so does not move.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0

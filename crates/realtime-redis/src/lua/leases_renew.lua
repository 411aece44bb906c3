-- Extends KEYS[1] by ARGV[2] ms if ARGV[1] holds it; 1 if it did.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0

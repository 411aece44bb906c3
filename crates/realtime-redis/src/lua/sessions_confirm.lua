-- Frees the frames up to ARGV[2] if ARGV[1] (a node) holds the session.
-- KEYS: record, frames.
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then
  return 0
end
local freed = 0
while true do
  local chunk = redis.call('LRANGE', KEYS[2], freed, freed + 31)
  local done = #chunk < 32
  for _, frame in ipairs(chunk) do
    if cmp(string.match(frame, '^(%d+)\n'), ARGV[2]) > 0 then
      done = true
      break
    end
    freed = freed + 1
  end
  if done then
    break
  end
end
if freed > 0 then
  redis.call('LTRIM', KEYS[2], freed, -1)
end
return freed

-- Takes the first lease in KEYS that ARGV[1] (the holder) may take: free,
-- or its own. ARGV[2]: ttl_ms. Returns its index from 0, or -1.
for i, key in ipairs(KEYS) do
  local by = redis.call('GET', key)
  if not by or by == ARGV[1] then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    return i - 1
  end
end
return -1

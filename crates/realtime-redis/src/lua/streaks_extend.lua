-- One more failure for each streak in KEYS. ARGV: now_ms,
-- forget_after_ms, slack_ms. A streak is kept as
-- "count last_ms forget_at_ms".
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  local count = 0
  local kept = redis.call('GET', key)
  if kept then
    local c, _, f = string.match(kept, '^(%d+) (%d+) (%d+)$')
    if f and tonumber(f) > now then
      count = tonumber(c)
    end
  end
  count = math.min(count + 1, 4294967295)
  local value = string.format('%d %d %d', count, now, now + forget)
  redis.call('SET', key, value, 'PX', forget + slack)
end
return 0

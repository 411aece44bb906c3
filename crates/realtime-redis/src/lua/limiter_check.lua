-- Counts one request against each window in KEYS, stopping at the first
-- refusal. ARGV: now_ms, slack_ms, then count and window_ms per key.
-- A window is kept as "start_ms window_ms count". Returns allowed (0/1),
-- remaining and reset_at_ms per key counted.
local now = tonumber(ARGV[1])
local slack = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i + 1])
  local start, window, count = now, tonumber(ARGV[2 * i + 2]), 0
  local kept = redis.call('GET', key)
  if kept then
    local s, w, c = string.match(kept, '^(%d+) (%d+) (%d+)$')
    s, w = tonumber(s), tonumber(w)
    if s and now < s + w then
      start, window, count = s, w, tonumber(c)
    end
  end
  local allowed = count < limit
  local reset_at = start + window
  if allowed then
    count = count + 1
    local ttl = math.max(reset_at - now, 0) + slack
    redis.call('SET', key, string.format('%d %d %d', start, window, count), 'PX', ttl)
  end
  out[#out + 1] = allowed and 1 or 0
  out[#out + 1] = math.max(limit - count, 0)
  out[#out + 1] = reset_at
  if not allowed then
    break
  end
end
return out

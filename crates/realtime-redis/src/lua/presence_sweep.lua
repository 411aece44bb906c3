-- Settles the users in KEYS[3]... (ARGV[2]... their ids), whose sessions
-- the caller found expired, and drops the expiry entries ARGV[n+2]...
-- that are still due (n = #KEYS - 2). Returns user, before, after per
-- transition.
local now = now_ms()
local users = #KEYS - 2
local out = {}
for i = 1, users do
  local told = settle(KEYS[i + 2], ARGV[i + 1], now)
  if told then
    out[#out + 1] = ARGV[i + 1]
    out[#out + 1] = told[1]
    out[#out + 1] = told[2]
  end
end
for i = users + 2, #ARGV do
  local due = redis.call('ZSCORE', EXPIRY, ARGV[i])
  if due and tonumber(due) <= now then
    redis.call('ZREM', EXPIRY, ARGV[i])
  end
end
return out

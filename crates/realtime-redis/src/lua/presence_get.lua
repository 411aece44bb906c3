-- What others see of each user in KEYS[3]... (ARGV[2]... their ids).
local now = now_ms()
local out = {}
for i = 3, #KEYS do
  out[#out + 1] = shown_of(KEYS[i], ARGV[i - 1], now, false)
end
return out

-- Shared by every script (prepended to each).

-- Compares two unsigned 64-bit integers given as decimal strings without
-- leading zeros: Lua's numbers are doubles, exact only up to 2^53.
local function cmp(a, b)
  if #a ~= #b then
    return #a < #b and -1 or 1
  end
  if a == b then
    return 0
  end
  return a < b and -1 or 1
end

-- The server's clock in milliseconds: one clock for every node.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

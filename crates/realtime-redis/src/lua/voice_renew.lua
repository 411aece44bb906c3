-- KEYS[1]: the expiry set; KEYS[2..]: guilds' state hashes. ARGV[1]: ttl
-- in ms, then per hash its user, session and expiry member. Renews each
-- state still its session's; 1 or 0 per hash, in order.
local until_ms = now_ms() + tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local at = (i - 2) * 3 + 2
  local state = redis.call('HGET', KEYS[i], ARGV[at])
  if state and cjson.decode(state).session_id == ARGV[at + 1] then
    redis.call('ZADD', KEYS[1], until_ms, ARGV[at + 2])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out

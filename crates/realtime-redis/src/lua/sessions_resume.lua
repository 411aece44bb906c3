-- The conditional takeover behind RESUME. KEYS: record, frames. ARGV:
-- user, node, after, after + 1, ttl_ms. Returns nil, or the record as it
-- was (node, intents, shard, state, seq, last_event) followed by the frames
-- after `after`, each "seq\nkind\ndata": the entries name their texts,
-- which are looked up; one that expired makes the session unresumable, as
-- frames no longer kept do.
local r = redis.call('HMGET', KEYS[1], 'user', 'node', 'intents', 'shard', 'state', 'seq', 'last_event')
if not r[1] or r[1] ~= ARGV[1] then
  return nil
end
local seq, after = r[6], ARGV[3]
if cmp(after, seq) > 0 then
  return nil
end
local first = redis.call('LINDEX', KEYS[2], 0)
if first then
  if cmp(ARGV[4], string.match(first, '^(%d+)\n')) < 0 then
    return nil
  end
elseif cmp(after, seq) < 0 then
  return nil
end
local out = {r[2], r[3], r[4], r[5], r[6], r[7]}
if first then
  local heads, texts = {}, {}
  for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    local frame_seq, kind, text = string.match(entry, '^(%d+)\n([^\n]*)\n(.*)$')
    if cmp(frame_seq, after) > 0 then
      heads[#heads + 1] = frame_seq .. '\n' .. kind .. '\n'
      texts[#texts + 1] = text
    end
  end
  for from = 1, #texts, 512 do
    local found = redis.call('MGET', unpack(texts, from, math.min(from + 511, #texts)))
    for i, data in ipairs(found) do
      if not data then
        return nil
      end
      out[#out + 1] = heads[from + i - 1] .. data
    end
  end
end
redis.call('HSET', KEYS[1], 'node', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return out

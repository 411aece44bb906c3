-- Applies a batch per session, each only if ARGV[1] (a node) holds that
-- session; answers per session 1 if it did, 0 if not.
-- KEYS: per session its record and its frames.
-- ARGV: node, kept, text_ttl_ms, the number of texts, per text its key and
-- itself (the frames' data, each stored once however many sessions got
-- it), then per session: last_event, has_state (0/1), state, renew_ms (0:
-- none), prev (the sequence the first frame follows), last (the last
-- frame's sequence), the number of frames, and per frame its entry
-- ("seq\nkind\n" and the key of its text).
local node, kept, text_ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local at = 5
for _ = 1, tonumber(ARGV[4]) do
  redis.call('SET', ARGV[at], ARGV[at + 1], 'PX', text_ttl)
  at = at + 2
end
local answers = {}
for s = 1, #KEYS / 2 do
  local record, list = KEYS[2 * s - 1], KEYS[2 * s]
  local last_event, has_state, state, renew = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local prev, last, count = ARGV[at + 4], ARGV[at + 5], tonumber(ARGV[at + 6])
  local first = at + 7
  at = first + count
  local held = redis.call('HMGET', record, 'node', 'seq', 'last_event')
  if held[1] ~= node then
    answers[s] = 0
  else
    local fields = {}
    local created = false
    if count > 0 then
      -- Frames that do not follow the kept ones replace them: no holes.
      if held[2] ~= prev then
        redis.call('DEL', list)
      end
      fields[#fields + 1] = 'seq'
      fields[#fields + 1] = last
      local length = 0
      for from = first, first + count - 1, 512 do
        length = redis.call('RPUSH', list, unpack(ARGV, from, math.min(from + 511, first + count - 1)))
      end
      if length > kept then
        redis.call('LTRIM', list, -kept, -1)
      end
      created = length == count
    end
    if cmp(last_event, held[3] or '0') > 0 then
      fields[#fields + 1] = 'last_event'
      fields[#fields + 1] = last_event
    end
    if has_state == '1' then
      fields[#fields + 1] = 'state'
      fields[#fields + 1] = state
    end
    if #fields > 0 then
      redis.call('HSET', record, unpack(fields))
    end
    if renew ~= '0' then
      redis.call('PEXPIRE', record, renew)
      redis.call('PEXPIRE', list, renew)
    elseif created then
      -- The frames live as long as their record (a list that existed
      -- already got its expiry with the record's last renewal).
      local left = redis.call('PTTL', record)
      if left > 0 then
        redis.call('PEXPIRE', list, left)
      end
    end
    answers[s] = 1
  end
end
return answers

-- Shared by the presence scripts (prepended after common.lua).
-- KEYS[1]: every live session by expiry (a sorted set of "user session");
-- KEYS[2]: the order of changes (a counter); KEYS[3]...: users' hashes,
-- each with "told" (what others were last told, absent when offline) and
-- "s:SESSION" = "expires_ms set shown" per session (`shown` is the JSON
-- of what others see of it). ARGV[1]: the JSON of offline.
local EXPIRY, CLOCK, OFFLINE = KEYS[1], KEYS[2], ARGV[1]

local function parse(value)
  local expires, set, shown = string.match(value, '^(%d+) (%d+) (.*)$')
  return tonumber(expires), tonumber(set), shown
end

local function entry(expires, set, shown)
  return string.format('%d %d ', expires, set) .. shown
end

-- How a shown presence that says `afk` ends: serde writes the fields in
-- order (status, activities, afk) and leaves afk out when false, and
-- activities, before it, is an array, so only afk can end an object so.
local AFK = ',"afk":true}'

local function is_afk(shown)
  return string.sub(shown, -#AFK) == AFK
end

-- What others should see of the user in `key`: the most recently set live
-- session's, `afk` only when every live session's is. With `forget`,
-- expired sessions are dropped on the way.
local function shown_of(key, user, now, forget)
  local fields = redis.call('HGETALL', key)
  local best, best_set, all_afk = OFFLINE, -1, true
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.sub(field, 1, 2) == 's:' then
      local expires, set, shown = parse(fields[i + 1])
      if expires > now then
        if set > best_set then
          best, best_set = shown, set
        end
        all_afk = all_afk and is_afk(shown)
      elseif forget then
        redis.call('HDEL', key, field)
        redis.call('ZREM', EXPIRY, user .. ' ' .. string.sub(field, 3))
      end
    end
  end
  if is_afk(best) and not all_afk then
    best = string.sub(best, 1, -#AFK - 1) .. '}'
  end
  return best
end

-- Brings what others were told of the user in `key` up to date; returns
-- {before, after} when it changed, else nil. A user with no session left
-- and told offline leaves nothing behind.
local function settle(key, user, now)
  local after = shown_of(key, user, now, true)
  local before = redis.call('HGET', key, 'told') or OFFLINE
  if before == after then
    return nil
  end
  if after == OFFLINE then
    redis.call('HDEL', key, 'told')
  else
    redis.call('HSET', key, 'told', after)
  end
  return {before, after}
end

-- The live session `field` of the user in `key`, parsed, or nil.
local function live(key, field, now)
  local value = redis.call('HGET', key, field)
  if not value then
    return nil
  end
  local expires, set, shown = parse(value)
  if expires <= now then
    return nil
  end
  return expires, set, shown
end

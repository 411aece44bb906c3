-- Shared by the voice scripts. A guild's states are a hash (KEYS[1]) of
-- user id to the state's JSON, its endpoint a key of its own (KEYS[2]),
-- and every state's expiry a member "guild user" of one sorted set
-- (KEYS[3]).
local STATES, ENDPOINT, EXPIRY = KEYS[1], KEYS[2], KEYS[3]

-- Removes a user's state (and the guild's endpoint with its last one).
local function drop_state(user, member)
  redis.call('HDEL', STATES, user)
  redis.call('ZREM', EXPIRY, member)
  if redis.call('HLEN', STATES) == 0 then
    redis.call('DEL', ENDPOINT)
  end
end

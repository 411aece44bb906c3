-- Incoming webhooks: found by id, listed per channel and per guild; a
-- channel's go with it (in `delete_channel` and `delete_guild`).
CREATE TABLE webhooks (
    id bigint PRIMARY KEY,
    guild_id bigint NOT NULL,
    channel_id bigint NOT NULL,
    record jsonb NOT NULL
);

CREATE INDEX webhooks_by_channel ON webhooks (channel_id, id);
CREATE INDEX webhooks_by_guild ON webhooks (guild_id, id);

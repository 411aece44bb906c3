-- Web Push subscriptions: one row per user and endpoint.
CREATE TABLE push_subscriptions (
    user_id bigint NOT NULL,
    endpoint text NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (user_id, endpoint)
);

-- Pushes waiting for delivery, read by due time by the node draining them.
CREATE TABLE push_queue (
    id bigint PRIMARY KEY,
    due_ms bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX push_queue_by_due ON push_queue (due_ms, id);

-- Notification settings per user and guild (0: direct messages).
CREATE TABLE user_guild_settings (
    user_id bigint NOT NULL,
    guild_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (user_id, guild_id)
);

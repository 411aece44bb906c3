-- The mentions inbox index: one row per message and what it mentions
-- (kind 1 a user, 2 a role, 3 a guild's @everyone), read newest first per target.
CREATE TABLE mentions (
    target_kind smallint NOT NULL,
    target_id bigint NOT NULL,
    message_id bigint NOT NULL,
    channel_id bigint NOT NULL,
    PRIMARY KEY (target_kind, target_id, message_id)
);

-- Messages each user took out of their inbox.
CREATE TABLE mention_dismissals (
    user_id bigint NOT NULL,
    message_id bigint NOT NULL,
    PRIMARY KEY (user_id, message_id)
);

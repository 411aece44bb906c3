-- Concord's store on PostgreSQL. Each record is kept whole as JSONB (the
-- same serde form the embedded store writes) beside the key columns its
-- queries need; conditional operations change fields inside it with one
-- UPDATE. Snowflakes are bigint (they stay below 2^63 until 2084).
-- Text keys sort by bytes (COLLATE "C"), as in the embedded store.

CREATE TABLE users (
    id bigint PRIMARY KEY,
    record jsonb NOT NULL
);

-- Lowercased usernames and emails: the unique index is what refuses a
-- taken name, whoever writes at the same time.
CREATE TABLE logins (
    login text COLLATE "C" PRIMARY KEY,
    user_id bigint NOT NULL
);
CREATE INDEX logins_by_user ON logins (user_id);

CREATE TABLE applications (
    id bigint PRIMARY KEY,
    record jsonb NOT NULL
);

CREATE TABLE guilds (
    id bigint PRIMARY KEY,
    record jsonb NOT NULL
);

CREATE TABLE roles (
    guild_id bigint NOT NULL,
    id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (guild_id, id)
);

-- Guild channels, threads (listed apart) and private channels.
CREATE TABLE channels (
    id bigint PRIMARY KEY,
    guild_id bigint,
    is_thread boolean NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX channels_by_guild ON channels (guild_id, is_thread, id) WHERE guild_id IS NOT NULL;

-- Channels deleted while their messages are being removed: their ids are
-- not created again until the mark goes.
CREATE TABLE purges (
    channel_id bigint PRIMARY KEY
);

CREATE TABLE thread_members (
    thread_id bigint NOT NULL,
    user_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);

CREATE TABLE members (
    guild_id bigint NOT NULL,
    user_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id, guild_id);

-- Members per guild, kept by the triggers below in the statement that
-- adds or removes them, so counting never scans a guild.
CREATE TABLE guild_member_counts (
    guild_id bigint PRIMARY KEY,
    count bigint NOT NULL
);

CREATE FUNCTION count_joined_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO guild_member_counts (guild_id, count)
        SELECT guild_id, count(*) FROM joined GROUP BY guild_id
        ON CONFLICT (guild_id) DO UPDATE SET count = guild_member_counts.count + EXCLUDED.count;
    RETURN NULL;
END $$;

CREATE FUNCTION count_left_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE guild_member_counts c SET count = greatest(c.count - l.n, 0)
        FROM (SELECT guild_id, count(*) AS n FROM left_rows GROUP BY guild_id) l
        WHERE c.guild_id = l.guild_id;
    RETURN NULL;
END $$;

CREATE TRIGGER members_joined AFTER INSERT ON members
    REFERENCING NEW TABLE AS joined
    FOR EACH STATEMENT EXECUTE FUNCTION count_joined_members();
CREATE TRIGGER members_left AFTER DELETE ON members
    REFERENCING OLD TABLE AS left_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_left_members();

CREATE TABLE invites (
    code text COLLATE "C" PRIMARY KEY,
    guild_id bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX invites_by_guild ON invites (guild_id, code);

CREATE TABLE bans (
    guild_id bigint NOT NULL,
    user_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- The partitions of each channel that hold messages. A message's foreign
-- key locks its partition's row (shared) until it commits, so the
-- removal of a partition found empty can never pass a message being
-- written into it.
CREATE TABLE channel_buckets (
    channel_id bigint NOT NULL,
    bucket bigint NOT NULL,
    PRIMARY KEY (channel_id, bucket)
);

-- Messages, KKV: partition (channel, bucket), clustered by id.
CREATE TABLE messages (
    channel_id bigint NOT NULL,
    bucket bigint NOT NULL,
    message_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (channel_id, bucket, message_id),
    FOREIGN KEY (channel_id, bucket) REFERENCES channel_buckets (channel_id, bucket)
);

CREATE TABLE reactions (
    channel_id bigint NOT NULL,
    message_id bigint NOT NULL,
    emoji text COLLATE "C" NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (channel_id, message_id, emoji, user_id)
);

CREATE TABLE pins (
    channel_id bigint NOT NULL,
    message_id bigint NOT NULL,
    pinned_at_ms bigint NOT NULL,
    PRIMARY KEY (channel_id, message_id)
);
CREATE INDEX pins_newest_first ON pins (channel_id, pinned_at_ms DESC, message_id);

CREATE TABLE private_channel_users (
    user_id bigint NOT NULL,
    channel_id bigint NOT NULL,
    PRIMARY KEY (user_id, channel_id)
);

CREATE TABLE dm_pairs (
    low_user_id bigint NOT NULL,
    high_user_id bigint NOT NULL,
    channel_id bigint NOT NULL,
    PRIMARY KEY (low_user_id, high_user_id)
);

CREATE TABLE read_states (
    user_id bigint NOT NULL,
    channel_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (user_id, channel_id)
);

CREATE TABLE emojis (
    guild_id bigint NOT NULL,
    id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (guild_id, id)
);

CREATE TABLE emoji_images (
    id bigint PRIMARY KEY,
    image bytea NOT NULL
);

CREATE TABLE audit_entries (
    guild_id bigint NOT NULL,
    id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (guild_id, id)
);

CREATE TABLE attachments (
    id bigint PRIMARY KEY,
    channel_id bigint NOT NULL,
    sha256 text COLLATE "C" NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX attachments_by_channel ON attachments (channel_id);

-- How many attachments refer to each blob.
CREATE TABLE blob_refs (
    sha256 text COLLATE "C" PRIMARY KEY,
    count bigint NOT NULL
);

CREATE TABLE meta (
    key text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- A message record with one reaction with `emoji` counted (delta 1) or
-- uncounted (delta -1), as `Message::count_reaction` does: counts in the
-- order the emoji were first used, an emoji gone at zero.
CREATE FUNCTION count_reaction(record jsonb, emoji text, delta int) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN counts IS NULL THEN record - 'reactions'
                ELSE jsonb_set(record, '{reactions}', counts) END
    FROM (SELECT jsonb_agg(r ORDER BY i) AS counts FROM (
        SELECT i, CASE WHEN e->>'emoji' = emoji
                       THEN jsonb_set(e, '{count}', to_jsonb(least((e->>'count')::bigint + delta, 4294967295)))
                       ELSE e END AS r
        FROM jsonb_array_elements(coalesce(record->'reactions', '[]')) WITH ORDINALITY AS a(e, i)
        UNION ALL
        SELECT 9223372036854775807, jsonb_build_object('emoji', emoji, 'count', 1)
        WHERE delta > 0
          AND NOT coalesce(record->'reactions', '[]') @> jsonb_build_array(jsonb_build_object('emoji', emoji))
    ) AS counted WHERE (r->>'count')::bigint > 0) AS c
$$;

-- A message record without its reaction counts for `emoji` (all if NULL).
CREATE FUNCTION clear_reactions(record jsonb, emoji text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN counts IS NULL THEN record - 'reactions'
                ELSE jsonb_set(record, '{reactions}', counts) END
    FROM (SELECT jsonb_agg(e ORDER BY i) AS counts
          FROM jsonb_array_elements(coalesce(record->'reactions', '[]')) WITH ORDINALITY AS a(e, i)
          WHERE emoji IS NOT NULL AND e->>'emoji' <> emoji) AS c
$$;

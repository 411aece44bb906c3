-- Finding a guild's members by the start of a name (op 8 with a query)
-- without reading the guild. The server lowercases each name
-- (concord_store::name_key) and writes it here: every username and global
-- name once per user (a user's names serve all their guilds), and each
-- member's nick beside the member. A prefix is one range of the "C"-ordered
-- index, whatever the database's collation.
CREATE TABLE user_names (
    name text COLLATE "C" NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (name, user_id)
);
CREATE INDEX user_names_by_user ON user_names (user_id);

ALTER TABLE members ADD COLUMN nick text COLLATE "C";
CREATE INDEX members_by_nick ON members (guild_id, nick) WHERE nick IS NOT NULL;

-- Records written before: lowercased here by lower(), which agrees with
-- the server for ASCII letters; a name with others is indexed as the
-- server lowercases it when the record is next written. Names over 256
-- bytes are not indexed, as the server does not index them.
INSERT INTO user_names (name, user_id)
    SELECT DISTINCT lower(n.name), u.id
    FROM users u,
        LATERAL (VALUES (u.record->>'username'), (u.record->>'global_name')) AS n(name)
    WHERE octet_length(lower(n.name)) <= 256
    ON CONFLICT DO NOTHING;
UPDATE members SET nick = lower(record->>'nick')
    WHERE octet_length(lower(record->>'nick')) <= 256;

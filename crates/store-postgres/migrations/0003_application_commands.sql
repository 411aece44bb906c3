-- Application commands: one row each, keyed by id, with the scope columns
-- (application, guild; 0 for global) a scope's list is read by. Writes to
-- a scope take a transaction-scoped advisory lock on it, so a
-- create-or-replace and a bulk overwrite see the scope as it is; a guild's
-- go with it (in `delete_guild`).
CREATE TABLE application_commands (
    id bigint PRIMARY KEY,
    application_id bigint NOT NULL,
    guild_id bigint NOT NULL,
    record jsonb NOT NULL
);

CREATE INDEX application_commands_by_scope
    ON application_commands (application_id, guild_id, id);
CREATE INDEX application_commands_by_guild
    ON application_commands (guild_id) WHERE guild_id <> 0;

-- Who may use an application's commands in a guild: per command, or for
-- all of them under the application's id.
CREATE TABLE application_command_permissions (
    guild_id bigint NOT NULL,
    id bigint NOT NULL,
    application_id bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (guild_id, id)
);

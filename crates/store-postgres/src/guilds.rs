//! Guilds and what they hold: roles, members, bans, invites, emoji and
//! the audit log.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{AuditEntry, Ban, Emoji, Guild, Invite, Member, Role};
use concord_store::{
    AuditLogStore, BanStore, EmojiStore, GuildStore, InviteStore, InviteUse, MemberStore, NewGuild,
    StoreResult, keys as text_keys, nick_key,
};

use crate::accounts::commit;
use crate::codec::{Json, backend, id, in_order, int, key, keys, limit};
use crate::{PgStore, nul};

#[async_trait]
impl GuildStore for PgStore {
    async fn create_guild(&self, new: &NewGuild) -> StoreResult<()> {
        let g = key(new.guild.id);
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO guilds (id, record) VALUES ($1, $2)")
            .bind(g)
            .bind(Json(&new.guild))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO roles (guild_id, id, record)
             SELECT $1, (r->>'id')::bigint, r FROM jsonb_array_elements($2) AS r",
        )
        .bind(g)
        .bind(Json(&new.roles))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let threads: Vec<bool> = new.channels.iter().map(|c| c.is_thread()).collect();
        sqlx::query(
            "INSERT INTO channels (id, guild_id, is_thread, record)
             SELECT (c->>'id')::bigint, $1, t, c FROM unnest($2::jsonb[], $3::bool[]) AS x(c, t)",
        )
        .bind(g)
        .bind(new.channels.iter().map(Json).collect::<Vec<_>>())
        .bind(threads)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        put_member(&mut tx, &new.owner).await?;
        commit(tx).await
    }

    async fn guild(&self, id: Snowflake) -> StoreResult<Option<Guild>> {
        self.record::<Guild>("SELECT record FROM guilds WHERE id = $1", &[key(id)])
            .await
    }

    async fn guilds_after(&self, after: Snowflake, count: usize) -> StoreResult<Vec<Guild>> {
        let found: Vec<Json<Guild>> =
            sqlx::query_scalar("SELECT record FROM guilds WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(key(after))
                .bind(limit(count))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(|g| g.0).collect())
    }

    async fn update_guild(&self, guild: &Guild) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO guilds (id, record) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(guild.id))
        .bind(Json(guild))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_guild(&self, guild_id: Snowflake) -> StoreResult<()> {
        let g = key(guild_id);
        let mut tx = self.begin().await?;
        // Each statement sees what committed before it ran: followers added
        // while the channels' rows were locked are found by the next one.
        for statement in [
            "DELETE FROM guilds WHERE id = $1",
            "DELETE FROM roles WHERE guild_id = $1",
            "DELETE FROM members WHERE guild_id = $1",
            "DELETE FROM guild_member_counts WHERE guild_id = $1",
            "DELETE FROM bans WHERE guild_id = $1",
            "DELETE FROM audit_entries WHERE guild_id = $1",
            "WITH gone AS (DELETE FROM emojis WHERE guild_id = $1 RETURNING id)
             DELETE FROM emoji_images WHERE id IN (SELECT id FROM gone)",
            "DELETE FROM invites WHERE guild_id = $1",
            "DELETE FROM webhooks WHERE guild_id = $1",
            "DELETE FROM application_commands WHERE guild_id = $1",
            "DELETE FROM application_command_permissions WHERE guild_id = $1",
        ] {
            sqlx::query(statement)
                .bind(g)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let channels: Vec<i64> =
            sqlx::query_scalar("DELETE FROM channels WHERE guild_id = $1 RETURNING id")
                .bind(g)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        crate::purge::mark(&mut tx, &channels).await?;
        // Gone at once for every reader; the messages are left marked.
        commit(tx).await
    }

    async fn roles(&self, guild_id: Snowflake) -> StoreResult<Vec<Role>> {
        let found: Vec<Json<Role>> =
            sqlx::query_scalar("SELECT record FROM roles WHERE guild_id = $1 ORDER BY id")
                .bind(key(guild_id))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(|r| r.0).collect())
    }

    async fn put_role(&self, role: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (guild_id, id, record) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(role.guild_id))
        .bind(key(role.id))
        .bind(Json(role))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_role(&self, guild_id: Snowflake, role_id: Snowflake) -> StoreResult<()> {
        sqlx::query("DELETE FROM roles WHERE guild_id = $1 AND id = $2")
            .bind(key(guild_id))
            .bind(key(role_id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Creates or replaces a member (the count follows by trigger), with its
/// nick as the member-name index keeps it.
async fn put_member(conn: &mut sqlx::PgConnection, member: &Member) -> StoreResult<()> {
    let nick = match nick_key(member) {
        Some(nick) => Some(nul::text(text_keys::text(&nick)?).into_owned()),
        None => None,
    };
    sqlx::query(
        "INSERT INTO members (guild_id, user_id, record, nick) VALUES ($1, $2, $3, $4)
         ON CONFLICT (guild_id, user_id) DO UPDATE SET record = EXCLUDED.record, nick = EXCLUDED.nick",
    )
    .bind(key(member.guild_id))
    .bind(key(member.user_id))
    .bind(Json(member))
    .bind(nick)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl MemberStore for PgStore {
    async fn member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Member>> {
        self.record::<Member>(
            "SELECT record FROM members WHERE guild_id = $1 AND user_id = $2",
            &[key(guild_id), key(user_id)],
        )
        .await
    }

    async fn members(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        count: usize,
    ) -> StoreResult<Vec<Member>> {
        self.records::<Member>(
            "SELECT record FROM members WHERE guild_id = $1 AND user_id > $2
             ORDER BY user_id LIMIT $3",
            &[key(guild_id), key(after), limit(count)],
        )
        .await
    }

    async fn members_by_ids(
        &self,
        guild_id: Snowflake,
        user_ids: &[Snowflake],
    ) -> StoreResult<Vec<Member>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let found: Vec<(i64, Json<Member>)> = sqlx::query_as(
            "SELECT user_id, record FROM members WHERE guild_id = $1 AND user_id = ANY($2)",
        )
        .bind(key(guild_id))
        .bind(keys(user_ids))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(in_order(user_ids, found).into_iter().map(|m| m.0).collect())
    }

    async fn members_by_name(
        &self,
        guild_id: Snowflake,
        prefix: &str,
        count: usize,
    ) -> StoreResult<Vec<Member>> {
        let prefix = nul::text(text_keys::text(prefix)?).into_owned();
        // Each part is a range of its index, the members then found by
        // their key. The range comes from the pattern's fixed start, which
        // the planner sees only in a plan made for this pattern: so the
        // statement is not kept prepared (a generic plan would read the
        // whole index). `LIKE` takes the prefix literally once escaped.
        let pattern = format!("{}%", escape_like(&prefix));
        let found: Vec<Json<Member>> = sqlx::query_scalar(
            "SELECT m.record FROM (
                 SELECT user_id FROM user_names WHERE name LIKE $2
                 UNION
                 SELECT user_id FROM members WHERE guild_id = $1 AND nick LIKE $2
             ) AS named
             JOIN members m ON m.guild_id = $1 AND m.user_id = named.user_id
             ORDER BY m.user_id LIMIT $3",
        )
        .bind(key(guild_id))
        .bind(pattern)
        .bind(limit(count))
        .persistent(false)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.into_iter().map(|m| m.0).collect())
    }

    async fn put_member(&self, member: &Member) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        put_member(&mut conn, member).await
    }

    async fn delete_member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()> {
        sqlx::query("DELETE FROM members WHERE guild_id = $1 AND user_id = $2")
            .bind(key(guild_id))
            .bind(key(user_id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn user_guild_ids(&self, user_id: Snowflake) -> StoreResult<Vec<Snowflake>> {
        let found: Vec<i64> =
            sqlx::query_scalar("SELECT guild_id FROM members WHERE user_id = $1 ORDER BY guild_id")
                .bind(key(user_id))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(id).collect())
    }

    async fn member_count(&self, guild_id: Snowflake) -> StoreResult<u64> {
        let count: Option<i64> =
            sqlx::query_scalar("SELECT count FROM guild_member_counts WHERE guild_id = $1")
                .bind(key(guild_id))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(count.map_or(0, |c| u64::try_from(c).unwrap_or_default()))
    }
}

#[async_trait]
impl InviteStore for PgStore {
    async fn invite(&self, code: &str) -> StoreResult<Option<Invite>> {
        let found: Option<Json<Invite>> =
            sqlx::query_scalar("SELECT record FROM invites WHERE code = $1")
                .bind(nul::text(text_keys::text(code)?))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.map(|i| i.0))
    }

    async fn put_invite(&self, invite: &Invite) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO invites (code, guild_id, record) VALUES ($1, $2, $3)
             ON CONFLICT (code) DO UPDATE SET guild_id = EXCLUDED.guild_id, record = EXCLUDED.record",
        )
        .bind(nul::text(text_keys::text(&invite.code)?))
        .bind(key(invite.guild_id))
        .bind(Json(invite))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_invite(&self, code: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM invites WHERE code = $1")
            .bind(nul::text(text_keys::text(code)?))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn use_invite(&self, code: &str, now_ms: u64) -> StoreResult<InviteUse> {
        // `InviteUse::apply` as one statement: the row lock orders
        // concurrent uses, and each one's condition is checked again on
        // the row as the use before it left it.
        let (used, known): (Option<Json<Invite>>, bool) = sqlx::query_as(
            "WITH used AS (
                UPDATE invites SET record = jsonb_set(record, '{uses}',
                    to_jsonb(least((record->>'uses')::bigint + 1, 4294967295)))
                WHERE code = $1
                  AND NOT ((record->>'max_age')::bigint > 0
                           AND $2 >= (record->>'created_ms')::bigint + (record->>'max_age')::bigint * 1000)
                  AND NOT ((record->>'max_uses')::bigint > 0
                           AND (record->>'uses')::bigint >= (record->>'max_uses')::bigint)
                RETURNING record)
             SELECT (SELECT record FROM used), EXISTS (SELECT 1 FROM invites WHERE code = $1)",
        )
        .bind(nul::text(text_keys::text(code)?))
        .bind(int(now_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(match used {
            Some(invite) => InviteUse::Admitted(invite.0),
            None if known => InviteUse::Exhausted,
            None => InviteUse::Unknown,
        })
    }

    async fn guild_invites(&self, guild_id: Snowflake) -> StoreResult<Vec<Invite>> {
        let found: Vec<Json<Invite>> =
            sqlx::query_scalar("SELECT record FROM invites WHERE guild_id = $1 ORDER BY code")
                .bind(key(guild_id))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(|i| i.0).collect())
    }
}

#[async_trait]
impl BanStore for PgStore {
    async fn ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Ban>> {
        self.record::<Ban>(
            "SELECT record FROM bans WHERE guild_id = $1 AND user_id = $2",
            &[key(guild_id), key(user_id)],
        )
        .await
    }

    async fn bans(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        count: usize,
    ) -> StoreResult<Vec<Ban>> {
        self.records::<Ban>(
            "SELECT record FROM bans WHERE guild_id = $1 AND user_id > $2
             ORDER BY user_id LIMIT $3",
            &[key(guild_id), key(after), limit(count)],
        )
        .await
    }

    async fn put_ban(&self, ban: &Ban) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO bans (guild_id, user_id, record) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, user_id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(ban.guild_id))
        .bind(key(ban.user_id))
        .bind(Json(ban))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()> {
        sqlx::query("DELETE FROM bans WHERE guild_id = $1 AND user_id = $2")
            .bind(key(guild_id))
            .bind(key(user_id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl AuditLogStore for PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_entries (guild_id, id, record) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(entry.guild_id))
        .bind(key(entry.id))
        .bind(Json(entry))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn audit_entries(
        &self,
        guild_id: Snowflake,
        before: Option<Snowflake>,
        count: usize,
    ) -> StoreResult<Vec<AuditEntry>> {
        let found: Vec<Json<AuditEntry>> = sqlx::query_scalar(
            "SELECT record FROM audit_entries WHERE guild_id = $1 AND id < $2
             ORDER BY id DESC LIMIT $3",
        )
        .bind(key(guild_id))
        .bind(before.map_or(i64::MAX, key))
        .bind(limit(count))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.into_iter().map(|e| e.0).collect())
    }
}

#[async_trait]
impl EmojiStore for PgStore {
    async fn emojis(&self, guild_id: Snowflake) -> StoreResult<Vec<Emoji>> {
        let found: Vec<Json<Emoji>> =
            sqlx::query_scalar("SELECT record FROM emojis WHERE guild_id = $1 ORDER BY id")
                .bind(key(guild_id))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(|e| e.0).collect())
    }

    async fn put_emoji(&self, emoji: &Emoji, image: Option<&[u8]>) -> StoreResult<()> {
        sqlx::query(
            "WITH image AS (
                INSERT INTO emoji_images (id, image) SELECT $2, $4 WHERE $4 IS NOT NULL
                ON CONFLICT (id) DO UPDATE SET image = EXCLUDED.image)
             INSERT INTO emojis (guild_id, id, record) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(emoji.guild_id))
        .bind(key(emoji.id))
        .bind(Json(emoji))
        .bind(image)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_emoji(&self, guild_id: Snowflake, id: Snowflake) -> StoreResult<()> {
        sqlx::query(
            "WITH image AS (DELETE FROM emoji_images WHERE id = $2)
             DELETE FROM emojis WHERE guild_id = $1 AND id = $2",
        )
        .bind(key(guild_id))
        .bind(key(id))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn emoji_image(&self, id: Snowflake) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT image FROM emoji_images WHERE id = $1")
            .bind(key(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }
}

/// `text` as a `LIKE` pattern that matches it alone (the default escape
/// character is the backslash).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

//! Channels (threads among them), thread followers, private channels and
//! read states.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{Channel, ReadState, ThreadMember, channel_type};
use concord_store::{
    ChannelStore, PrivateChannelStore, ReadStateStore, StoreResult, ThreadMemberStore,
    ThreadUpdate, dm_pair,
};

use crate::PgStore;
use crate::accounts::commit;
use crate::codec::{Json, backend, id, key, keys, limit};

/// Channels listed by a guild column and kind, in id order.
const IN_GUILD: &str =
    "SELECT record FROM channels WHERE guild_id = $1 AND is_thread = $2 ORDER BY id";

/// Creates or replaces a channel with its key columns (`$1` id, `$2`
/// guild, `$3` whether a thread, `$4` record).
const PUT_CHANNEL: &str =
    "INSERT INTO channels (id, guild_id, is_thread, record) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET guild_id = EXCLUDED.guild_id,
        is_thread = EXCLUDED.is_thread, record = EXCLUDED.record";

impl PgStore {
    async fn channels_where(
        &self,
        guild_id: Snowflake,
        threads: bool,
    ) -> StoreResult<Vec<Channel>> {
        let found: Vec<Json<Channel>> = sqlx::query_scalar(IN_GUILD)
            .bind(key(guild_id))
            .bind(threads)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(found.into_iter().map(|c| c.0).collect())
    }
}

fn put_channel(
    channel: &Channel,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(PUT_CHANNEL)
        .bind(key(channel.id))
        .bind(channel.guild_id.map(key))
        .bind(channel.is_thread())
        .bind(Json(channel))
}

#[async_trait]
impl ChannelStore for PgStore {
    async fn channel(&self, id: Snowflake) -> StoreResult<Option<Channel>> {
        self.record::<Channel>("SELECT record FROM channels WHERE id = $1", &[key(id)])
            .await
    }

    async fn guild_channels(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.channels_where(guild_id, false).await
    }

    async fn guild_threads(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.channels_where(guild_id, true).await
    }

    async fn channels_after(&self, after: Snowflake, count: usize) -> StoreResult<Vec<Channel>> {
        let found: Vec<Json<Channel>> =
            sqlx::query_scalar("SELECT record FROM channels WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(key(after))
                .bind(limit(count))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(|c| c.0).collect())
    }

    async fn put_channel(&self, channel: &Channel) -> StoreResult<()> {
        put_channel(channel)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_channel(&self, channel: &Channel) -> StoreResult<bool> {
        // A thread started again from its message waits until the old
        // thread's messages are purged.
        let created = sqlx::query(
            "INSERT INTO channels (id, guild_id, is_thread, record)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM purges WHERE channel_id = $1)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(key(channel.id))
        .bind(channel.guild_id.map(key))
        .bind(channel.is_thread())
        .bind(Json(channel))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(created.rows_affected() == 1)
    }

    async fn update_channel(&self, channel: &Channel) -> StoreResult<bool> {
        // Only an existing row is updated: after a deletion there is none.
        let updated = sqlx::query(
            "UPDATE channels SET guild_id = $2, is_thread = $3, record = $4 WHERE id = $1",
        )
        .bind(key(channel.id))
        .bind(channel.guild_id.map(key))
        .bind(channel.is_thread())
        .bind(Json(channel))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn delete_channel(&self, id: Snowflake) -> StoreResult<()> {
        let channel = key(id);
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(channel)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM webhooks WHERE channel_id = $1")
            .bind(channel)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // A statement of its own, after the row's lock was had: it sees
        // the followers an add holding that lock committed.
        crate::purge::mark(&mut tx, &[channel]).await?;
        commit(tx).await
    }

    /// A step here is one marked channel, itself removed in statements of
    /// a few thousand rows each.
    async fn purge_deleted(&self) -> StoreResult<bool> {
        crate::purge::purge_one(&self.pool).await
    }

    async fn update_thread(
        &self,
        thread_id: Snowflake,
        update: &ThreadUpdate,
    ) -> StoreResult<Option<Channel>> {
        crate::threads::update_thread(&self.pool, key(thread_id), update).await
    }
}

#[async_trait]
impl ThreadMemberStore for PgStore {
    async fn thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<ThreadMember>> {
        let found: Option<Json<ThreadMember>> = sqlx::query_scalar(
            "SELECT record FROM thread_members WHERE thread_id = $1 AND user_id = $2",
        )
        .bind(key(thread_id))
        .bind(key(user_id))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.map(|m| m.0))
    }

    async fn thread_members(
        &self,
        thread_id: Snowflake,
        after: Snowflake,
        count: usize,
    ) -> StoreResult<Vec<ThreadMember>> {
        self.records::<ThreadMember>(
            "SELECT record FROM thread_members WHERE thread_id = $1 AND user_id > $2
             ORDER BY user_id LIMIT $3",
            &[key(thread_id), key(after), limit(count)],
        )
        .await
    }

    async fn add_thread_member(&self, member: &ThreadMember) -> StoreResult<Option<Channel>> {
        // The thread's row is locked first: a deletion either comes after
        // (and removes the follower with the thread) or before (and there
        // is no thread to follow).
        let updated: Option<Json<Channel>> = sqlx::query_scalar(
            "WITH thread AS (
                SELECT id FROM channels WHERE id = $1 AND is_thread FOR UPDATE),
             joined AS (
                INSERT INTO thread_members (thread_id, user_id, record)
                SELECT id, $2, $3 FROM thread
                ON CONFLICT (thread_id, user_id) DO NOTHING RETURNING thread_id)
             UPDATE channels SET record = jsonb_set(record, '{thread,member_count}',
                to_jsonb(least(coalesce((record->'thread'->>'member_count')::bigint, 0) + 1, 4294967295)))
             WHERE id IN (SELECT thread_id FROM joined)
               AND jsonb_typeof(record->'thread') = 'object'
             RETURNING record",
        )
        .bind(key(member.thread_id))
        .bind(key(member.user_id))
        .bind(Json(member))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.map(|c| c.0))
    }

    async fn remove_thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<Channel>> {
        let updated: Option<Json<Channel>> = sqlx::query_scalar(
            "WITH left_thread AS (
                DELETE FROM thread_members WHERE thread_id = $1 AND user_id = $2
                RETURNING thread_id)
             UPDATE channels SET record = CASE WHEN jsonb_typeof(record->'thread') = 'object'
                THEN jsonb_set(record, '{thread,member_count}',
                    to_jsonb(greatest(coalesce((record->'thread'->>'member_count')::bigint, 0) - 1, 0)))
                ELSE record END
             WHERE id IN (SELECT thread_id FROM left_thread)
             RETURNING record",
        )
        .bind(key(thread_id))
        .bind(key(user_id))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.map(|c| c.0))
    }
}

#[async_trait]
impl PrivateChannelStore for PgStore {
    async fn create_private_channel(&self, channel: &Channel) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        put_channel(channel)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO private_channel_users (user_id, channel_id)
             SELECT unnest($2::bigint[]), $1 ON CONFLICT DO NOTHING",
        )
        .bind(key(channel.id))
        .bind(keys(&channel.recipients))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let ([a, b], channel_type::DM) = (&channel.recipients[..], channel.kind) {
            let (low, high) = dm_pair(*a, *b);
            sqlx::query(
                "INSERT INTO dm_pairs (low_user_id, high_user_id, channel_id) VALUES ($1, $2, $3)
                 ON CONFLICT (low_user_id, high_user_id) DO UPDATE SET channel_id = EXCLUDED.channel_id",
            )
            .bind(key(low))
            .bind(key(high))
            .bind(key(channel.id))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        commit(tx).await
    }

    async fn update_private_channel(
        &self,
        channel: &Channel,
        removed: &[Snowflake],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        put_channel(channel)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "DELETE FROM private_channel_users WHERE channel_id = $1 AND user_id = ANY($2)",
        )
        .bind(key(channel.id))
        .bind(keys(removed))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO private_channel_users (user_id, channel_id)
             SELECT unnest($2::bigint[]), $1 ON CONFLICT DO NOTHING",
        )
        .bind(key(channel.id))
        .bind(keys(&channel.recipients))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        commit(tx).await
    }

    async fn dm_between(&self, a: Snowflake, b: Snowflake) -> StoreResult<Option<Snowflake>> {
        let (low, high) = dm_pair(a, b);
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT channel_id FROM dm_pairs WHERE low_user_id = $1 AND high_user_id = $2",
        )
        .bind(key(low))
        .bind(key(high))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.map(id))
    }

    async fn private_channels(&self, user_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.records::<Channel>(
            "SELECT c.record FROM private_channel_users p JOIN channels c ON c.id = p.channel_id
             WHERE p.user_id = $1 ORDER BY p.channel_id",
            &[key(user_id)],
        )
        .await
    }
}

#[async_trait]
impl ReadStateStore for PgStore {
    async fn put_read_state(&self, state: &ReadState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO read_states (user_id, channel_id, record) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, channel_id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(state.user_id))
        .bind(key(state.channel_id))
        .bind(Json(state))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn read_states(&self, user_id: Snowflake) -> StoreResult<Vec<ReadState>> {
        self.records::<ReadState>(
            "SELECT record FROM read_states WHERE user_id = $1 ORDER BY channel_id",
            &[key(user_id)],
        )
        .await
    }
}

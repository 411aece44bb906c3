//! Web Push subscriptions (a row per user and endpoint; a new one holds the
//! user's advisory lock for its transaction, so concurrent subscribers
//! never exceed the bound), the push queue (a row per push, by due time)
//! and notification settings (a row per user and guild, 0 for DMs).

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{PushSubscription, QueuedPush, UserGuildSettings};
use concord_store::{NotificationStore, StoreResult, keys};

use crate::PgStore;
use crate::accounts::commit;
use crate::codec::{Json, backend, int, key};

/// The advisory lock class of a user's subscriptions (the two-key form,
/// apart from the migrator's one-key locks and the command scopes' 3).
const SUBSCRIPTIONS_LOCK: i32 = 5;

#[async_trait]
impl NotificationStore for PgStore {
    async fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
        max: usize,
    ) -> StoreResult<bool> {
        let endpoint = crate::nul::text(keys::text(&subscription.endpoint)?).into_owned();
        let user = key(subscription.user_id);
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2))")
            .bind(SUBSCRIPTIONS_LOCK)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let written = sqlx::query(
            "INSERT INTO push_subscriptions (user_id, endpoint, record)
             SELECT $1, $2, $3
             WHERE EXISTS (SELECT 1 FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2)
                OR (SELECT count(*) FROM push_subscriptions WHERE user_id = $1) < $4
             ON CONFLICT (user_id, endpoint) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(user)
        .bind(&endpoint)
        .bind(Json(subscription))
        .bind(int(max as u64))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        commit(tx).await?;
        Ok(written.rows_affected() > 0)
    }

    async fn delete_push_subscription(
        &self,
        user_id: Snowflake,
        endpoint: &str,
    ) -> StoreResult<bool> {
        let removed =
            sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2")
                .bind(key(user_id))
                .bind(crate::nul::text(endpoint).as_ref())
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(removed.rows_affected() > 0)
    }

    async fn push_subscriptions(&self, user_id: Snowflake) -> StoreResult<Vec<PushSubscription>> {
        let sql = "SELECT record FROM push_subscriptions WHERE user_id = $1 ORDER BY endpoint COLLATE \"C\"";
        self.records(sql, &[key(user_id)]).await
    }

    async fn queue_pushes(&self, pushes: &[QueuedPush]) -> StoreResult<()> {
        for push in pushes {
            keys::text(&push.endpoint)?;
        }
        let ids: Vec<i64> = pushes.iter().map(|p| key(p.id)).collect();
        let due: Vec<i64> = pushes.iter().map(|p| int(p.due_ms)).collect();
        let records: Vec<Json<&QueuedPush>> = pushes.iter().map(Json).collect();
        sqlx::query(
            "INSERT INTO push_queue (id, due_ms, record)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::jsonb[])
             ON CONFLICT (id) DO UPDATE SET due_ms = EXCLUDED.due_ms, record = EXCLUDED.record",
        )
        .bind(&ids)
        .bind(&due)
        .bind(&records)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn pushes_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<QueuedPush>> {
        let sql = "SELECT record FROM push_queue WHERE due_ms <= $1 ORDER BY due_ms, id LIMIT $2";
        self.records(sql, &[int(now_ms), int(limit as u64)]).await
    }

    async fn unqueue_push(&self, id: Snowflake) -> StoreResult<()> {
        sqlx::query("DELETE FROM push_queue WHERE id = $1")
            .bind(key(id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn user_guild_settings(&self, user_id: Snowflake) -> StoreResult<Vec<UserGuildSettings>> {
        let sql = "SELECT record FROM user_guild_settings WHERE user_id = $1 ORDER BY guild_id";
        self.records(sql, &[key(user_id)]).await
    }

    async fn put_user_guild_settings(&self, settings: &UserGuildSettings) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_guild_settings (user_id, guild_id, record) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, guild_id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(settings.user_id))
        .bind(settings.guild_id.map_or(0, key))
        .bind(Json(settings))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

//! Incoming webhooks: one row each, keyed by id, with the channel and guild
//! columns their lists are read by.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::Webhook;
use concord_store::{StoreResult, WebhookStore};

use crate::PgStore;
use crate::codec::{Json, backend, key};

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhooks (id, guild_id, channel_id, record) VALUES ($1, $2, $3, $4)",
        )
        .bind(key(webhook.id))
        .bind(key(webhook.guild_id))
        .bind(key(webhook.channel_id))
        .bind(Json(webhook))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        self.record("SELECT record FROM webhooks WHERE id = $1", &[key(id)])
            .await
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE webhooks SET guild_id = $2, channel_id = $3, record = $4 WHERE id = $1",
        )
        .bind(key(webhook.id))
        .bind(key(webhook.guild_id))
        .bind(key(webhook.channel_id))
        .bind(Json(webhook))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.rows_affected() > 0)
    }

    async fn delete_webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        let removed: Option<Json<Webhook>> =
            sqlx::query_scalar("DELETE FROM webhooks WHERE id = $1 RETURNING record")
                .bind(key(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(removed.map(|w| w.0))
    }

    async fn channel_webhooks(&self, channel_id: Snowflake) -> StoreResult<Vec<Webhook>> {
        let sql = "SELECT record FROM webhooks WHERE channel_id = $1 ORDER BY id";
        self.records(sql, &[key(channel_id)]).await
    }

    async fn guild_webhooks(&self, guild_id: Snowflake) -> StoreResult<Vec<Webhook>> {
        let sql = "SELECT record FROM webhooks WHERE guild_id = $1 ORDER BY id";
        self.records(sql, &[key(guild_id)]).await
    }
}

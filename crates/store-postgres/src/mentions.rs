//! The mentions inbox index: a row per message and target, keyed so one
//! target's rows are an index range newest first. A page reads at most
//! `limit` rows per target (a lateral subquery each), then merges them.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_store::{Mention, MentionStore, MentionTarget, Mentioned, StoreResult};

use crate::PgStore;
use crate::codec::{backend, id, key, limit};

/// The entries as column arrays, for one `unnest` statement.
fn columns(mentions: &[Mention]) -> (Vec<i16>, Vec<i64>, Vec<i64>, Vec<i64>) {
    let kinds = mentions
        .iter()
        .map(|m| i16::from(m.target.kind()))
        .collect();
    let targets = mentions.iter().map(|m| key(m.target.id())).collect();
    let messages = mentions.iter().map(|m| key(m.message_id)).collect();
    let channels = mentions.iter().map(|m| key(m.channel_id)).collect();
    (kinds, targets, messages, channels)
}

#[async_trait]
impl MentionStore for PgStore {
    async fn put_mentions(&self, mentions: &[Mention]) -> StoreResult<()> {
        if mentions.is_empty() {
            return Ok(());
        }
        let (kinds, targets, messages, channels) = columns(mentions);
        sqlx::query(
            "INSERT INTO mentions (target_kind, target_id, message_id, channel_id)
             SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bigint[], $4::bigint[])
             ON CONFLICT DO NOTHING",
        )
        .bind(kinds)
        .bind(targets)
        .bind(messages)
        .bind(channels)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_mentions(&self, mentions: &[Mention]) -> StoreResult<()> {
        if mentions.is_empty() {
            return Ok(());
        }
        let (kinds, targets, messages, _) = columns(mentions);
        sqlx::query(
            "DELETE FROM mentions m
             USING unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS d(kind, target, message)
             WHERE m.target_kind = d.kind AND m.target_id = d.target AND m.message_id = d.message",
        )
        .bind(kinds)
        .bind(targets)
        .bind(messages)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn mentions(
        &self,
        reader: Snowflake,
        targets: &[MentionTarget],
        before: Option<Snowflake>,
        count: usize,
    ) -> StoreResult<Vec<Mentioned>> {
        if targets.is_empty() || count == 0 {
            return Ok(Vec::new());
        }
        let kinds: Vec<i16> = targets.iter().map(|t| i16::from(t.kind())).collect();
        let ids: Vec<i64> = targets.iter().map(|t| key(t.id())).collect();
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT DISTINCT m.message_id, m.channel_id
             FROM unnest($1::smallint[], $2::bigint[]) AS t(kind, id)
             CROSS JOIN LATERAL (
                 SELECT message_id, channel_id FROM mentions
                 WHERE target_kind = t.kind AND target_id = t.id AND message_id < $3
                   AND NOT EXISTS (SELECT 1 FROM mention_dismissals d
                                   WHERE d.user_id = $4 AND d.message_id = mentions.message_id)
                 ORDER BY message_id DESC LIMIT $5
             ) m
             ORDER BY m.message_id DESC LIMIT $5",
        )
        .bind(kinds)
        .bind(ids)
        .bind(before.map_or(i64::MAX, key))
        .bind(key(reader))
        .bind(limit(count))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(message, channel)| Mentioned {
                message_id: id(message),
                channel_id: id(channel),
            })
            .collect())
    }

    async fn dismiss_mention(&self, reader: Snowflake, message_id: Snowflake) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mention_dismissals (user_id, message_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(key(reader))
        .bind(key(message_id))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

//! Removing a deleted channel's messages, reactions, pins, poll votes and attachments
//! a step at a time, each step a short statement of its own: other
//! writers never wait for a whole history, and the WAL sees no giant
//! transaction. The channel's `purges` mark keeps its id from being
//! created again until the last step.

use concord_store::StoreResult;
use sqlx::{PgConnection, PgPool};

use crate::codec::{backend, is_foreign_key_violation};

/// Rows one step removes from one table.
const STEP: i64 = 2000;

/// One step in each table holding a channel's records, by physical row id
/// so that any table is stepped through the same way.
const STEPS: &[&str] = &[
    "DELETE FROM messages WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM messages WHERE channel_id = $1 LIMIT $2))",
    "DELETE FROM reactions WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM reactions WHERE channel_id = $1 LIMIT $2))",
    "DELETE FROM pins WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM pins WHERE channel_id = $1 LIMIT $2))",
    "DELETE FROM poll_votes WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM poll_votes WHERE channel_id = $1 LIMIT $2))",
    "DELETE FROM open_polls WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM open_polls WHERE channel_id = $1 LIMIT $2))",
];

/// In the transaction that deletes the channels: their followers go, and
/// each is marked for purging.
pub(crate) async fn mark(conn: &mut PgConnection, channels: &[i64]) -> StoreResult<()> {
    sqlx::query("DELETE FROM thread_members WHERE thread_id = ANY($1)")
        .bind(channels)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    sqlx::query(
        "INSERT INTO purges (channel_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
    )
    .bind(channels)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Purges one marked channel; `false` if none is marked. Nodes purging
/// together may take the same one: every statement is idempotent.
pub(crate) async fn purge_one(pool: &PgPool) -> StoreResult<bool> {
    let marked: Option<i64> = sqlx::query_scalar("SELECT channel_id FROM purges LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    match marked {
        Some(channel) => purge(pool, channel).await.map(|()| true),
        None => Ok(false),
    }
}

/// Removes every record of a marked channel, then its partitions and mark.
async fn purge(pool: &PgPool, channel: i64) -> StoreResult<()> {
    loop {
        for &step in STEPS {
            loop {
                let done = sqlx::query(step)
                    .bind(channel)
                    .bind(STEP)
                    .execute(pool)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() < STEP.unsigned_abs() {
                    break;
                }
            }
        }
        crate::messages::release_channel_attachments(pool, channel, STEP).await?;
        // A message written meanwhile (by a request that read the channel
        // before it went) holds its partition: purge again.
        match finish(pool, channel).await {
            Ok(()) => return Ok(()),
            Err(e) if is_foreign_key_violation(&e) => continue,
            Err(e) => return Err(backend(e)),
        }
    }
}

async fn finish(pool: &PgPool, channel: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM channel_buckets WHERE channel_id = $1")
        .bind(channel)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM purges WHERE channel_id = $1")
        .bind(channel)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

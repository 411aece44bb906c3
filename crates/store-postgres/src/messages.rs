//! Messages and what hangs on them: reactions, pins, attachments.
//!
//! A page of history is one query: the channel's live partitions
//! (`channel_buckets`), newest first, each joined to an index range scan
//! of its messages, stopping once the page is full. Partitions without
//! messages have no row there, so deleted history costs nothing to skip.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{Attachment, Message, MessagePatch};
use concord_store::{
    AttachmentStore, MessageStore, PinStore, ReactionStore, StoreResult, bucket_of,
};
use sqlx::PgPool;

use crate::codec::{Json, backend, id, int, is_foreign_key_violation, key, keys, limit};
use crate::{PgStore, nul};

/// Rows: (bucket, message id, record) of the partitions at or below
/// bucket `$2`, newest first; a partition with no message below `$3`
/// shows as one row without a message. At most `$4` rows.
const NEWEST_FIRST: &str = "SELECT b.bucket, m.message_id, m.record
    FROM channel_buckets b
    LEFT JOIN LATERAL (
        SELECT message_id, record FROM messages
        WHERE channel_id = b.channel_id AND bucket = b.bucket AND message_id < $3
        ORDER BY message_id DESC LIMIT $4) m ON true
    WHERE b.channel_id = $1 AND b.bucket <= $2
    ORDER BY b.bucket DESC, m.message_id DESC
    LIMIT $4";

/// As [`NEWEST_FIRST`], oldest first from bucket `$2` and above id `$3`.
const OLDEST_FIRST: &str = "SELECT b.bucket, m.message_id, m.record
    FROM channel_buckets b
    LEFT JOIN LATERAL (
        SELECT message_id, record FROM messages
        WHERE channel_id = b.channel_id AND bucket = b.bucket AND message_id > $3
        ORDER BY message_id LIMIT $4) m ON true
    WHERE b.channel_id = $1 AND b.bucket >= $2
    ORDER BY b.bucket, m.message_id
    LIMIT $4";

/// Writes message `$3` (record `$4`) into partition `$2` of channel `$1`,
/// listing the partition if it is not yet: the message's foreign key then
/// holds the partition's row until the write commits.
pub(crate) const CREATE_MESSAGE: &str = "WITH partition AS (
        INSERT INTO channel_buckets (channel_id, bucket) VALUES ($1, $2)
        ON CONFLICT DO NOTHING)
     INSERT INTO messages (channel_id, bucket, message_id, record) VALUES ($1, $2, $3, $4)
     ON CONFLICT (channel_id, bucket, message_id) DO UPDATE SET record = EXCLUDED.record";

/// As [`CREATE_MESSAGE`], for a message with an open poll: the poll is
/// listed to end at `$5` in the same statement.
const CREATE_POLL_MESSAGE: &str = "WITH partition AS (
        INSERT INTO channel_buckets (channel_id, bucket) VALUES ($1, $2)
        ON CONFLICT DO NOTHING),
     listed AS (
        INSERT INTO open_polls (channel_id, message_id, expiry_ms) VALUES ($1, $3, $5)
        ON CONFLICT DO NOTHING)
     INSERT INTO messages (channel_id, bucket, message_id, record) VALUES ($1, $2, $3, $4)
     ON CONFLICT (channel_id, bucket, message_id) DO UPDATE SET record = EXCLUDED.record";

/// Where a page walk stands: partitions from `bucket` on, ids past `id`.
struct Cursor {
    newest_first: bool,
    bucket: i64,
    id: i64,
}

impl PgStore {
    pub(crate) fn bucket(&self, id: Snowflake) -> i64 {
        int(bucket_of(id, self.bucket_ms))
    }

    /// Up to `count` messages from the cursor on. One query fills the page
    /// unless partitions without a message on the way took rows of it
    /// (the partition of the cursor, or one a deletion has not yet
    /// dropped): then the walk goes on past them.
    async fn walk(&self, channel: i64, mut at: Cursor, count: usize) -> StoreResult<Vec<Message>> {
        let sql = if at.newest_first {
            NEWEST_FIRST
        } else {
            OLDEST_FIRST
        };
        let mut page = Vec::new();
        while page.len() < count {
            let want = count - page.len();
            let rows: Vec<(i64, Option<i64>, Option<Json<Message>>)> = sqlx::query_as(sql)
                .bind(channel)
                .bind(at.bucket)
                .bind(at.id)
                .bind(limit(want))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            let full = rows.len() == want;
            let mut last = None;
            for (bucket, id, record) in rows {
                if last.is_none_or(|(b, _)| b != bucket) {
                    self.visited(1);
                }
                last = Some((bucket, id.is_some()));
                if let (Some(id), Some(record)) = (id, record) {
                    at.id = id;
                    page.push(record.0);
                }
            }
            let Some((bucket, held_messages)) = last.filter(|_| full) else {
                break;
            };
            // Carry on in the last partition if it gave messages, else past it.
            at.bucket = match (held_messages, at.newest_first) {
                (true, _) => bucket,
                (false, true) => bucket.saturating_sub(1),
                (false, false) => bucket.saturating_add(1),
            };
        }
        Ok(page)
    }

    /// Drops the partitions among `buckets` that hold no message any
    /// more. A message being written into one holds it (its foreign key),
    /// and the removal fails: it is tried again, and that partition kept.
    async fn drop_empty_buckets(&self, channel: i64, buckets: &[i64]) -> StoreResult<()> {
        for _ in 0..3 {
            let dropped = sqlx::query(
                "DELETE FROM channel_buckets b WHERE b.channel_id = $1 AND b.bucket = ANY($2)
                 AND NOT EXISTS (SELECT 1 FROM messages m
                                 WHERE m.channel_id = $1 AND m.bucket = b.bucket)",
            )
            .bind(channel)
            .bind(buckets)
            .execute(&self.pool)
            .await;
            match dropped {
                Err(e) if is_foreign_key_violation(&e) => continue,
                other => return other.map(|_| ()).map_err(backend),
            }
        }
        // Left listed, an empty partition costs a reader one visit.
        Ok(())
    }
}

/// The patched columns as a JSON object to merge into the record.
fn patch_json(patch: &MessagePatch) -> StoreResult<serde_json::Value> {
    let MessagePatch {
        content,
        embeds,
        components,
        flags,
        mentions,
        mention_roles,
        mention_everyone,
        edited_ms,
        pinned,
        attachments,
    } = patch;
    let mut set = serde_json::Map::new();
    let mut put = |field: &str, value: Option<serde_json::Result<serde_json::Value>>| {
        if let Some(value) = value {
            set.insert(field.to_owned(), value?);
        }
        Ok::<_, serde_json::Error>(())
    };
    let fields = [
        ("content", content.as_ref().map(serde_json::to_value)),
        ("embeds", embeds.as_ref().map(serde_json::to_value)),
        ("components", components.as_ref().map(serde_json::to_value)),
        ("flags", flags.map(serde_json::to_value)),
        ("mentions", mentions.as_ref().map(serde_json::to_value)),
        (
            "mention_roles",
            mention_roles.as_ref().map(serde_json::to_value),
        ),
        (
            "mention_everyone",
            mention_everyone.map(serde_json::to_value),
        ),
        ("edited_ms", edited_ms.map(serde_json::to_value)),
        ("pinned", pinned.map(serde_json::to_value)),
        (
            "attachments",
            attachments.as_ref().map(serde_json::to_value),
        ),
    ];
    for (field, value) in fields {
        put(field, value).map_err(|e| concord_store::StoreError::Corrupt(e.to_string()))?;
    }
    Ok(serde_json::Value::Object(set))
}

#[async_trait]
impl MessageStore for PgStore {
    async fn create_message(&self, message: &Message) -> StoreResult<()> {
        let open_poll = message.poll.as_ref().filter(|p| !p.finalized);
        loop {
            let query = match open_poll {
                Some(_) => sqlx::query(CREATE_POLL_MESSAGE),
                None => sqlx::query(CREATE_MESSAGE),
            };
            let query = query
                .bind(key(message.channel_id))
                .bind(self.bucket(message.id))
                .bind(key(message.id))
                .bind(Json(message));
            let query = match open_poll {
                Some(poll) => query.bind(int(poll.expiry_ms)),
                None => query,
            };
            let written = query.execute(&self.pool).await;
            match written {
                // The partition was dropped as found empty in between: list it again.
                Err(e) if is_foreign_key_violation(&e) => continue,
                other => return other.map(|_| ()).map_err(backend),
            }
        }
    }

    async fn message(&self, channel_id: Snowflake, id: Snowflake) -> StoreResult<Option<Message>> {
        let found: Option<Json<Message>> = sqlx::query_scalar(
            "SELECT record FROM messages WHERE channel_id = $1 AND bucket = $2 AND message_id = $3",
        )
        .bind(key(channel_id))
        .bind(self.bucket(id))
        .bind(key(id))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.map(|m| m.0))
    }

    async fn update_message(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
        patch: &MessagePatch,
    ) -> StoreResult<Option<Message>> {
        // Merged into the row as it is, so reactions counted meanwhile stay.
        let updated: Option<Json<Message>> = sqlx::query_scalar(
            "UPDATE messages SET record = record || $4
             WHERE channel_id = $1 AND bucket = $2 AND message_id = $3 RETURNING record",
        )
        .bind(key(channel_id))
        .bind(self.bucket(id))
        .bind(key(id))
        .bind(Json(patch_json(patch)?))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.map(|m| m.0))
    }

    async fn delete_messages(
        &self,
        channel_id: Snowflake,
        ids: &[Snowflake],
    ) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let channel = key(channel_id);
        let buckets: Vec<i64> = ids.iter().map(|id| self.bucket(*id)).collect();
        let gone: Vec<(i64, i64, Json<Message>)> = sqlx::query_as(
            "WITH gone AS (
                DELETE FROM messages WHERE channel_id = $1
                  AND (bucket, message_id) IN (SELECT * FROM unnest($2::bigint[], $3::bigint[]))
                RETURNING bucket, message_id, record),
             unpinned AS (
                DELETE FROM pins WHERE channel_id = $1 AND message_id IN (SELECT message_id FROM gone)),
             unreacted AS (
                DELETE FROM reactions WHERE channel_id = $1 AND message_id IN (SELECT message_id FROM gone)),
             unvoted AS (
                DELETE FROM poll_votes WHERE channel_id = $1 AND message_id IN (SELECT message_id FROM gone)),
             unlisted AS (
                DELETE FROM open_polls WHERE channel_id = $1 AND message_id IN (SELECT message_id FROM gone))
             SELECT bucket, message_id, record FROM gone",
        )
        .bind(channel)
        .bind(&buckets)
        .bind(keys(ids))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut emptied: Vec<i64> = gone.iter().map(|(bucket, _, _)| *bucket).collect();
        emptied.sort_unstable();
        emptied.dedup();
        if !emptied.is_empty() {
            self.drop_empty_buckets(channel, &emptied).await?;
        }
        let found = gone.into_iter().map(|(_, id, m)| (id, m)).collect();
        Ok(crate::codec::in_order(ids, found)
            .into_iter()
            .map(|m| m.0)
            .collect())
    }

    async fn messages_before(
        &self,
        channel_id: Snowflake,
        before: Option<Snowflake>,
        count: usize,
    ) -> StoreResult<Vec<Message>> {
        let at = Cursor {
            newest_first: true,
            bucket: before.map_or(i64::MAX, |b| self.bucket(b)),
            id: before.map_or(i64::MAX, key),
        };
        self.walk(key(channel_id), at, count).await
    }

    async fn messages_after(
        &self,
        channel_id: Snowflake,
        after: Snowflake,
        count: usize,
    ) -> StoreResult<Vec<Message>> {
        let at = Cursor {
            newest_first: false,
            bucket: self.bucket(after),
            id: key(after),
        };
        self.walk(key(channel_id), at, count).await
    }

    fn buckets_visited(&self) -> u64 {
        self.visits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
impl ReactionStore for PgStore {
    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<Option<bool>> {
        // The message's row is locked first, so a deletion is wholly
        // before (no reaction) or after (which removes it).
        let (exists, added): (bool, bool) = sqlx::query_as(
            "WITH message AS (
                SELECT 1 FROM messages WHERE channel_id = $1 AND bucket = $2 AND message_id = $3
                FOR UPDATE),
             added AS (
                INSERT INTO reactions (channel_id, message_id, emoji, user_id)
                SELECT $1, $3, $4, $5 FROM message
                ON CONFLICT DO NOTHING RETURNING 1),
             counted AS (
                UPDATE messages SET record = count_reaction(record, $4, 1)
                WHERE channel_id = $1 AND bucket = $2 AND message_id = $3
                  AND EXISTS (SELECT 1 FROM added))
             SELECT EXISTS (SELECT 1 FROM message), EXISTS (SELECT 1 FROM added)",
        )
        .bind(key(channel_id))
        .bind(self.bucket(message_id))
        .bind(key(message_id))
        .bind(nul::text(emoji))
        .bind(key(user_id))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(exists.then_some(added))
    }

    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool> {
        sqlx::query_scalar(
            "WITH removed AS (
                DELETE FROM reactions
                WHERE channel_id = $1 AND message_id = $3 AND emoji = $4 AND user_id = $5
                RETURNING 1),
             uncounted AS (
                UPDATE messages SET record = count_reaction(record, $4, -1)
                WHERE channel_id = $1 AND bucket = $2 AND message_id = $3
                  AND EXISTS (SELECT 1 FROM removed))
             SELECT EXISTS (SELECT 1 FROM removed)",
        )
        .bind(key(channel_id))
        .bind(self.bucket(message_id))
        .bind(key(message_id))
        .bind(nul::text(emoji))
        .bind(key(user_id))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn has_reacted(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM reactions
                WHERE channel_id = $1 AND message_id = $2 AND emoji = $3 AND user_id = $4)",
        )
        .bind(key(channel_id))
        .bind(key(message_id))
        .bind(nul::text(emoji))
        .bind(key(user_id))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Snowflake,
        count: usize,
    ) -> StoreResult<Vec<Snowflake>> {
        let users: Vec<i64> = sqlx::query_scalar(
            "SELECT user_id FROM reactions
             WHERE channel_id = $1 AND message_id = $2 AND emoji = $3 AND user_id > $4
             ORDER BY user_id LIMIT $5",
        )
        .bind(key(channel_id))
        .bind(key(message_id))
        .bind(nul::text(emoji))
        .bind(key(after))
        .bind(limit(count))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(users.into_iter().map(id).collect())
    }

    async fn clear_reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Option<&str>,
    ) -> StoreResult<Option<Message>> {
        let updated: Option<Json<Message>> = sqlx::query_scalar(
            "WITH cleared AS (
                DELETE FROM reactions WHERE channel_id = $1 AND message_id = $3
                  AND ($4::text IS NULL OR emoji = $4))
             UPDATE messages SET record = clear_reactions(record, $4)
             WHERE channel_id = $1 AND bucket = $2 AND message_id = $3 RETURNING record",
        )
        .bind(key(channel_id))
        .bind(self.bucket(message_id))
        .bind(key(message_id))
        .bind(emoji.map(nul::text))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.map(|m| m.0))
    }
}

#[async_trait]
impl PinStore for PgStore {
    async fn put_pin(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        pinned_at_ms: u64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pins (channel_id, message_id, pinned_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (channel_id, message_id) DO UPDATE SET pinned_at_ms = EXCLUDED.pinned_at_ms",
        )
        .bind(key(channel_id))
        .bind(key(message_id))
        .bind(int(pinned_at_ms))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_pin(&self, channel_id: Snowflake, message_id: Snowflake) -> StoreResult<bool> {
        let removed = sqlx::query("DELETE FROM pins WHERE channel_id = $1 AND message_id = $2")
            .bind(key(channel_id))
            .bind(key(message_id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(removed.rows_affected() == 1)
    }

    async fn pins(
        &self,
        channel_id: Snowflake,
        before_ms: Option<u64>,
        count: usize,
    ) -> StoreResult<Vec<(Snowflake, u64)>> {
        let pins: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT message_id, pinned_at_ms FROM pins WHERE channel_id = $1 AND pinned_at_ms < $2
             ORDER BY pinned_at_ms DESC, message_id LIMIT $3",
        )
        .bind(key(channel_id))
        .bind(before_ms.map_or(i64::MAX, int))
        .bind(limit(count))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(pins
            .into_iter()
            .map(|(m, at)| (id(m), u64::try_from(at).unwrap_or_default()))
            .collect())
    }

    async fn pin_count(&self, channel_id: Snowflake) -> StoreResult<usize> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM pins WHERE channel_id = $1")
            .bind(key(channel_id))
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(usize::try_from(count).unwrap_or_default())
    }
}

/// Deletes the attachments that `$which` selects and uncounts their
/// blobs' references; rows: each blob touched, with the references left.
macro_rules! release {
    ($which:literal) => {
        concat!(
            "WITH gone AS (DELETE FROM attachments WHERE ",
            $which,
            " RETURNING sha256),
             counted AS (SELECT sha256, count(*) AS n FROM gone GROUP BY sha256)
             UPDATE blob_refs b SET count = b.count - c.n FROM counted c
             WHERE b.sha256 = c.sha256 RETURNING b.sha256, b.count"
        )
    };
}

/// Of the blobs a release touched, those nothing refers to any more, and
/// their count rows gone (unless a new reference came meanwhile).
async fn freed(pool: &PgPool, touched: Vec<(String, i64)>) -> StoreResult<Vec<String>> {
    let freed: Vec<String> = touched
        .into_iter()
        .filter(|(_, left)| *left <= 0)
        .map(|(sha, _)| sha)
        .collect();
    if !freed.is_empty() {
        sqlx::query("DELETE FROM blob_refs WHERE sha256 = ANY($1) AND count <= 0")
            .bind(&freed)
            .execute(pool)
            .await
            .map_err(backend)?;
    }
    Ok(freed)
}

/// Deletes a channel's attachments, `step` at a time.
pub(crate) async fn release_channel_attachments(
    pool: &PgPool,
    channel: i64,
    step: i64,
) -> StoreResult<()> {
    loop {
        let touched: Vec<(String, i64)> = sqlx::query_as(release!(
            "id = ANY(ARRAY(SELECT id FROM attachments WHERE channel_id = $1 LIMIT $2))"
        ))
        .bind(channel)
        .bind(step)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        if touched.is_empty() {
            let left: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM attachments WHERE channel_id = $1)",
            )
            .bind(channel)
            .fetch_one(pool)
            .await
            .map_err(backend)?;
            if !left {
                return Ok(());
            }
        }
        freed(pool, touched).await?;
    }
}

#[async_trait]
impl AttachmentStore for PgStore {
    async fn put_attachments(&self, attachments: &[Attachment]) -> StoreResult<()> {
        if attachments.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "WITH added AS (
                INSERT INTO attachments (id, channel_id, sha256, record)
                SELECT (a->>'id')::bigint, (a->>'channel_id')::bigint, a->>'sha256', a
                FROM jsonb_array_elements($1) AS a
                ON CONFLICT (id) DO UPDATE SET channel_id = EXCLUDED.channel_id,
                    sha256 = EXCLUDED.sha256, record = EXCLUDED.record
                RETURNING sha256)
             INSERT INTO blob_refs (sha256, count)
             SELECT sha256, count(*) FROM added GROUP BY sha256
             ON CONFLICT (sha256) DO UPDATE SET count = blob_refs.count + EXCLUDED.count",
        )
        .bind(Json(attachments))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn attachment(&self, id: Snowflake) -> StoreResult<Option<Attachment>> {
        self.record::<Attachment>("SELECT record FROM attachments WHERE id = $1", &[key(id)])
            .await
    }

    async fn delete_attachments(&self, ids: &[Snowflake]) -> StoreResult<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let touched: Vec<(String, i64)> = sqlx::query_as(release!("id = ANY($1)"))
            .bind(keys(ids))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        freed(&self.pool, touched).await
    }

    async fn blob_referenced(&self, sha256: &str) -> StoreResult<bool> {
        // An image is referred to by the rows naming it, through the
        // indexes of migrations 0006 and 0008 (their predicates repeated, so the
        // planner takes them).
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = $1 AND count > 0)
                 OR EXISTS (SELECT 1 FROM users
                            WHERE record ? 'avatar_blob' AND record->>'avatar_blob' = $1)
                 OR EXISTS (SELECT 1 FROM guilds
                            WHERE record ? 'icon_blob' AND record->>'icon_blob' = $1)
                 OR EXISTS (SELECT 1 FROM webhooks
                            WHERE record ? 'avatar_blob' AND record->>'avatar_blob' = $1)
                 OR EXISTS (SELECT 1 FROM channels
                            WHERE record ? 'icon_blob' AND record->>'icon_blob' = $1)",
        )
        .bind(sha256)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }
}

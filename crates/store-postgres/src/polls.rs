//! Poll votes (`poll_votes`, a row per voter and answer) and the polls not
//! yet ended (`open_polls`, by expiry).
//!
//! A vote change is one transaction ordered by the poll message's row
//! lock, taken first and only while the poll is open: each change of a
//! vote then reads what the one before it committed (every statement after
//! the lock sees a fresh snapshot), and an ending, which updates that row,
//! comes wholly before or after it. Ending a poll is one `UPDATE`.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::Message;
use concord_store::{OpenPoll, PollStore, PollVote, StoreResult};

use crate::PgStore;
use crate::codec::{Json, backend, id, int, key, limit};

/// Whether the message's poll is open at `$4` (`Poll::open_at` in SQL);
/// NULL when it has no poll. Locks the row.
const LOCK_OPEN_POLL: &str = "SELECT CASE WHEN jsonb_typeof(record->'poll') = 'object' THEN
        NOT coalesce((record->'poll'->>'finalized')::boolean, false)
        AND (record->'poll'->>'expiry_ms')::bigint > $4 END
    FROM messages WHERE channel_id = $1 AND bucket = $2 AND message_id = $3
    FOR UPDATE";

fn answers(ids: &[i16]) -> Vec<u8> {
    let mut out: Vec<u8> = ids.iter().filter_map(|a| u8::try_from(*a).ok()).collect();
    out.sort_unstable();
    out
}

#[async_trait]
impl PollStore for PgStore {
    async fn vote_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
        answer_ids: &[u8],
        now_ms: u64,
    ) -> StoreResult<PollVote> {
        let (channel, message, user) = (key(channel_id), key(message_id), key(user_id));
        let wanted: Vec<i16> = answer_ids.iter().map(|a| i16::from(*a)).collect();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let open: Option<Option<bool>> = sqlx::query_scalar(LOCK_OPEN_POLL)
            .bind(channel)
            .bind(self.bucket(message_id))
            .bind(message)
            .bind(int(now_ms))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        match open {
            None | Some(None) => return Ok(PollVote::Unknown),
            Some(Some(false)) => return Ok(PollVote::Ended),
            Some(Some(true)) => {}
        }
        let removed: Vec<i16> = sqlx::query_scalar(
            "DELETE FROM poll_votes
             WHERE channel_id = $1 AND message_id = $2 AND user_id = $3
               AND answer_id <> ALL($4::smallint[])
             RETURNING answer_id",
        )
        .bind(channel)
        .bind(message)
        .bind(user)
        .bind(&wanted)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let added: Vec<i16> = sqlx::query_scalar(
            "INSERT INTO poll_votes (channel_id, message_id, answer_id, user_id)
             SELECT DISTINCT $1::bigint, $2::bigint, a, $3::bigint FROM unnest($4::smallint[]) AS a
             ON CONFLICT DO NOTHING
             RETURNING answer_id",
        )
        .bind(channel)
        .bind(message)
        .bind(user)
        .bind(&wanted)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(PollVote::Changed {
            removed: answers(&removed),
            added: answers(&added),
        })
    }

    async fn poll_counts(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> StoreResult<Vec<(u8, u64)>> {
        let rows: Vec<(i16, i64)> = sqlx::query_as(
            "SELECT answer_id, count(*) FROM poll_votes
             WHERE channel_id = $1 AND message_id = $2
             GROUP BY answer_id ORDER BY answer_id",
        )
        .bind(key(channel_id))
        .bind(key(message_id))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .filter_map(|(a, n)| Some((u8::try_from(a).ok()?, u64::try_from(n).ok()?)))
            .collect())
    }

    async fn poll_votes(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Vec<u8>> {
        let rows: Vec<i16> = sqlx::query_scalar(
            "SELECT answer_id FROM poll_votes
             WHERE channel_id = $1 AND message_id = $2 AND user_id = $3",
        )
        .bind(key(channel_id))
        .bind(key(message_id))
        .bind(key(user_id))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(answers(&rows))
    }

    async fn poll_voters(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        answer_id: u8,
        after: Snowflake,
        count: usize,
    ) -> StoreResult<Vec<Snowflake>> {
        let users: Vec<i64> = sqlx::query_scalar(
            "SELECT user_id FROM poll_votes
             WHERE channel_id = $1 AND message_id = $2 AND answer_id = $3 AND user_id > $4
             ORDER BY user_id LIMIT $5",
        )
        .bind(key(channel_id))
        .bind(key(message_id))
        .bind(i16::from(answer_id))
        .bind(key(after))
        .bind(limit(count))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(users.into_iter().map(id).collect())
    }

    async fn polls_due(&self, now_ms: u64, count: usize) -> StoreResult<Vec<OpenPoll>> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT channel_id, message_id, expiry_ms FROM open_polls
             WHERE expiry_ms <= $1 ORDER BY expiry_ms, channel_id, message_id LIMIT $2",
        )
        .bind(int(now_ms))
        .bind(limit(count))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(channel, message, expiry)| OpenPoll {
                channel_id: id(channel),
                message_id: id(message),
                expiry_ms: u64::try_from(expiry).unwrap_or_default(),
            })
            .collect())
    }

    async fn end_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        _expiry_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Option<Message>> {
        // Of concurrent endings, the row lock orders them and the later
        // ones find the poll finalized.
        let ended: Option<Json<Message>> = sqlx::query_scalar(
            "WITH unlisted AS (
                DELETE FROM open_polls WHERE channel_id = $1 AND message_id = $3)
             UPDATE messages SET record = jsonb_set(record, '{poll}', (record->'poll')
                || jsonb_build_object('finalized', true,
                    'expiry_ms', least((record->'poll'->>'expiry_ms')::bigint, $4)))
             WHERE channel_id = $1 AND bucket = $2 AND message_id = $3
               AND jsonb_typeof(record->'poll') = 'object'
               AND NOT coalesce((record->'poll'->>'finalized')::boolean, false)
             RETURNING record",
        )
        .bind(key(channel_id))
        .bind(self.bucket(message_id))
        .bind(key(message_id))
        .bind(int(now_ms))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(ended.map(|m| m.0))
    }
}

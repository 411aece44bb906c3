//! `ThreadUpdate::apply` as one `UPDATE ... RETURNING` per kind of update:
//! the row lock orders concurrent updates and each is computed on the row
//! as the one before left it, so no count is lost and a deleted thread
//! (no row) is never written again.

use concord_model::records::Channel;
use concord_store::{StoreResult, ThreadEdit, ThreadUpdate};
use sqlx::PgPool;

use crate::codec::{Json, backend, int};

/// A thread's number field (absent as 0) and flag (absent as false).
macro_rules! num {
    ($field:literal) => {
        concat!("coalesce((record->'thread'->>'", $field, "')::bigint, 0)")
    };
}
macro_rules! flag {
    ($field:literal) => {
        concat!(
            "coalesce((record->'thread'->>'",
            $field,
            "')::boolean, false)"
        )
    };
}

/// `UPDATE` of thread `$1`, setting its state to `$state` and the record's
/// top-level fields from `$top` (a JSON object expression) where `$cond`.
macro_rules! update {
    (state: $state:expr, top: $top:expr, cond: $cond:expr) => {
        concat!(
            "UPDATE channels SET record = record || ",
            $top,
            " || jsonb_build_object('thread', (record->'thread') || ",
            $state,
            ") WHERE id = $1 AND jsonb_typeof(record->'thread') = 'object' AND (",
            $cond,
            ") RETURNING record"
        )
    };
}

const MESSAGE_SENT: &str = update!(
    state: concat!(
        "jsonb_build_object('message_count', least(", num!("message_count"), " + $2, 4294967295),",
        " 'total_message_sent', least(", num!("total_message_sent"), " + $2, 4294967295),",
        " 'last_activity_ms', greatest(", num!("last_activity_ms"), ", $3))"
    ),
    top: "'{}'::jsonb",
    cond: "true"
);

const MESSAGES_DELETED: &str = update!(
    state: concat!("jsonb_build_object('message_count', greatest(", num!("message_count"), " - $2, 0))"),
    top: "'{}'::jsonb",
    cond: "true"
);

const UNARCHIVE: &str = update!(
    state: "jsonb_build_object('archived', false, 'archive_ms', $2::bigint, 'last_activity_ms', $2::bigint)",
    top: "'{}'::jsonb",
    cond: flag!("archived")
);

const ARCHIVE_IF_IDLE: &str = update!(
    state: "jsonb_build_object('archived', true, 'archive_ms', $2::bigint)",
    top: "'{}'::jsonb",
    cond: concat!(
        "NOT ", flag!("archived"), " AND ",
        num!("last_activity_ms"), " + ", num!("auto_archive_duration"), " * 60000 <= $2"
    )
);

/// `$2` name, `$3` rate limit, `$4` auto-archive minutes, `$5` locked,
/// `$6` invitable, `$7` archived, `$8` at ms, `$9` unless locked.
const EDIT: &str = update!(
    state: concat!(
        "jsonb_strip_nulls(jsonb_build_object('auto_archive_duration', $4::bigint,",
        " 'locked', $5::boolean, 'invitable', $6::boolean, 'applied_tags', $10::jsonb))",
        " || CASE WHEN $7::boolean IS NOT NULL AND $7::boolean <> ", flag!("archived"),
        " THEN jsonb_build_object('archived', $7::boolean, 'archive_ms', $8::bigint, 'last_activity_ms', $8::bigint)",
        " ELSE '{}'::jsonb END"
    ),
    top: "jsonb_strip_nulls(jsonb_build_object('name', $2::text, 'rate_limit_per_user', $3::bigint))",
    cond: concat!("NOT ($9::boolean AND ", flag!("locked"), " AND $7::boolean IS NOT DISTINCT FROM false)")
);

pub(crate) async fn update_thread(
    pool: &PgPool,
    thread: i64,
    update: &ThreadUpdate,
) -> StoreResult<Option<Channel>> {
    let query = match update {
        ThreadUpdate::MessageSent { counted, at_ms } => sqlx::query_scalar(MESSAGE_SENT)
            .bind(thread)
            .bind(i64::from(*counted))
            .bind(int(*at_ms)),
        ThreadUpdate::MessagesDeleted { count } => sqlx::query_scalar(MESSAGES_DELETED)
            .bind(thread)
            .bind(i64::from(*count)),
        ThreadUpdate::Unarchive { at_ms } => {
            sqlx::query_scalar(UNARCHIVE).bind(thread).bind(int(*at_ms))
        }
        ThreadUpdate::ArchiveIfIdle { now_ms } => sqlx::query_scalar(ARCHIVE_IF_IDLE)
            .bind(thread)
            .bind(int(*now_ms)),
        ThreadUpdate::Edit(edit) => {
            let ThreadEdit {
                name,
                rate_limit_per_user,
                auto_archive_duration,
                locked,
                invitable,
                archived,
                applied_tags,
                at_ms,
                unless_locked,
            } = edit;
            sqlx::query_scalar(EDIT)
                .bind(thread)
                .bind(name.as_deref().map(crate::nul::text))
                .bind(rate_limit_per_user.map(i64::from))
                .bind(auto_archive_duration.map(i64::from))
                .bind(*locked)
                .bind(*invitable)
                .bind(*archived)
                .bind(int(*at_ms))
                .bind(*unless_locked)
                .bind(applied_tags.as_ref().map(Json))
        }
    };
    let updated: Option<Json<Channel>> = query.fetch_optional(pool).await.map_err(backend)?;
    Ok(updated.map(|c| c.0))
}

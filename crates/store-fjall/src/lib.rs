//! The embedded default backend, on fjall (an LSM-tree key-value store).
//!
//! One keyspace per table, named `key_value` after its layout (see
//! [`TABLES`]). Messages live in `channel_bucket_message` under
//! `channel | bucket | !id`, and `channel_bucket` counts the live messages
//! of each partition so reads skip empty buckets without touching them.
//!
//! Durability: each write commits a batch to fjall unsynced and appends it
//! to Concord's own write-ahead log ([`wal`]), whose one writer thread syncs
//! for every writer waiting while the next ones keep appending.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod batch;
mod codec;
mod store;
mod wal;

pub use store::{FjallOptions, FjallStore};

/// Every keyspace, with what its keys and values are.
pub const TABLES: &[(&str, &str)] = &[
    ("user", "user id -> User"),
    ("login_user", "lowercased username or email -> user id"),
    ("application", "application id -> Application"),
    ("guild", "guild id -> Guild"),
    ("guild_role", "guild id | role id -> Role"),
    ("channel", "channel id -> Channel"),
    (
        "guild_channel",
        "guild id | channel id -> () (threads not included)",
    ),
    ("guild_thread", "guild id | thread id -> ()"),
    ("thread_member", "thread id | user id -> ThreadMember"),
    ("guild_member", "guild id | user id -> Member"),
    ("user_guild", "user id | guild id -> ()"),
    ("guild_member_count", "guild id -> u64"),
    ("invite", "code -> Invite"),
    ("guild_invite", "guild id | code -> ()"),
    ("guild_ban", "guild id | user id -> Ban"),
    (
        "channel_bucket_message",
        "channel id | bucket | !message id -> Message",
    ),
    (
        "channel_bucket",
        "channel id | bucket -> live message count (u64)",
    ),
    (
        "message_reaction",
        "channel id | message id | emoji | user id -> ()",
    ),
    (
        "channel_pin",
        "channel id | !pinned at ms | message id -> ()",
    ),
    (
        "channel_pin_at",
        "channel id | message id -> pinned at ms (u64)",
    ),
    ("user_private_channel", "user id | channel id -> ()"),
    ("dm_pair", "lower user id | higher user id -> channel id"),
    ("user_read_state", "user id | channel id -> ReadState"),
    ("guild_emoji", "guild id | emoji id -> Emoji"),
    ("guild_audit", "guild id | !entry id -> AuditEntry"),
    ("emoji_image", "emoji id -> image bytes"),
    (
        "attachment",
        "attachment id -> attachment (file name, size, type, blob sha256)",
    ),
    (
        "channel_attachment",
        "channel id, attachment id -> attachment (so a channel's go with it)",
    ),
    (
        "blob_ref",
        "blob sha256 -> how many attachments refer to it (u64)",
    ),
    (
        "image_ref",
        "blob sha256 | '|' | user, guild or webhook id -> () while it shows the image",
    ),
    ("webhook", "webhook id -> Webhook"),
    ("channel_webhook", "channel id | webhook id -> ()"),
    ("guild_webhook", "guild id | webhook id -> ()"),
    (
        "poll_vote",
        "channel id | message id | answer id (1 byte) | user id -> ()",
    ),
    (
        "open_poll",
        "expiry ms | channel id | message id -> () for polls not yet ended",
    ),
    (
        "command",
        "application id | guild id (0: global) | command id -> Command",
    ),
    (
        "command_scope",
        "command id -> application id | guild id (0: global)",
    ),
    ("guild_command", "guild id | command id -> ()"),
    (
        "command_permissions",
        "guild id | command or application id -> CommandPermissions",
    ),
    (
        "push_subscription",
        "user id | endpoint -> PushSubscription",
    ),
    ("push_queue", "due ms | push id -> QueuedPush"),
    ("push_due", "push id -> due ms (u64)"),
    (
        "user_guild_settings",
        "user id | guild id (0: direct messages) -> UserGuildSettings",
    ),
    (
        "mention",
        "mention kind (1 byte) | user, role or guild id | !message id -> channel id",
    ),
    ("mention_dismissed", "user id | message id -> ()"),
    ("meta", "name -> bytes"),
    (
        "purge",
        "deleted channel id -> () while its messages are being removed",
    ),
];

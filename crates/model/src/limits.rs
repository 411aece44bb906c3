//! Discord's documented limits that Concord enforces.

/// Longest message content, in characters.
pub const MESSAGE_CONTENT_MAX: usize = 2000;
/// Longest `nonce` string.
pub const NONCE_MAX: usize = 25;
/// Page size bounds for message history.
pub const HISTORY_LIMIT_MAX: u32 = 100;
pub const HISTORY_LIMIT_DEFAULT: u32 = 50;
/// Bulk delete takes between 2 and 100 ids, none older than 14 days.
pub const BULK_DELETE_MIN: usize = 2;
pub const BULK_DELETE_MAX: usize = 100;
pub const BULK_DELETE_MAX_AGE_MS: u64 = 14 * 24 * 60 * 60 * 1000;
/// Guild and channel name lengths.
pub const GUILD_NAME: (usize, usize) = (2, 100);
pub const GUILD_DESCRIPTION_MAX: usize = 300;
pub const CHANNEL_NAME: (usize, usize) = (1, 100);
pub const ROLE_NAME_MAX: usize = 100;
pub const USERNAME: (usize, usize) = (2, 32);
/// A display name, as Discord bounds it (a blank one is none at all).
pub const GLOBAL_NAME: (usize, usize) = (1, 32);
pub const PASSWORD: (usize, usize) = (8, 72);
/// An email address, in characters (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
/// What login takes: a username or an email.
pub const LOGIN: (usize, usize) = (1, EMAIL_MAX);
/// An invite code, in bytes: generated codes are 8, vanity codes at most 32.
pub const INVITE_CODE_MAX: usize = 32;
/// A registration token, in bytes (generated ones are 32).
pub const REGISTRATION_TOKEN_MAX: usize = 64;
/// An emoji in a reaction path: unicode, or `name:id` for a custom one.
pub const REACTION_EMOJI_MAX_BYTES: usize = 64;
/// Guild-wide caps.
pub const CHANNELS_PER_GUILD: usize = 500;
pub const ROLES_PER_GUILD: usize = 250;
/// Invite bounds.
pub const INVITE_MAX_AGE: u32 = 604_800;
pub const INVITE_MAX_USES: u32 = 100;
pub const INVITE_DEFAULT_MAX_AGE: u32 = 86_400;
/// Member list page size.
pub const MEMBERS_LIMIT_MAX: u32 = 1000;
/// Largest request body the HTTP API reads.
pub const BODY_MAX_BYTES: usize = 1024 * 1024;
/// Files one message may carry.
pub const ATTACHMENTS_MAX: usize = 10;

/// A poll's question text, in characters.
pub const POLL_QUESTION_MAX: usize = 300;
/// An answer's text, in characters.
pub const POLL_ANSWER_TEXT_MAX: usize = 55;
/// Answers a poll has at most (their ids are 1 to this).
pub const POLL_ANSWERS_MAX: u8 = 10;
/// How long a poll may run, in hours (32 days), and for how long it runs
/// when its request does not say.
pub const POLL_DURATION_HOURS: (u32, u32) = (1, 768);
pub const POLL_DURATION_DEFAULT_HOURS: u32 = 24;

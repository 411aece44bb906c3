//! The mentions inbox index: for each message, one entry per thing it
//! mentions (a user, a role, a guild's @everyone/@here), so a person's
//! recent mentions are a few ordered range reads, newest first.
//!
//! Roles and @everyone are indexed once per message, not once per member
//! who holds the role or belongs to the guild: a send costs at most its
//! mention count in writes however large the guild, and the reader looks
//! up the roles and guilds they hold (each read bounded by the page size).
//! Entries are hints: the service reads each message back and checks that
//! it still exists, still mentions the reader and is still readable by
//! them, so an edit that drops a mention or a deleted channel needs no
//! cleanup here to be correct.

use concord_model::Snowflake;
use concord_model::records::Message;

/// Discord's flag of an interaction answer only its invoker sees.
pub const EPHEMERAL: u64 = 64;

/// What a message mentions, as the inbox looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MentionTarget {
    User(Snowflake),
    Role(Snowflake),
    /// @everyone or @here in the guild.
    Everyone(Snowflake),
}

impl MentionTarget {
    /// The kind as a stored number (a key byte, a column).
    pub fn kind(self) -> u8 {
        match self {
            MentionTarget::User(_) => 1,
            MentionTarget::Role(_) => 2,
            MentionTarget::Everyone(_) => 3,
        }
    }

    pub fn id(self) -> Snowflake {
        match self {
            MentionTarget::User(id) | MentionTarget::Role(id) | MentionTarget::Everyone(id) => id,
        }
    }

    /// `kind | id`: the prefix of the target's entries in key-value stores.
    pub fn key(self) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = self.kind();
        k[1..].copy_from_slice(&self.id().get().to_be_bytes());
        k
    }
}

/// One index entry: `target` is mentioned by the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    pub target: MentionTarget,
    pub message_id: Snowflake,
    pub channel_id: Snowflake,
}

/// A message in an inbox page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mentioned {
    pub message_id: Snowflake,
    pub channel_id: Snowflake,
}

/// The entries a message calls for: none for an ephemeral one (seen by its
/// invoker alone), @everyone only in a guild.
pub fn mentions_of(message: &Message) -> Vec<Mention> {
    if message.flags & EPHEMERAL != 0 {
        return Vec::new();
    }
    let users = message.mentions.iter().copied().map(MentionTarget::User);
    let roles = message
        .mention_roles
        .iter()
        .copied()
        .map(MentionTarget::Role);
    let everyone = message
        .guild_id
        .filter(|_| message.mention_everyone)
        .map(MentionTarget::Everyone);
    users
        .chain(roles)
        .chain(everyone)
        .map(|target| Mention {
            target,
            message_id: message.id,
            channel_id: message.channel_id,
        })
        .collect()
}

/// Each target's newest entries (each list newest first, at most `limit`)
/// merged into one page: newest first, each message once, at most `limit`.
/// Every message of the true page is among its target's first `limit`, so
/// reading no more than that per target is enough.
pub fn merge_newest(lists: Vec<Vec<Mentioned>>, limit: usize) -> Vec<Mentioned> {
    let mut all: Vec<Mentioned> = lists.into_iter().flatten().collect();
    all.sort_unstable_by_key(|m| std::cmp::Reverse(m.message_id));
    all.dedup_by_key(|m| m.message_id);
    all.truncate(limit);
    all
}

//! Events a write publishes on the bus, and who may receive them.
//!
//! The payload is the dispatch's `d`, serialized once by the service; the
//! gateway decides who gets it and shares the bytes among them. Serialized
//! data also crosses a networked bus as it is.

use serde::{Deserialize, Serialize};

use crate::{Permissions, Snowflake};

/// Gateway dispatch names this server emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    GuildCreate,
    GuildUpdate,
    GuildDelete,
    ChannelCreate,
    ChannelUpdate,
    ChannelDelete,
    ChannelPinsUpdate,
    ChannelRecipientAdd,
    ChannelRecipientRemove,
    GuildMemberAdd,
    GuildMemberUpdate,
    GuildMemberRemove,
    GuildBanAdd,
    GuildBanRemove,
    GuildAuditLogEntryCreate,
    GuildRoleCreate,
    GuildRoleUpdate,
    GuildRoleDelete,
    GuildEmojisUpdate,
    ThreadCreate,
    ThreadUpdate,
    ThreadDelete,
    ThreadListSync,
    ThreadMemberUpdate,
    ThreadMembersUpdate,
    MessageCreate,
    MessageUpdate,
    MessageDelete,
    MessageDeleteBulk,
    MessageAck,
    MessageReactionAdd,
    MessageReactionRemove,
    MessageReactionRemoveAll,
    MessageReactionRemoveEmoji,
    InviteCreate,
    InviteDelete,
    TypingStart,
    PresenceUpdate,
    UserUpdate,
    /// Not a dispatch: the user's tokens were revoked (an administrator
    /// disabled the account or reset its password), so the gateway closes
    /// their connections, whose resume then fails.
    SessionsRevoked,
}

impl EventKind {
    /// The dispatch name, as in the `t` field of a gateway payload.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::GuildCreate => "GUILD_CREATE",
            EventKind::GuildUpdate => "GUILD_UPDATE",
            EventKind::GuildDelete => "GUILD_DELETE",
            EventKind::ChannelCreate => "CHANNEL_CREATE",
            EventKind::ChannelUpdate => "CHANNEL_UPDATE",
            EventKind::ChannelDelete => "CHANNEL_DELETE",
            EventKind::ChannelPinsUpdate => "CHANNEL_PINS_UPDATE",
            EventKind::ChannelRecipientAdd => "CHANNEL_RECIPIENT_ADD",
            EventKind::ChannelRecipientRemove => "CHANNEL_RECIPIENT_REMOVE",
            EventKind::GuildMemberAdd => "GUILD_MEMBER_ADD",
            EventKind::GuildMemberUpdate => "GUILD_MEMBER_UPDATE",
            EventKind::GuildMemberRemove => "GUILD_MEMBER_REMOVE",
            EventKind::GuildBanAdd => "GUILD_BAN_ADD",
            EventKind::GuildBanRemove => "GUILD_BAN_REMOVE",
            EventKind::GuildAuditLogEntryCreate => "GUILD_AUDIT_LOG_ENTRY_CREATE",
            EventKind::GuildRoleCreate => "GUILD_ROLE_CREATE",
            EventKind::GuildRoleUpdate => "GUILD_ROLE_UPDATE",
            EventKind::GuildRoleDelete => "GUILD_ROLE_DELETE",
            EventKind::GuildEmojisUpdate => "GUILD_EMOJIS_UPDATE",
            EventKind::ThreadCreate => "THREAD_CREATE",
            EventKind::ThreadUpdate => "THREAD_UPDATE",
            EventKind::ThreadDelete => "THREAD_DELETE",
            EventKind::ThreadListSync => "THREAD_LIST_SYNC",
            EventKind::ThreadMemberUpdate => "THREAD_MEMBER_UPDATE",
            EventKind::ThreadMembersUpdate => "THREAD_MEMBERS_UPDATE",
            EventKind::MessageCreate => "MESSAGE_CREATE",
            EventKind::MessageUpdate => "MESSAGE_UPDATE",
            EventKind::MessageDelete => "MESSAGE_DELETE",
            EventKind::MessageDeleteBulk => "MESSAGE_DELETE_BULK",
            EventKind::MessageAck => "MESSAGE_ACK",
            EventKind::MessageReactionAdd => "MESSAGE_REACTION_ADD",
            EventKind::MessageReactionRemove => "MESSAGE_REACTION_REMOVE",
            EventKind::MessageReactionRemoveAll => "MESSAGE_REACTION_REMOVE_ALL",
            EventKind::MessageReactionRemoveEmoji => "MESSAGE_REACTION_REMOVE_EMOJI",
            EventKind::InviteCreate => "INVITE_CREATE",
            EventKind::InviteDelete => "INVITE_DELETE",
            EventKind::TypingStart => "TYPING_START",
            EventKind::UserUpdate => "USER_UPDATE",
            EventKind::SessionsRevoked => "SESSIONS_REVOKED",
            EventKind::PresenceUpdate => "PRESENCE_UPDATE",
        }
    }
}

/// Who may receive an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Audience {
    /// Members of a guild; with a channel, only those who can view it; with
    /// `required`, only those holding those permissions there.
    Guild {
        guild_id: Snowflake,
        channel_id: Option<Snowflake>,
        required: Permissions,
    },
    /// The participants of a DM or group DM.
    Private {
        channel_id: Snowflake,
        recipients: Vec<Snowflake>,
    },
    /// These users, wherever they are connected.
    Users(Vec<Snowflake>),
    /// Members of any of these guilds but `about` (whose own sessions know),
    /// each session once, with the `guild_id` of the first of them it is
    /// subscribed to added to the data.
    Guilds {
        guild_ids: Vec<Snowflake>,
        about: Snowflake,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub audience: Audience,
    /// The dispatch's `d`, as JSON text.
    pub data: String,
}

impl Event {
    pub fn guild_id(&self) -> Option<Snowflake> {
        match &self.audience {
            Audience::Guild { guild_id, .. } => Some(*guild_id),
            Audience::Private { .. } | Audience::Users(_) | Audience::Guilds { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for kind in [
            EventKind::MessageDeleteBulk,
            EventKind::GuildRoleCreate,
            EventKind::UserUpdate,
            EventKind::ChannelRecipientRemove,
            EventKind::ThreadMembersUpdate,
            EventKind::ThreadListSync,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }
}

//! Gateway v10 vocabulary: opcodes, close codes, intents, client payloads,
//! and the byte layout of the frames the server sends.

use concord_model::Snowflake;
use concord_model::event::EventKind;
use concord_realtime::{Status, UserPresence};
use serde::Deserialize;
use serde_json::Value;

pub(crate) mod op {
    pub(crate) const HEARTBEAT: u8 = 1;
    pub(crate) const IDENTIFY: u8 = 2;
    pub(crate) const PRESENCE_UPDATE: u8 = 3;
    pub(crate) const VOICE_STATE_UPDATE: u8 = 4;
    pub(crate) const RESUME: u8 = 6;
    pub(crate) const RECONNECT: u8 = 7;
    pub(crate) const REQUEST_GUILD_MEMBERS: u8 = 8;
    /// Discord's client: what it follows in one guild (lazy guilds).
    pub(crate) const GUILD_SUBSCRIPTIONS: u8 = 14;
    pub(crate) const INVALID_SESSION: u8 = 9;
    pub(crate) const HELLO: u8 = 10;
    pub(crate) const HEARTBEAT_ACK: u8 = 11;
    /// Discord's client: op 14 for several guilds at once.
    pub(crate) const GUILD_SUBSCRIPTIONS_BULK: u8 = 37;
    /// Requests the server may ignore: legacy 5 and 12, soundboard 31, channel info 43.
    pub(crate) const IGNORED: [u8; 4] = [5, 12, 31, 43];
}

/// What IDENTIFY's `large_threshold` may be (Discord's bounds): a guild
/// with more members than a session's threshold is large for it.
pub(crate) const LARGE_THRESHOLD: std::ops::RangeInclusive<u64> = 50..=250;

/// Close codes with Discord's meanings.
pub(crate) mod close {
    pub(crate) const UNKNOWN_ERROR: u16 = 4000;
    pub(crate) const UNKNOWN_OPCODE: u16 = 4001;
    pub(crate) const DECODE_ERROR: u16 = 4002;
    pub(crate) const NOT_AUTHENTICATED: u16 = 4003;
    pub(crate) const AUTHENTICATION_FAILED: u16 = 4004;
    pub(crate) const ALREADY_AUTHENTICATED: u16 = 4005;
    pub(crate) const RATE_LIMITED: u16 = 4008;
    pub(crate) const SESSION_TIMED_OUT: u16 = 4009;
    pub(crate) const INVALID_SHARD: u16 = 4010;
    pub(crate) const SHARDING_REQUIRED: u16 = 4011;
    pub(crate) const INVALID_API_VERSION: u16 = 4012;
    pub(crate) const INVALID_INTENTS: u16 = 4013;
    pub(crate) const DISALLOWED_INTENTS: u16 = 4014;

    pub(crate) fn reason(code: u16) -> &'static str {
        match code {
            UNKNOWN_OPCODE => "Unknown opcode.",
            DECODE_ERROR => "Error while decoding payload.",
            NOT_AUTHENTICATED => "Not authenticated.",
            AUTHENTICATION_FAILED => "Authentication failed.",
            ALREADY_AUTHENTICATED => "Already authenticated.",
            RATE_LIMITED => "You are being rate limited.",
            SESSION_TIMED_OUT => "Session timed out.",
            INVALID_SHARD => "Invalid shard.",
            SHARDING_REQUIRED => "Sharding required.",
            INVALID_API_VERSION => "Invalid API version.",
            INVALID_INTENTS => "Invalid intent(s).",
            DISALLOWED_INTENTS => "Disallowed intent(s).",
            _ => "Unknown error.",
        }
    }
}

pub(crate) mod intents {
    pub(crate) const GUILDS: u64 = 1 << 0;
    pub(crate) const GUILD_MEMBERS: u64 = 1 << 1;
    pub(crate) const GUILD_MODERATION: u64 = 1 << 2;
    pub(crate) const GUILD_EXPRESSIONS: u64 = 1 << 3;
    pub(crate) const GUILD_WEBHOOKS: u64 = 1 << 5;
    pub(crate) const GUILD_INVITES: u64 = 1 << 6;
    pub(crate) const GUILD_VOICE_STATES: u64 = 1 << 7;
    pub(crate) const GUILD_PRESENCES: u64 = 1 << 8;
    pub(crate) const GUILD_MESSAGES: u64 = 1 << 9;
    pub(crate) const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    pub(crate) const GUILD_MESSAGE_TYPING: u64 = 1 << 11;
    pub(crate) const DIRECT_MESSAGES: u64 = 1 << 12;
    pub(crate) const DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
    pub(crate) const DIRECT_MESSAGE_TYPING: u64 = 1 << 14;
    pub(crate) const MESSAGE_CONTENT: u64 = 1 << 15;
    pub(crate) const GUILD_MESSAGE_POLLS: u64 = 1 << 24;
    pub(crate) const DIRECT_MESSAGE_POLLS: u64 = 1 << 25;
    /// Every intent Discord defines (bits 0-16, 20, 21, 24, 25).
    pub(crate) const VALID: u64 = 53_608_447;
    /// What a user session, which sends no intents, receives.
    pub(crate) const ALL: u64 = VALID;
}

/// The intent a session needs to receive `kind`, if any.
pub(crate) fn required_intent(kind: EventKind) -> u64 {
    use EventKind::*;
    match kind {
        GuildCreate | GuildUpdate | GuildDelete | GuildRoleCreate | GuildRoleUpdate
        | GuildRoleDelete | ChannelCreate | ChannelUpdate | ChannelDelete | ChannelPinsUpdate
        | ThreadCreate | ThreadUpdate | ThreadDelete | ThreadListSync | ThreadMemberUpdate
        | ThreadMembersUpdate => intents::GUILDS,
        GuildMemberAdd | GuildMemberUpdate | GuildMemberRemove => intents::GUILD_MEMBERS,
        GuildBanAdd | GuildBanRemove | GuildAuditLogEntryCreate => intents::GUILD_MODERATION,
        MessageCreate | MessageUpdate | MessageDelete | MessageDeleteBulk => {
            intents::GUILD_MESSAGES
        }
        InviteCreate | InviteDelete => intents::GUILD_INVITES,
        GuildEmojisUpdate => intents::GUILD_EXPRESSIONS,
        WebhooksUpdate => intents::GUILD_WEBHOOKS,
        PresenceUpdate => intents::GUILD_PRESENCES,
        VoiceStateUpdate => intents::GUILD_VOICE_STATES,
        TypingStart => intents::GUILD_MESSAGE_TYPING,
        MessageReactionAdd
        | MessageReactionRemove
        | MessageReactionRemoveAll
        | MessageReactionRemoveEmoji => intents::GUILD_MESSAGE_REACTIONS,
        MessagePollVoteAdd | MessagePollVoteRemove => intents::GUILD_MESSAGE_POLLS,
        UserUpdate
        | UserGuildSettingsUpdate
        | ChannelRecipientAdd
        | ChannelRecipientRemove
        | MessageAck
        | SessionsRevoked
        | ApplicationCommandPermissionsUpdate
        | InteractionCreate
        | InteractionSuccess
        | InteractionFailure
        | InteractionModalCreate
        | ApplicationCommandAutocompleteResponse
        | VoiceServerUpdate => 0,
    }
}

/// The intent a session needs to receive `kind` from a DM or group DM.
pub(crate) fn required_private_intent(kind: EventKind) -> u64 {
    use EventKind::*;
    match kind {
        MessageCreate | MessageUpdate | MessageDelete | MessageDeleteBulk | ChannelPinsUpdate => {
            intents::DIRECT_MESSAGES
        }
        TypingStart => intents::DIRECT_MESSAGE_TYPING,
        MessageReactionAdd
        | MessageReactionRemove
        | MessageReactionRemoveAll
        | MessageReactionRemoveEmoji => intents::DIRECT_MESSAGE_REACTIONS,
        MessagePollVoteAdd | MessagePollVoteRemove => intents::DIRECT_MESSAGE_POLLS,
        _ => 0,
    }
}

/// Whether a guild belongs to a shard: `(guild_id >> 22) % count == id`.
pub(crate) fn in_shard(guild_id: Snowflake, shard: [u64; 2]) -> bool {
    (guild_id.get() >> 22) % shard[1].max(1) == shard[0]
}

/// A client payload; `d` is parsed once the opcode is known.
#[derive(Debug, Deserialize)]
pub(crate) struct Inbound {
    pub(crate) op: u8,
    #[serde(default)]
    pub(crate) d: Value,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Identify {
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) intents: Option<u64>,
    #[serde(default)]
    pub(crate) shard: Option<[u64; 2]>,
    #[serde(default)]
    pub(crate) large_threshold: Option<u64>,
    #[serde(default)]
    pub(crate) presence: Option<PresenceSet>,
}

/// A presence a client sets, in IDENTIFY or op 3.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PresenceSet {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    activities: Option<Vec<Value>>,
    #[serde(default)]
    afk: Option<bool>,
}

impl PresenceSet {
    /// Unknown statuses read as online; "offline" from a client means invisible.
    pub(crate) fn into_presence(self) -> UserPresence {
        let status = match self.status.as_deref() {
            Some("idle") => Status::Idle,
            Some("dnd") => Status::Dnd,
            Some("invisible" | "offline") => Status::Invisible,
            _ => Status::Online,
        };
        let now = concord_model::snowflake::now_ms();
        let activities = self.activities.unwrap_or_default().into_iter();
        UserPresence {
            status,
            activities: activities.filter_map(|a| activity(a, now)).collect(),
            afk: self.afk.unwrap_or(false),
        }
    }
}

/// An activity as others are shown it: one with a name and a type, stamped
/// with when it was set (`created_at`, which Discord always sends and hikari
/// reads); anything else is dropped.
fn activity(mut activity: Value, now_ms: u64) -> Option<Value> {
    let object = activity.as_object_mut()?;
    let named = object.get("name").is_some_and(Value::is_string);
    let typed = object.get("type").is_some_and(Value::is_u64);
    if !named || !typed {
        return None;
    }
    object
        .entry("created_at")
        .or_insert_with(|| Value::from(now_ms));
    Some(activity)
}

#[derive(Debug, Deserialize)]
pub(crate) struct Resume {
    pub(crate) token: String,
    pub(crate) session_id: String,
    #[serde(default)]
    pub(crate) seq: Option<u64>,
}

/// Op 4: join, move or leave (`channel_id` null) a voice channel, and the
/// client's own mute and deafen (null reads as false).
#[derive(Debug, Deserialize)]
pub(crate) struct VoiceStateSet {
    pub(crate) guild_id: Snowflake,
    #[serde(default)]
    pub(crate) channel_id: Option<Snowflake>,
    #[serde(default)]
    pub(crate) self_mute: Option<bool>,
    #[serde(default)]
    pub(crate) self_deaf: Option<bool>,
    #[serde(default)]
    pub(crate) self_video: Option<bool>,
    #[serde(default)]
    pub(crate) self_stream: Option<bool>,
}

impl VoiceStateSet {
    pub(crate) fn into_request(self) -> concord_service::voice::VoiceRequest {
        concord_service::voice::VoiceRequest {
            guild_id: self.guild_id,
            channel_id: self.channel_id,
            self_mute: self.self_mute.unwrap_or(false),
            self_deaf: self.self_deaf.unwrap_or(false),
            self_video: self.self_video.unwrap_or(false),
            self_stream: self.self_stream.unwrap_or(false),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RequestGuildMembers {
    pub(crate) guild_id: Snowflake,
    #[serde(default)]
    pub(crate) query: Option<String>,
    #[serde(default)]
    pub(crate) limit: Option<usize>,
    #[serde(default)]
    pub(crate) user_ids: Option<UserIds>,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    /// Also the members' presences (needs GUILD_PRESENCES).
    #[serde(default)]
    pub(crate) presences: bool,
}

/// What Discord's client follows in one guild (op 14's `d` besides its
/// `guild_id`, and each entry of op 37's `subscriptions`). Only `members`
/// is acted on: the members whose presences the session follows there, in
/// place of those it followed before. Typing, threads, activities and
/// member-list ranges (`channels`) are accepted and ignored: a session
/// gets those events whatever it subscribed to.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GuildSubscription {
    #[serde(default)]
    pub(crate) members: Option<Vec<Snowflake>>,
}

/// Op 14: one guild's subscription.
#[derive(Debug, Deserialize)]
pub(crate) struct GuildSubscriptions {
    pub(crate) guild_id: Snowflake,
    #[serde(flatten)]
    pub(crate) subscription: GuildSubscription,
}

/// Op 37: subscriptions by guild id.
#[derive(Debug, Deserialize)]
pub(crate) struct GuildSubscriptionsBulk {
    #[serde(default)]
    pub(crate) subscriptions: std::collections::HashMap<String, GuildSubscription>,
}

impl GuildSubscriptionsBulk {
    /// Each guild named by a valid id, with its subscription.
    pub(crate) fn into_guilds(self) -> Vec<(Snowflake, GuildSubscription)> {
        self.subscriptions
            .into_iter()
            .filter_map(|(id, sub)| Some((Snowflake(id.parse().ok()?), sub)))
            .collect()
    }
}

/// `user_ids` may be one id or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum UserIds {
    One(Snowflake),
    Many(Vec<Snowflake>),
}

impl UserIds {
    pub(crate) fn into_vec(self) -> Vec<Snowflake> {
        match self {
            UserIds::One(id) => vec![id],
            UserIds::Many(ids) => ids,
        }
    }
}

/// A non-dispatch frame: `{"op":N,"d":...,"s":null,"t":null}`.
pub(crate) fn control(op: u8, d: &Value) -> String {
    format!(r#"{{"op":{op},"d":{d},"s":null,"t":null}}"#)
}

/// A dispatch frame around an already serialized `d`.
pub(crate) fn dispatch(seq: u64, kind: &str, data: &str) -> String {
    let mut frame = String::with_capacity(data.len() + kind.len() + 40);
    frame.push_str(r#"{"op":0,"s":"#);
    frame.push_str(&seq.to_string());
    frame.push_str(r#","t":""#);
    frame.push_str(kind);
    frame.push_str(r#"","d":"#);
    frame.push_str(data);
    frame.push('}');
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_valid_json_with_all_four_keys() {
        let v: Value =
            serde_json::from_str(&dispatch(7, "MESSAGE_CREATE", r#"{"id":"1"}"#)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"op":0,"s":7,"t":"MESSAGE_CREATE","d":{"id":"1"}})
        );
        let v: Value = serde_json::from_str(&control(
            op::HELLO,
            &serde_json::json!({"heartbeat_interval": 41250}),
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null})
        );
    }

    #[test]
    fn activities_are_stamped_and_nameless_ones_dropped() {
        let set: PresenceSet = serde_json::from_value(serde_json::json!({
            "status": "idle",
            "activities": [
                { "name": "chess", "type": 0 },
                { "name": "kept", "type": 2, "created_at": 5 },
                { "type": 0 },
                "chess",
            ],
        }))
        .unwrap();
        let presence = set.into_presence();
        assert_eq!(presence.activities.len(), 2);
        assert!(presence.activities[0]["created_at"].as_u64().unwrap() > 5);
        assert_eq!(presence.activities[1]["created_at"], 5);
    }

    #[test]
    fn shard_routing() {
        let guild = Snowflake(5 << 22);
        assert!(in_shard(guild, [1, 2]));
        assert!(!in_shard(guild, [0, 2]));
        assert!(in_shard(guild, [0, 1]));
    }

    #[test]
    fn valid_intents_mask() {
        let bits = (0..=16)
            .chain([20, 21, 24, 25])
            .fold(0u64, |a, b| a | 1 << b);
        assert_eq!(intents::VALID, bits);
        // discord.py's Intents.default() is valid.
        assert_eq!(53_575_421 & !intents::VALID, 0);
    }
}

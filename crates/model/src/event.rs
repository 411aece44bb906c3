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
    /// A vote for one answer of a poll: `{user_id, channel_id, message_id,
    /// guild_id, answer_id}`.
    MessagePollVoteAdd,
    MessagePollVoteRemove,
    InviteCreate,
    InviteDelete,
    TypingStart,
    PresenceUpdate,
    UserUpdate,
    /// The user's notification settings for a guild (or DMs) changed: the
    /// user guild settings object, to the user's sessions.
    UserGuildSettingsUpdate,
    /// A channel's webhooks changed: `{guild_id, channel_id}`.
    WebhooksUpdate,
    /// Who may use an application's commands in a guild changed: the
    /// guild command permissions object.
    ApplicationCommandPermissionsUpdate,
    /// To the application's bot: the whole interaction. To the invoker:
    /// `{id, nonce}`, it was accepted.
    InteractionCreate,
    /// To the invoker: the application answered in time.
    InteractionSuccess,
    /// To the invoker: no answer in time (`reason`).
    InteractionFailure,
    /// To the invoker: the application answered with a modal.
    InteractionModalCreate,
    /// To the invoker: the choices an autocomplete interaction got.
    ApplicationCommandAutocompleteResponse,
    /// A member's voice state changed (joined, moved, muted, left with
    /// `channel_id: null`): Discord's voice state object, to the guild.
    VoiceStateUpdate,
    /// To the one session named by the route: the voice server to connect
    /// to, `{token, guild_id, endpoint}`.
    VoiceServerUpdate,
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
            EventKind::MessagePollVoteAdd => "MESSAGE_POLL_VOTE_ADD",
            EventKind::MessagePollVoteRemove => "MESSAGE_POLL_VOTE_REMOVE",
            EventKind::InviteCreate => "INVITE_CREATE",
            EventKind::InviteDelete => "INVITE_DELETE",
            EventKind::TypingStart => "TYPING_START",
            EventKind::UserUpdate => "USER_UPDATE",
            EventKind::UserGuildSettingsUpdate => "USER_GUILD_SETTINGS_UPDATE",
            EventKind::WebhooksUpdate => "WEBHOOKS_UPDATE",
            EventKind::ApplicationCommandPermissionsUpdate => {
                "APPLICATION_COMMAND_PERMISSIONS_UPDATE"
            }
            EventKind::InteractionCreate => "INTERACTION_CREATE",
            EventKind::InteractionSuccess => "INTERACTION_SUCCESS",
            EventKind::InteractionFailure => "INTERACTION_FAILURE",
            EventKind::InteractionModalCreate => "INTERACTION_MODAL_CREATE",
            EventKind::ApplicationCommandAutocompleteResponse => {
                "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE"
            }
            EventKind::SessionsRevoked => "SESSIONS_REVOKED",
            EventKind::VoiceStateUpdate => "VOICE_STATE_UPDATE",
            EventKind::VoiceServerUpdate => "VOICE_SERVER_UPDATE",
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
        /// Each guild's member count when the event was published, in the
        /// order of `guild_ids`: a presence in a large guild reaches only
        /// the sessions that asked for that member's (Discord's lazy
        /// guilds), and whether a guild is large is decided per session
        /// (its `large_threshold`). Missing counts read as small guilds.
        #[serde(default)]
        member_counts: Vec<u64>,
    },
}

impl Audience {
    /// The guild and the channel the audience is bounded by, if any.
    fn guild_and_channel(&self) -> (Option<Snowflake>, Option<Snowflake>) {
        match self {
            Audience::Guild {
                guild_id,
                channel_id,
                ..
            } => (Some(*guild_id), *channel_id),
            Audience::Private { channel_id, .. } => (None, Some(*channel_id)),
            Audience::Users(_) | Audience::Guilds { .. } => (None, None),
        }
    }
}

/// The node that published an event, so a node can tell its own events
/// (whose effects it already applied) from other nodes'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

/// What an event is about, as typed fields filled once by the publisher,
/// so subscribers (the gateway, the search feed, cache invalidation) route
/// and filter without parsing the payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// The guild the event happens in: the guild itself for GUILD_*
    /// events, also for events sent to users (a guild joined or left, a
    /// thread membership), so a shard can tell whose it is.
    pub guild_id: Option<Snowflake>,
    /// The channel the event happens in; the channel itself for
    /// CHANNEL_* and THREAD_CREATE/UPDATE/DELETE.
    pub channel_id: Option<Snowflake>,
    /// The object the payload describes (its `id`): the message, the
    /// channel, the guild.
    pub id: Option<Snowflake>,
    /// The messages a bulk delete removed.
    pub ids: Vec<Snowflake>,
    /// The author of the message the event carries.
    pub author_id: Option<Snowflake>,
    /// The users the message mentions.
    pub mentions: Vec<Snowflake>,
    /// The user a member, ban or presence event is about.
    pub user_id: Option<Snowflake>,
    /// The one gateway session of the audience's users that gets the
    /// event (VOICE_SERVER_UPDATE); set by the publisher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Route {
    /// Reads the route from a dispatch's `d`, before it is serialized: the
    /// one place that knows where each payload keeps its ids.
    pub fn of(kind: EventKind, audience: &Audience, data: &serde_json::Value) -> Route {
        use EventKind::*;
        let id = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse().ok());
        let object = id(&data["id"]);
        let (audience_guild, audience_channel) = audience.guild_and_channel();
        let is_guild = matches!(kind, GuildCreate | GuildUpdate | GuildDelete);
        let is_channel = matches!(
            kind,
            ChannelCreate
                | ChannelUpdate
                | ChannelDelete
                | ThreadCreate
                | ThreadUpdate
                | ThreadDelete
        );
        let guild_id = audience_guild
            .or_else(|| id(&data["guild_id"]))
            .or(if is_guild { object } else { None });
        let channel_id = if is_channel {
            object
        } else {
            id(&data["channel_id"]).or(audience_channel)
        };
        let list = |v: &serde_json::Value, field: Option<&str>| -> Vec<Snowflake> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| id(field.map_or(item, |f| &item[f])))
                .collect()
        };
        Route {
            guild_id,
            channel_id,
            id: object,
            ids: list(&data["ids"], None),
            author_id: id(&data["author"]["id"]),
            mentions: list(&data["mentions"], Some("id")),
            user_id: id(&data["user"]["id"]).or_else(|| id(&data["user_id"])),
            session_id: None,
        }
    }
}

impl Route {
    /// What [`Route::of`] reads from a message's payload, taken from the
    /// typed message instead (a test holds the two to the same answer).
    fn of_message(audience: &Audience, message: &crate::wire::Message) -> Route {
        let (audience_guild, audience_channel) = audience.guild_and_channel();
        Route {
            guild_id: audience_guild.or(message.guild_id),
            channel_id: Some(message.channel_id).or(audience_channel),
            id: Some(message.id),
            author_id: Some(message.author.id),
            mentions: message.mentions.iter().map(|u| u.id).collect(),
            ..Route::default()
        }
    }
}

/// What a node subscribes to. An event is published on the topics of its
/// audience ([`Event::topics`]); a subscription interested in `All` gets
/// every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Events for a guild's members.
    Guild(Snowflake),
    /// Events for one user: their DMs and group DMs, and what is sent to
    /// them alone (a guild joined, their sessions revoked).
    User(Snowflake),
    /// Every event (the search feed, cache invalidation).
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned by the bus when published, increasing in publish order; 0
    /// before.
    pub id: u64,
    /// The node whose service published it.
    pub origin: NodeId,
    pub kind: EventKind,
    pub route: Route,
    pub audience: Audience,
    /// The dispatch's `d`, as JSON text.
    pub data: String,
    /// For a message, `data` without what the MESSAGE_CONTENT intent
    /// guards, serialized once by the service for the readers without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<String>,
}

impl Event {
    /// An event not yet published, its route read from `data`.
    pub fn new(
        kind: EventKind,
        audience: Audience,
        origin: NodeId,
        data: &serde_json::Value,
    ) -> Event {
        Event {
            id: 0,
            origin,
            kind,
            route: Route::of(kind, &audience, data),
            audience,
            data: data.to_string(),
            hidden: None,
        }
    }

    /// A message's dispatch (MESSAGE_CREATE, MESSAGE_UPDATE), serialized
    /// straight from the typed message and routed from its fields: the
    /// busiest event skips the detour through a `serde_json::Value`.
    pub fn message(
        kind: EventKind,
        audience: Audience,
        origin: NodeId,
        message: &crate::wire::Message,
    ) -> serde_json::Result<Event> {
        Ok(Event {
            id: 0,
            origin,
            kind,
            route: Route::of_message(&audience, message),
            audience,
            data: serde_json::to_string(message)?,
            hidden: None,
        })
    }

    pub fn guild_id(&self) -> Option<Snowflake> {
        match &self.audience {
            Audience::Guild { guild_id, .. } => Some(*guild_id),
            Audience::Private { .. } | Audience::Users(_) | Audience::Guilds { .. } => None,
        }
    }

    /// The topics the event is published on: its audience's guilds or
    /// users. A DM's participants hear of it on their user topics.
    pub fn topics(&self) -> Vec<Topic> {
        match &self.audience {
            Audience::Guild { guild_id, .. } => vec![Topic::Guild(*guild_id)],
            Audience::Guilds { guild_ids, .. } => {
                guild_ids.iter().map(|g| Topic::Guild(*g)).collect()
            }
            Audience::Private { recipients, .. } => {
                recipients.iter().map(|u| Topic::User(*u)).collect()
            }
            Audience::Users(users) => users.iter().map(|u| Topic::User(*u)).collect(),
        }
    }

    /// Whether a subscriber that wants the topics `wanted` says yes to
    /// gets this event ([`Event::topics`], without collecting them).
    pub fn is_on(&self, wanted: impl Fn(Topic) -> bool) -> bool {
        if wanted(Topic::All) {
            return true;
        }
        match &self.audience {
            Audience::Guild { guild_id, .. } => wanted(Topic::Guild(*guild_id)),
            Audience::Guilds { guild_ids, .. } => {
                guild_ids.iter().any(|g| wanted(Topic::Guild(*g)))
            }
            Audience::Private { recipients, .. } => {
                recipients.iter().any(|u| wanted(Topic::User(*u)))
            }
            Audience::Users(users) => users.iter().any(|u| wanted(Topic::User(*u))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    /// A message event routed from its typed fields is routed as one read
    /// from its JSON, in a guild and in a DM.
    #[test]
    fn a_message_routes_alike_typed_and_parsed() {
        use crate::{records, wire};
        let user = |id, name: &str| wire::User::from(&records::User::new(Snowflake(id), name));
        let mut record = records::Message::new(Snowflake(3), Snowflake(2), Snowflake(4), "hi");
        record.guild_id = Some(Snowflake(1));
        let mentions = vec![user(5, "e"), user(6, "f")];
        let in_guild = wire::Message::new(&record, user(4, "d"), mentions);
        let mut in_dm = in_guild.clone();
        in_dm.guild_id = None;
        let audiences = [
            (
                &in_guild,
                Audience::Guild {
                    guild_id: Snowflake(1),
                    channel_id: Some(Snowflake(2)),
                    required: Permissions::NONE,
                },
            ),
            (
                &in_dm,
                Audience::Private {
                    channel_id: Snowflake(2),
                    recipients: vec![Snowflake(4), Snowflake(7)],
                },
            ),
        ];
        for (message, audience) in audiences {
            let typed = Event::message(
                EventKind::MessageCreate,
                audience.clone(),
                NodeId(9),
                message,
            );
            let typed = typed.unwrap();
            let value = serde_json::to_value(message).unwrap();
            let parsed = Event::new(EventKind::MessageCreate, audience, NodeId(9), &value);
            assert_eq!(typed.route, parsed.route);
            assert_eq!(typed.route.mentions, vec![Snowflake(5), Snowflake(6)]);
            let data: serde_json::Value = serde_json::from_str(&typed.data).unwrap();
            assert_eq!(data, value);
        }
    }

    #[test]
    fn routes_are_read_from_the_payload_once() {
        let audience = Audience::Guild {
            guild_id: Snowflake(1),
            channel_id: Some(Snowflake(2)),
            required: Permissions::NONE,
        };
        let data = json!({
            "id": "3", "channel_id": "2", "author": {"id": "4"},
            "mentions": [{"id": "5"}, {"id": "6"}], "content": "hi"
        });
        let event = Event::new(EventKind::MessageCreate, audience, NodeId(9), &data);
        assert_eq!(
            event.route,
            Route {
                guild_id: Some(Snowflake(1)),
                channel_id: Some(Snowflake(2)),
                id: Some(Snowflake(3)),
                author_id: Some(Snowflake(4)),
                mentions: vec![Snowflake(5), Snowflake(6)],
                ..Route::default()
            }
        );
        assert_eq!(event.topics(), vec![Topic::Guild(Snowflake(1))]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&event.data).unwrap(),
            data
        );

        // A guild joined, sent to its new member: the guild is the object.
        let joined = Event::new(
            EventKind::GuildCreate,
            Audience::Users(vec![Snowflake(7)]),
            NodeId(9),
            &json!({"id": "8"}),
        );
        assert_eq!(joined.route.guild_id, Some(Snowflake(8)));
        assert_eq!(joined.topics(), vec![Topic::User(Snowflake(7))]);
        assert!(joined.is_on(|t| t == Topic::User(Snowflake(7))));
        assert!(!joined.is_on(|t| t == Topic::Guild(Snowflake(8))));
        assert!(joined.is_on(|t| t == Topic::All));

        // A channel event is about the channel itself.
        let edited = Event::new(
            EventKind::ChannelUpdate,
            Audience::Guild {
                guild_id: Snowflake(1),
                channel_id: None,
                required: Permissions::NONE,
            },
            NodeId(9),
            &json!({"id": "2", "guild_id": "1"}),
        );
        assert_eq!(edited.route.channel_id, Some(Snowflake(2)));

        let member = Event::new(
            EventKind::GuildMemberUpdate,
            Audience::Users(vec![]),
            NodeId(9),
            &json!({"guild_id": "1", "user": {"id": "4"}}),
        );
        assert_eq!(member.route.user_id, Some(Snowflake(4)));
        assert_eq!(member.route.guild_id, Some(Snowflake(1)));
        let bulk = Event::new(
            EventKind::MessageDeleteBulk,
            Audience::Users(vec![]),
            NodeId(9),
            &json!({"ids": ["3", "4"], "channel_id": "2"}),
        );
        assert_eq!(bulk.route.ids, vec![Snowflake(3), Snowflake(4)]);
    }

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

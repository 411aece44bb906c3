//! The JSON shapes clients read, built from records. Every field a client
//! library requires is always present (null when empty, `[]` for lists):
//! discord.py and discord.js crash on a missing key or a `null` list.

use serde::Serialize;
use serde_json::Value;

use crate::records::{self, channel_type};
use crate::timestamp::iso8601;
use crate::{Permissions, Snowflake};

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct User {
    pub id: Snowflake,
    pub username: String,
    pub discriminator: &'static str,
    pub global_name: Option<String>,
    pub avatar: Option<String>,
    pub bot: bool,
    pub system: bool,
    pub public_flags: u64,
    pub flags: u64,
    pub banner: Option<String>,
    pub accent_color: Option<u32>,
    pub avatar_decoration_data: Option<Value>,
    pub primary_guild: Option<Value>,
}

impl From<&records::User> for User {
    fn from(u: &records::User) -> Self {
        User {
            id: u.id,
            username: u.username.clone(),
            discriminator: "0",
            global_name: u.global_name.clone(),
            avatar: u.avatar.clone(),
            bot: u.bot,
            system: false,
            public_flags: 0,
            flags: 0,
            banner: None,
            accent_color: None,
            avatar_decoration_data: None,
            primary_guild: None,
        }
    }
}

impl User {
    /// The author of a webhook's message: the webhook (`id`), under the
    /// name and avatar it posted with, as a bot.
    pub fn webhook_author(id: Snowflake, author: &records::WebhookAuthor) -> User {
        User {
            discriminator: "0000",
            bot: true,
            avatar: author.avatar.clone(),
            ..User::from(&records::User::new(id, author.username.clone()))
        }
    }
}

/// The user a token belongs to, with the private fields only it may see.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CurrentUser {
    #[serde(flatten)]
    pub user: User,
    pub mfa_enabled: bool,
    pub verified: bool,
    pub email: Option<String>,
    pub locale: &'static str,
    pub premium_type: u8,
}

impl From<&records::User> for CurrentUser {
    fn from(u: &records::User) -> Self {
        CurrentUser {
            user: User::from(u),
            mfa_enabled: false,
            verified: true,
            email: if u.bot { None } else { u.email.clone() },
            locale: "en-US",
            premium_type: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Role {
    pub id: Snowflake,
    pub name: String,
    pub color: u32,
    pub colors: RoleColors,
    pub hoist: bool,
    pub icon: Option<String>,
    pub unicode_emoji: Option<String>,
    pub position: i32,
    pub permissions: Permissions,
    pub managed: bool,
    pub mentionable: bool,
    pub flags: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<RoleTags>,
}

/// What a managed role is managed by.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RoleTags {
    pub bot_id: Snowflake,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RoleColors {
    pub primary_color: u32,
    pub secondary_color: Option<u32>,
    pub tertiary_color: Option<u32>,
}

impl From<&records::Role> for Role {
    fn from(r: &records::Role) -> Self {
        Role {
            id: r.id,
            name: r.name.clone(),
            color: r.color,
            colors: RoleColors {
                primary_color: r.color,
                secondary_color: None,
                tertiary_color: None,
            },
            hoist: r.hoist,
            icon: None,
            unicode_emoji: None,
            position: r.position,
            permissions: r.permissions,
            managed: r.bot_id.is_some(),
            mentionable: r.mentionable,
            flags: 0,
            tags: r.bot_id.map(|bot_id| RoleTags { bot_id }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Guild {
    pub id: Snowflake,
    pub name: String,
    pub icon: Option<String>,
    pub icon_hash: Option<String>,
    pub splash: Option<String>,
    pub discovery_splash: Option<String>,
    pub banner: Option<String>,
    pub description: Option<String>,
    pub owner_id: Snowflake,
    pub application_id: Option<Snowflake>,
    pub region: &'static str,
    pub afk_channel_id: Option<Snowflake>,
    pub afk_timeout: u32,
    pub widget_enabled: bool,
    pub widget_channel_id: Option<Snowflake>,
    pub verification_level: u8,
    pub default_message_notifications: u8,
    pub explicit_content_filter: u8,
    pub mfa_level: u8,
    pub nsfw_level: u8,
    pub nsfw: bool,
    pub premium_tier: u8,
    pub premium_subscription_count: u32,
    pub premium_progress_bar_enabled: bool,
    pub preferred_locale: &'static str,
    pub vanity_url_code: Option<String>,
    pub max_members: u32,
    pub max_presences: Option<u32>,
    pub max_video_channel_users: u32,
    pub max_stage_video_channel_users: u32,
    pub system_channel_id: Option<Snowflake>,
    pub system_channel_flags: u64,
    pub rules_channel_id: Option<Snowflake>,
    pub public_updates_channel_id: Option<Snowflake>,
    pub safety_alerts_channel_id: Option<Snowflake>,
    pub features: Vec<String>,
    pub roles: Vec<Role>,
    pub emojis: Vec<Emoji>,
    pub stickers: Vec<Value>,
    pub incidents_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u64>,
}

impl Guild {
    pub fn new(g: &records::Guild, roles: &[records::Role]) -> Self {
        Guild {
            id: g.id,
            name: g.name.clone(),
            icon: g.icon.clone(),
            icon_hash: g.icon.clone(),
            splash: None,
            discovery_splash: None,
            banner: None,
            description: g.description.clone(),
            owner_id: g.owner_id,
            application_id: None,
            region: "deprecated",
            afk_channel_id: g.afk_channel_id,
            afk_timeout: g.afk_timeout,
            widget_enabled: false,
            widget_channel_id: None,
            verification_level: g.verification_level,
            default_message_notifications: g.default_message_notifications,
            explicit_content_filter: g.explicit_content_filter,
            mfa_level: 0,
            nsfw_level: 0,
            nsfw: false,
            premium_tier: 0,
            premium_subscription_count: 0,
            premium_progress_bar_enabled: false,
            preferred_locale: "en-US",
            vanity_url_code: None,
            max_members: 500_000,
            max_presences: None,
            max_video_channel_users: 25,
            max_stage_video_channel_users: 50,
            system_channel_id: g.system_channel_id,
            system_channel_flags: 0,
            rules_channel_id: None,
            public_updates_channel_id: None,
            safety_alerts_channel_id: None,
            features: Vec::new(),
            roles: roles.iter().map(Role::from).collect(),
            emojis: Vec::new(),
            stickers: Vec::new(),
            incidents_data: None,
            approximate_member_count: None,
        }
    }
}

/// An entry of `GET /users/@me/guilds`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PartialGuild {
    pub id: Snowflake,
    pub name: String,
    pub icon: Option<String>,
    pub banner: Option<String>,
    pub owner: bool,
    pub permissions: Permissions,
    pub features: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Channel {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    pub flags: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    pub name: String,
    pub position: i32,
    pub permission_overwrites: Vec<records::Overwrite>,
    pub parent_id: Option<Snowflake>,
    pub nsfw: bool,
    /// Private channels: the other participants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<User>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Snowflake>,
    #[serde(flatten)]
    pub extra: ChannelExtra,
}

/// Fields that only some channel types carry.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ChannelExtra {
    Text {
        topic: Option<String>,
        last_message_id: Option<Snowflake>,
        rate_limit_per_user: u32,
        last_pin_timestamp: Option<String>,
        default_auto_archive_duration: u32,
    },
    Voice {
        bitrate: u32,
        user_limit: u32,
        rtc_region: Option<String>,
        rate_limit_per_user: u32,
        last_message_id: Option<Snowflake>,
    },
    Private {
        last_message_id: Option<Snowflake>,
    },
    GroupDm {
        last_message_id: Option<Snowflake>,
        icon: Option<String>,
    },
    Thread(Box<ThreadFields>),
    Forum {
        topic: Option<String>,
        last_message_id: Option<Snowflake>,
        rate_limit_per_user: u32,
        default_auto_archive_duration: u32,
        available_tags: Vec<records::ForumTag>,
        default_reaction_emoji: Option<Value>,
        default_sort_order: Option<u8>,
        default_forum_layout: u8,
        default_thread_rate_limit_per_user: u32,
    },
    None {},
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ThreadFields {
    pub last_message_id: Option<Snowflake>,
    pub rate_limit_per_user: u32,
    pub message_count: u32,
    pub member_count: u32,
    pub total_message_sent: u32,
    pub thread_metadata: ThreadMetadata,
    pub applied_tags: Vec<Snowflake>,
    /// The requester's membership, where the route gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<ThreadMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ThreadMetadata {
    pub archived: bool,
    pub auto_archive_duration: u32,
    pub archive_timestamp: String,
    pub locked: bool,
    /// Private threads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitable: Option<bool>,
    pub create_timestamp: String,
}

/// A thread member. In a thread object, `id` and `user_id` are left out.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ThreadMember {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Snowflake>,
    pub join_timestamp: String,
    pub flags: u64,
    /// The guild member, when asked for (`with_member`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
}

impl ThreadMember {
    pub fn new(m: &records::ThreadMember) -> Self {
        ThreadMember {
            id: Some(m.thread_id),
            user_id: Some(m.user_id),
            join_timestamp: iso8601(m.join_ms),
            flags: m.flags,
            member: None,
        }
    }

    /// As nested in a thread of GUILD_CREATE, the one place Discord leaves
    /// the ids out (everywhere else they are there, and hikari needs them).
    pub fn nested(m: &records::ThreadMember) -> Self {
        ThreadMember {
            id: None,
            user_id: None,
            ..ThreadMember::new(m)
        }
    }
}

impl Channel {
    /// Adds the requester's membership to a thread (nothing for other channels).
    pub fn set_thread_member(&mut self, joined: Option<ThreadMember>) {
        if let ChannelExtra::Thread(fields) = &mut self.extra {
            fields.member = joined;
        }
    }

    pub fn new(c: &records::Channel, last_message_id: Option<Snowflake>) -> Self {
        let extra = match c.kind {
            channel_type::GUILD_VOICE => ChannelExtra::Voice {
                bitrate: c.bitrate.unwrap_or(64_000),
                user_limit: c.user_limit.unwrap_or(0),
                rtc_region: c.rtc_region.clone(),
                rate_limit_per_user: c.rate_limit_per_user,
                last_message_id,
            },
            channel_type::GUILD_CATEGORY => ChannelExtra::None {},
            channel_type::DM => ChannelExtra::Private { last_message_id },
            channel_type::GROUP_DM => ChannelExtra::GroupDm {
                last_message_id,
                icon: c.icon.clone(),
            },
            channel_type::GUILD_FORUM => ChannelExtra::Forum {
                topic: c.topic.clone(),
                last_message_id,
                rate_limit_per_user: c.rate_limit_per_user,
                default_auto_archive_duration: 1440,
                available_tags: c.available_tags.clone(),
                default_reaction_emoji: None,
                default_sort_order: None,
                default_forum_layout: 0,
                default_thread_rate_limit_per_user: 0,
            },
            kind if channel_type::is_thread(kind) => {
                let t = c
                    .thread
                    .clone()
                    .unwrap_or_else(|| records::ThreadState::new(1440, 0));
                ChannelExtra::Thread(Box::new(ThreadFields {
                    last_message_id,
                    rate_limit_per_user: c.rate_limit_per_user,
                    message_count: t.message_count,
                    member_count: t.member_count,
                    total_message_sent: t.total_message_sent,
                    thread_metadata: ThreadMetadata {
                        archived: t.archived,
                        auto_archive_duration: t.auto_archive_duration,
                        archive_timestamp: iso8601(t.archive_ms),
                        locked: t.locked,
                        invitable: (kind == channel_type::PRIVATE_THREAD).then_some(t.invitable),
                        create_timestamp: iso8601(t.create_ms),
                    },
                    applied_tags: t.applied_tags.clone(),
                    member: None,
                }))
            }
            _ => ChannelExtra::Text {
                topic: c.topic.clone(),
                last_message_id,
                rate_limit_per_user: c.rate_limit_per_user,
                last_pin_timestamp: None,
                default_auto_archive_duration: 1440,
            },
        };
        Channel {
            id: c.id,
            kind: c.kind,
            flags: c.flags,
            guild_id: c.guild_id,
            name: c.name.clone(),
            position: c.position,
            permission_overwrites: c.permission_overwrites.clone(),
            parent_id: c.parent_id,
            nsfw: c.nsfw,
            recipients: None,
            owner_id: c.owner_id,
            extra,
        }
    }
}

/// Discord's voice state object: a member in a voice channel, or leaving
/// one (`channel_id` null in that VOICE_STATE_UPDATE). GUILD_CREATE lists
/// the guild's states without `guild_id` and `member`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct VoiceState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    pub channel_id: Option<Snowflake>,
    pub user_id: Snowflake,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    pub session_id: String,
    pub deaf: bool,
    pub mute: bool,
    pub self_deaf: bool,
    pub self_mute: bool,
    pub self_stream: bool,
    pub self_video: bool,
    pub suppress: bool,
    pub request_to_speak_timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Member {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub nick: Option<String>,
    pub avatar: Option<String>,
    pub banner: Option<String>,
    pub roles: Vec<Snowflake>,
    pub joined_at: String,
    pub premium_since: Option<String>,
    pub deaf: bool,
    pub mute: bool,
    pub flags: u64,
    pub pending: bool,
    pub communication_disabled_until: Option<String>,
}

impl Member {
    /// `user` is `None` only inside MESSAGE_* payloads, as on Discord.
    pub fn new(m: &records::Member, user: Option<User>) -> Self {
        Member {
            user,
            nick: m.nick.clone(),
            avatar: None,
            banner: None,
            roles: m.roles.clone(),
            joined_at: iso8601(m.joined_at_ms),
            premium_since: None,
            deaf: m.deaf,
            mute: m.mute,
            flags: 0,
            pending: false,
            communication_disabled_until: m.communication_disabled_until_ms.map(iso8601),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MessageReference {
    #[serde(rename = "type")]
    pub kind: u8,
    pub message_id: Snowflake,
    pub channel_id: Snowflake,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Message {
    pub id: Snowflake,
    pub channel_id: Snowflake,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    pub author: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    pub content: String,
    pub timestamp: String,
    pub edited_timestamp: Option<String>,
    pub tts: bool,
    pub mention_everyone: bool,
    pub mentions: Vec<User>,
    pub mention_roles: Vec<Snowflake>,
    pub attachments: Vec<Attachment>,
    pub embeds: Vec<Value>,
    pub pinned: bool,
    #[serde(rename = "type")]
    pub kind: u8,
    pub flags: u64,
    pub components: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
    /// Omitted when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<Reaction>>,
    /// Present on replies: the message replied to, or `null` if deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_message: Option<Option<Box<Message>>>,
    /// The thread started from this message, if any (omitted, never `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Box<Channel>>,
    /// The webhook that posted it (its author's id), if one did; for an
    /// interaction's response, the application's id, as Discord gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// The application whose interaction this message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Snowflake>,
    /// The interaction it answers ([`interaction_metadata`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction_metadata: Option<Value>,
    /// The same, in the shape Discord used before `interaction_metadata`
    /// (older libraries read it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction: Option<Value>,
}

/// A poll as clients read it; `results` are the votes counted at
/// rendering, `me_voted` the reader's own.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Poll {
    pub question: PollMedia,
    pub answers: Vec<PollAnswer>,
    pub expiry: Option<String>,
    pub allow_multiselect: bool,
    pub layout_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<PollResults>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PollMedia {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<PollEmoji>,
}

/// A partial emoji: `id` for a custom one, `name` for a unicode one.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PollEmoji {
    pub id: Option<Snowflake>,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub animated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PollAnswer {
    pub answer_id: u8,
    pub poll_media: PollMedia,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PollResults {
    pub is_finalized: bool,
    /// Answers with at least one vote, by answer id.
    pub answer_counts: Vec<PollAnswerCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PollAnswerCount {
    pub id: u8,
    pub count: u64,
    pub me_voted: bool,
}

impl Poll {
    /// The poll without results: those are counted where it is rendered.
    pub fn new(poll: &records::Poll) -> Self {
        Poll {
            question: PollMedia {
                text: Some(poll.question.clone()),
                emoji: None,
            },
            answers: poll
                .answers
                .iter()
                .map(|a| PollAnswer {
                    answer_id: a.answer_id,
                    poll_media: PollMedia {
                        text: Some(a.text.clone()),
                        emoji: a.emoji.as_ref().map(|e| PollEmoji {
                            id: e.id,
                            name: e.name.clone(),
                            animated: e.animated,
                        }),
                    },
                })
                .collect(),
            expiry: Some(iso8601(poll.expiry_ms)),
            allow_multiselect: poll.allow_multiselect,
            layout_type: poll.layout_type,
            results: None,
        }
    }
}

/// Who authorized the application where it was invoked, keyed by
/// installation type: a guild's installation (its id, or "0" in a DM with
/// the bot), or the invoker's own.
pub fn authorizing_integration_owners(
    guild_id: Option<Snowflake>,
    user_install: bool,
    user_id: Snowflake,
) -> Value {
    match (guild_id, user_install) {
        (_, true) => serde_json::json!({ "1": user_id }),
        (Some(guild_id), false) => serde_json::json!({ "0": guild_id }),
        (None, false) => serde_json::json!({ "0": "0" }),
    }
}

/// `interaction_metadata` as Discord gives it, `user` the invoker.
pub fn interaction_metadata(m: &records::InteractionMetadata, user: &User) -> Value {
    let owners = authorizing_integration_owners(m.guild_id, m.user_install, m.user_id);
    let mut out = serde_json::json!({
        "id": m.id,
        "type": m.kind,
        "user": user,
        "authorizing_integration_owners": owners,
    });
    let fields = [
        ("name", m.name.as_ref().map(|n| Value::from(n.as_str()))),
        ("command_type", m.command_type.map(Value::from)),
        (
            "original_response_message_id",
            m.original_response_message_id
                .map(|id| Value::from(id.to_string())),
        ),
        (
            "interacted_message_id",
            m.interacted_message_id
                .map(|id| Value::from(id.to_string())),
        ),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            out[key] = value;
        }
    }
    out
}

/// The deprecated `interaction` field: the id, type, command name and
/// invoker.
pub fn message_interaction(m: &records::InteractionMetadata, user: &User) -> Value {
    serde_json::json!({
        "id": m.id,
        "type": m.kind,
        "name": m.name.clone().unwrap_or_default(),
        "user": user,
    })
}

/// An attachment as clients read it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Attachment {
    pub id: Snowflake,
    pub filename: String,
    pub size: u64,
    pub url: String,
    pub proxy_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Attachment {
    /// `url` is where the file may be fetched from (a signed, expiring
    /// URL: see the service's `signed_urls`); `proxy_url` is the same.
    pub fn new(a: &records::Attachment, url: String) -> Self {
        Attachment {
            id: a.id,
            filename: a.filename.clone(),
            size: a.size,
            proxy_url: url.clone(),
            url,
            content_type: a.content_type.clone(),
            width: a.width,
            height: a.height,
            description: a.description.clone(),
        }
    }
}

/// Discord's exceptions to the MESSAGE_CONTENT intent: a reader without it
/// still gets the content of its own messages, of those that mention it,
/// and of every message in a DM. The one rule, for HTTP (the application's
/// flag) and the gateway (the session's intents) alike.
pub fn content_shown_without_intent(
    reader: Snowflake,
    author: Snowflake,
    mentions: &[Snowflake],
    private: bool,
) -> bool {
    private || author == reader || mentions.contains(&reader)
}

impl Message {
    /// Whether `reader`, without the MESSAGE_CONTENT intent, still gets
    /// this message's content ([`content_shown_without_intent`]).
    pub fn shows_content_to(&self, reader: Snowflake) -> bool {
        let mentions: Vec<Snowflake> = self.mentions.iter().map(|u| u.id).collect();
        content_shown_without_intent(reader, self.author.id, &mentions, self.guild_id.is_none())
    }

    /// Empties what the MESSAGE_CONTENT intent guards, here and in the
    /// message it replies to.
    pub fn hide_content(&mut self) {
        self.content.clear();
        self.embeds.clear();
        self.attachments.clear();
        self.components.clear();
        self.poll = None;
        if let Some(Some(referenced)) = &mut self.referenced_message {
            referenced.hide_content();
        }
    }

    /// `author` and `mentions` are the users the record names, looked up by the caller.
    pub fn new(m: &records::Message, author: User, mentions: Vec<User>) -> Self {
        Message {
            id: m.id,
            channel_id: m.channel_id,
            guild_id: m.guild_id,
            author,
            member: None,
            content: m.content.clone(),
            timestamp: iso8601(m.id.timestamp_ms()),
            edited_timestamp: m.edited_ms.map(iso8601),
            tts: m.tts,
            mention_everyone: m.mention_everyone,
            mentions,
            mention_roles: m.mention_roles.clone(),
            attachments: Vec::new(),
            embeds: m.embeds.clone(),
            pinned: m.pinned,
            kind: m.kind,
            flags: m.flags,
            components: m.components.clone(),
            nonce: m.nonce.clone(),
            message_reference: m.message_reference.map(|r| MessageReference {
                kind: 0,
                message_id: r.message_id,
                channel_id: r.channel_id,
                guild_id: r.guild_id,
            }),
            referenced_message: None,
            thread: None,
            webhook_id: match (&m.webhook, &m.interaction) {
                (Some(_), _) => Some(m.author_id),
                (None, Some(i)) => Some(i.application_id),
                (None, None) => None,
            },
            poll: m.poll.as_ref().map(Poll::new),
            application_id: m.interaction.as_ref().map(|i| i.application_id),
            interaction_metadata: None,
            interaction: None,
            reactions: (!m.reactions.is_empty())
                .then(|| m.reactions.iter().map(Reaction::from).collect()),
        }
    }
}

/// A guild's custom emoji.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Emoji {
    pub id: Snowflake,
    pub name: String,
    pub roles: Vec<Snowflake>,
    /// Who uploaded it; only to those who may manage emoji.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub require_colons: bool,
    pub managed: bool,
    pub animated: bool,
    pub available: bool,
}

impl Emoji {
    pub fn new(e: &records::Emoji, user: Option<User>) -> Emoji {
        Emoji {
            id: e.id,
            name: e.name.clone(),
            roles: e.roles.clone(),
            user,
            require_colons: true,
            managed: false,
            animated: e.animated,
            available: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PartialEmoji {
    pub id: Option<Snowflake>,
    pub name: String,
}

impl PartialEmoji {
    /// From `name` (unicode) or `name:id` (custom).
    pub fn parse(emoji: &str) -> PartialEmoji {
        match emoji.split_once(':') {
            Some((name, id)) => PartialEmoji {
                id: id.parse().ok(),
                name: name.to_owned(),
            },
            None => PartialEmoji {
                id: None,
                name: emoji.to_owned(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReactionCountDetails {
    pub burst: u32,
    pub normal: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Reaction {
    pub count: u32,
    pub count_details: ReactionCountDetails,
    /// Whether the reader reacted: filled in per reader.
    pub me: bool,
    pub me_burst: bool,
    pub burst_colors: Vec<String>,
    pub emoji: PartialEmoji,
}

impl From<&records::ReactionCount> for Reaction {
    fn from(r: &records::ReactionCount) -> Self {
        Reaction {
            count: r.count,
            count_details: ReactionCountDetails {
                burst: 0,
                normal: r.count,
            },
            me: false,
            me_burst: false,
            burst_colors: Vec::new(),
            emoji: PartialEmoji::parse(&r.emoji),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct InviteGuild {
    pub id: Snowflake,
    pub name: String,
    pub icon: Option<String>,
    pub splash: Option<String>,
    pub banner: Option<String>,
    pub description: Option<String>,
    pub features: Vec<String>,
    pub verification_level: u8,
    pub vanity_url_code: Option<String>,
    pub nsfw_level: u8,
    pub nsfw: bool,
    pub premium_subscription_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct InviteChannel {
    pub id: Snowflake,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Invite {
    #[serde(rename = "type")]
    pub kind: u8,
    pub code: String,
    pub guild_id: Snowflake,
    pub guild: InviteGuild,
    pub channel: InviteChannel,
    pub inviter: Option<User>,
    pub expires_at: Option<String>,
    pub uses: u32,
    pub max_uses: u32,
    pub max_age: u32,
    pub temporary: bool,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u64>,
}

impl Invite {
    pub fn new(
        i: &records::Invite,
        guild: &records::Guild,
        channel: &records::Channel,
        inviter: Option<User>,
    ) -> Self {
        Invite {
            kind: 0,
            code: i.code.clone(),
            guild_id: i.guild_id,
            guild: InviteGuild {
                id: guild.id,
                name: guild.name.clone(),
                icon: guild.icon.clone(),
                splash: None,
                banner: None,
                description: guild.description.clone(),
                features: Vec::new(),
                verification_level: guild.verification_level,
                vanity_url_code: None,
                nsfw_level: 0,
                nsfw: false,
                premium_subscription_count: 0,
            },
            channel: InviteChannel {
                id: channel.id,
                name: channel.name.clone(),
                kind: channel.kind,
            },
            inviter,
            expires_at: i.expires_ms().map(iso8601),
            uses: i.uses,
            max_uses: i.max_uses,
            max_age: i.max_age,
            temporary: i.temporary,
            created_at: iso8601(i.created_ms),
            approximate_member_count: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Application {
    pub id: Snowflake,
    pub name: String,
    pub icon: Option<String>,
    pub description: String,
    pub summary: &'static str,
    pub bot_public: bool,
    pub bot_require_code_grant: bool,
    pub owner: User,
    pub verify_key: String,
    pub team: Option<Value>,
    pub flags: u64,
    pub redirect_uris: Vec<String>,
    pub interactions_endpoint_url: Option<String>,
    pub bot: User,
}

/// Application flags advertising which privileged intents are allowed.
pub mod application_flags {
    pub const GATEWAY_PRESENCE_LIMITED: u64 = 1 << 13;
    pub const GATEWAY_GUILD_MEMBERS_LIMITED: u64 = 1 << 15;
    pub const GATEWAY_MESSAGE_CONTENT_LIMITED: u64 = 1 << 19;
}

/// The privileged intents an application may use, as its flag bits.
pub fn application_flags(a: &records::Application) -> u64 {
    use application_flags::*;
    [
        (a.allow_presences, GATEWAY_PRESENCE_LIMITED),
        (a.allow_members, GATEWAY_GUILD_MEMBERS_LIMITED),
        (a.allow_message_content, GATEWAY_MESSAGE_CONTENT_LIMITED),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, bit)| acc | bit)
}

impl Application {
    /// `verify_key`: the hex of the public key its interactions are signed with.
    pub fn new(a: &records::Application, owner: User, bot: User, verify_key: String) -> Self {
        let flags = application_flags(a);
        Application {
            id: a.id,
            name: a.name.clone(),
            icon: None,
            description: a.description.clone(),
            summary: "",
            bot_public: a.bot_public,
            bot_require_code_grant: false,
            owner,
            verify_key,
            team: None,
            flags,
            redirect_uris: Vec::new(),
            interactions_endpoint_url: a.interactions_endpoint_url.clone(),
            bot,
        }
    }
}

/// An audit log entry as clients get it (the log's entries and
/// GUILD_AUDIT_LOG_ENTRY_CREATE): `target_id` is always there, null when
/// nothing was targeted, as Discord sends it and hikari reads it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub id: Snowflake,
    pub guild_id: Snowflake,
    pub user_id: Snowflake,
    pub target_id: Option<Snowflake>,
    pub action_type: u16,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&records::AuditEntry> for AuditEntry {
    fn from(e: &records::AuditEntry) -> Self {
        AuditEntry {
            id: e.id,
            guild_id: e.guild_id,
            user_id: e.user_id,
            target_id: e.target_id,
            action_type: e.action_type,
            changes: e.changes.clone(),
            options: e.options.clone(),
            reason: e.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> records::User {
        records::User {
            email: Some("ada@example.com".into()),
            password_hash: Some("secret".into()),
            ..records::User::new(Snowflake(5), "ada")
        }
    }

    #[test]
    fn user_golden() {
        let v = serde_json::to_value(User::from(&user())).unwrap();
        assert_eq!(
            v,
            json!({"id":"5","username":"ada","discriminator":"0","global_name":null,"avatar":null,
                "bot":false,"system":false,"public_flags":0,"flags":0,"banner":null,"accent_color":null,
                "avatar_decoration_data":null,"primary_guild":null})
        );
        let current = serde_json::to_value(CurrentUser::from(&user())).unwrap();
        assert_eq!(current["email"], "ada@example.com");
        assert_eq!(current["mfa_enabled"], false);
        assert!(current.get("password_hash").is_none());
    }

    #[test]
    fn message_lists_are_never_null_and_optionals_absent() {
        let mut m = records::Message::new(
            Snowflake(175_928_847_299_117_063),
            Snowflake(2),
            Snowflake(5),
            "hello",
        );
        m.guild_id = Some(Snowflake(3));
        let v = serde_json::to_value(Message::new(&m, User::from(&user()), vec![])).unwrap();
        for list in [
            "mentions",
            "mention_roles",
            "attachments",
            "embeds",
            "components",
        ] {
            assert_eq!(v[list], json!([]), "{list}");
        }
        for absent in [
            "nonce",
            "message_reference",
            "referenced_message",
            "member",
            "thread",
        ] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
        assert_eq!(v["timestamp"], "2016-04-30T11:18:25.796000+00:00");
        assert_eq!(v["edited_timestamp"], Value::Null);
        assert_eq!(v["guild_id"], "3");
    }

    #[test]
    fn threads_carry_metadata_and_counts() {
        let mut c = records::Channel::new(
            Snowflake(9),
            channel_type::PUBLIC_THREAD,
            Snowflake(3),
            "talk",
        );
        c.parent_id = Some(Snowflake(4));
        c.thread = Some(records::ThreadState::new(60, 1_462_015_105_796));
        let v = serde_json::to_value(Channel::new(&c, None)).unwrap();
        for field in ["message_count", "member_count", "total_message_sent"] {
            assert_eq!(v[field], 0, "{field}");
        }
        let meta = &v["thread_metadata"];
        assert_eq!(meta["archived"], false);
        assert_eq!(meta["auto_archive_duration"], 60);
        assert_eq!(
            meta["archive_timestamp"],
            "2016-04-30T11:18:25.796000+00:00"
        );
        assert!(meta.get("invitable").is_none(), "public threads have none");
        assert!(v.get("member").is_none(), "no membership unless given");
        assert_eq!(v["parent_id"], "4");
    }

    #[test]
    fn voice_channels_carry_bitrate_and_user_limit() {
        let c = records::Channel::new(
            Snowflake(9),
            channel_type::GUILD_VOICE,
            Snowflake(3),
            "Voice",
        );
        let v = serde_json::to_value(Channel::new(&c, None)).unwrap();
        assert_eq!(v["bitrate"], 64_000);
        assert_eq!(v["user_limit"], 0);
        assert_eq!(v["type"], 2);
        assert!(v.get("topic").is_none());
    }

    fn command(guild: Option<u64>) -> records::Command {
        records::Command {
            id: Snowflake(10),
            application_id: Snowflake(2),
            guild_id: guild.map(Snowflake),
            kind: 1,
            name: "blep".into(),
            name_localizations: Some([("fr".to_owned(), "blep-fr".to_owned())].into()),
            description: "Blep".into(),
            description_localizations: None,
            options: vec![records::CommandOption {
                kind: 4,
                name: "n".into(),
                name_localizations: None,
                description: "How many".into(),
                description_localizations: Some([("fr".to_owned(), "Combien".to_owned())].into()),
                required: false,
                choices: Vec::new(),
                options: Vec::new(),
                channel_types: Vec::new(),
                min_value: Some(1.into()),
                max_value: None,
                min_length: None,
                max_length: None,
                autocomplete: true,
            }],
            default_member_permissions: Some(Permissions(8)),
            dm_permission: true,
            nsfw: false,
            contexts: None,
            integration_types: None,
            version: Snowflake(11),
        }
    }

    #[test]
    fn application_command_golden() {
        let global = ApplicationCommand::new(&command(None), Localized::Full);
        assert_eq!(
            serde_json::to_value(global).unwrap(),
            json!({
                "id": "10", "application_id": "2", "version": "11",
                "default_member_permissions": "8", "type": 1, "name": "blep",
                "name_localizations": { "fr": "blep-fr" }, "description": "Blep",
                "description_localizations": null, "dm_permission": true, "contexts": null,
                "integration_types": [0], "nsfw": false,
                "options": [{ "type": 4, "name": "n", "description": "How many",
                    "description_localizations": { "fr": "Combien" },
                    "min_value": 1, "autocomplete": true }],
            })
        );
        // A guild's, listed for a French reader.
        let listed = ApplicationCommand::new(&command(Some(7)), Localized::For(Some("fr")));
        assert_eq!(
            serde_json::to_value(listed).unwrap(),
            json!({
                "id": "10", "application_id": "2", "version": "11",
                "default_member_permissions": "8", "type": 1, "name": "blep",
                "name_localized": "blep-fr", "description": "Blep", "guild_id": "7",
                "nsfw": false,
                "options": [{ "type": 4, "name": "n", "description": "How many",
                    "description_localized": "Combien", "min_value": 1, "autocomplete": true }],
            })
        );
    }
}

/// A guild as GUILD_CREATE carries it: the guild plus its state.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GuildCreate {
    #[serde(flatten)]
    pub guild: Guild,
    pub joined_at: String,
    pub large: bool,
    pub unavailable: bool,
    pub member_count: u64,
    pub members: Vec<Member>,
    pub channels: Vec<Channel>,
    pub threads: Vec<Channel>,
    pub presences: Vec<Value>,
    pub voice_states: Vec<Value>,
    pub stage_instances: Vec<Value>,
    pub guild_scheduled_events: Vec<Value>,
    pub soundboard_sounds: Vec<Value>,
}

/// A webhook as Discord returns it. `user` (its creator) and `token` are
/// shown to those who manage webhooks; `url` is where it is executed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Webhook {
    pub id: Snowflake,
    /// 1: incoming.
    #[serde(rename = "type")]
    pub kind: u8,
    pub guild_id: Snowflake,
    pub channel_id: Snowflake,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub name: String,
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub application_id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Webhook {
    /// Without its creator, token or URL: what a token holder reads.
    pub fn new(w: &records::Webhook) -> Webhook {
        Webhook {
            id: w.id,
            kind: 1,
            guild_id: w.guild_id,
            channel_id: w.channel_id,
            user: None,
            name: w.name.clone(),
            avatar: w.avatar.clone(),
            token: None,
            application_id: None,
            url: None,
        }
    }

    /// With its creator, token and URL (`api_base`: the server's URL up to
    /// and with `/api/v10`), for those who manage it.
    pub fn managed(w: &records::Webhook, user: User, api_base: &str) -> Webhook {
        Webhook {
            user: Some(user),
            token: Some(w.token.clone()),
            url: Some(format!("{api_base}/webhooks/{}/{}", w.id, w.token)),
            ..Webhook::new(w)
        }
    }
}

/// How a command's localizations are shown: the whole dictionaries (as
/// every route but the lists does by default), or only the text for the
/// reader's locale (`name_localized`), as the lists do without
/// `with_localizations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Localized<'a> {
    Full,
    For(Option<&'a str>),
}

impl Localized<'_> {
    /// The dictionary field: present (maybe null) in full, else absent.
    fn dictionary(
        self,
        l: &Option<records::Localizations>,
    ) -> Option<Option<records::Localizations>> {
        (self == Localized::Full).then(|| l.clone())
    }

    /// The `*_localized` field: the reader's locale's text, if any.
    fn text(self, l: &Option<records::Localizations>) -> Option<String> {
        match self {
            Localized::Full => None,
            Localized::For(locale) => l.as_ref()?.get(locale?).cloned(),
        }
    }
}

/// An application command as Discord returns it. Global commands carry
/// `dm_permission`, `contexts` and `integration_types`; guild commands
/// `guild_id` instead.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ApplicationCommand {
    pub id: Snowflake,
    pub application_id: Snowflake,
    pub version: Snowflake,
    pub default_member_permissions: Option<Permissions>,
    #[serde(rename = "type")]
    pub kind: u8,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<Option<records::Localizations>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_localized: Option<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_localizations: Option<Option<records::Localizations>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_localized: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dm_permission: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Option<Vec<u8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_types: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    pub nsfw: bool,
}

impl ApplicationCommand {
    pub fn new(c: &records::Command, localized: Localized<'_>) -> ApplicationCommand {
        let global = c.guild_id.is_none();
        ApplicationCommand {
            id: c.id,
            application_id: c.application_id,
            version: c.version,
            default_member_permissions: c.default_member_permissions,
            kind: c.kind,
            name: c.name.clone(),
            name_localizations: localized.dictionary(&c.name_localizations),
            name_localized: localized.text(&c.name_localizations),
            description: c.description.clone(),
            description_localizations: localized.dictionary(&c.description_localizations),
            description_localized: localized.text(&c.description_localizations),
            guild_id: c.guild_id,
            dm_permission: global.then_some(c.dm_permission),
            contexts: global.then(|| c.contexts.clone()),
            integration_types: global.then(|| c.allowed_integration_types()),
            options: c
                .options
                .iter()
                .map(|o| CommandOption::new(o, localized))
                .collect(),
            nsfw: c.nsfw,
        }
    }
}

/// A command's option as Discord returns it: fields that do not apply to
/// its type are left out, as are `required` and `autocomplete` when false.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CommandOption {
    #[serde(rename = "type")]
    pub kind: u8,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<records::Localizations>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_localized: Option<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_localizations: Option<records::Localizations>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_localized: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<CommandChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channel_types: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_value: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_value: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u16>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub autocomplete: bool,
}

impl CommandOption {
    fn new(o: &records::CommandOption, localized: Localized<'_>) -> CommandOption {
        CommandOption {
            kind: o.kind,
            name: o.name.clone(),
            name_localizations: localized.dictionary(&o.name_localizations).flatten(),
            name_localized: localized.text(&o.name_localizations),
            description: o.description.clone(),
            description_localizations: localized.dictionary(&o.description_localizations).flatten(),
            description_localized: localized.text(&o.description_localizations),
            required: o.required,
            choices: o
                .choices
                .iter()
                .map(|c| CommandChoice {
                    name: c.name.clone(),
                    name_localizations: localized.dictionary(&c.name_localizations).flatten(),
                    name_localized: localized.text(&c.name_localizations),
                    value: c.value.clone(),
                })
                .collect(),
            options: o
                .options
                .iter()
                .map(|o| CommandOption::new(o, localized))
                .collect(),
            channel_types: o.channel_types.clone(),
            min_value: o.min_value.clone(),
            max_value: o.max_value.clone(),
            min_length: o.min_length,
            max_length: o.max_length,
            autocomplete: o.autocomplete,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CommandChoice {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<records::Localizations>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_localized: Option<String>,
    pub value: Value,
}

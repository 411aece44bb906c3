//! What the store keeps. Optional fields are skipped when empty, so a record
//! holds only the columns that have values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Permissions, Snowflake};

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Snowflake,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The blob holding the avatar's bytes (see [`Images`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_blob: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub bot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// argon2id PHC string; bots have none and cannot log in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Bumped to revoke every token issued before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub token_generation: u64,
    /// An instance administrator (not a guild role): may use the admin API.
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin: bool,
    /// Disabled by an administrator: cannot log in, tokens refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

impl User {
    /// A plain account with nothing but a name.
    pub fn new(id: Snowflake, username: impl Into<String>) -> User {
        User {
            id,
            username: username.into(),
            global_name: None,
            avatar: None,
            avatar_blob: None,
            bot: false,
            email: None,
            password_hash: None,
            token_generation: 0,
            admin: false,
            disabled: false,
        }
    }
}

/// Records that show an uploaded image (an avatar, an icon). Its bytes
/// are a blob, named by their SHA-256, which the store counts as referred
/// to for as long as a stored record names it, so the blob sweep keeps it.
pub trait Images {
    /// The blob this record's image is kept in, if it has one.
    fn image_blob(&self) -> Option<&str>;
}

impl Images for User {
    fn image_blob(&self) -> Option<&str> {
        self.avatar_blob.as_deref()
    }
}

impl Images for Guild {
    fn image_blob(&self) -> Option<&str> {
        self.icon_blob.as_deref()
    }
}

impl Images for Webhook {
    fn image_blob(&self) -> Option<&str> {
        self.avatar_blob.as_deref()
    }
}

impl Images for Channel {
    fn image_blob(&self) -> Option<&str> {
        self.icon_blob.as_deref()
    }
}

/// A bot application. Its id is its bot user's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: Snowflake,
    pub name: String,
    pub owner_id: Snowflake,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub bot_public: bool,
    /// Privileged gateway intents the owner allowed.
    #[serde(default)]
    pub allow_presences: bool,
    #[serde(default)]
    pub allow_members: bool,
    #[serde(default)]
    pub allow_message_content: bool,
    /// Where its interactions are POSTed, signed, instead of reaching its
    /// bot over the gateway; verified when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactions_endpoint_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guild {
    pub id: Snowflake,
    pub name: String,
    pub owner_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// The blob holding the icon's bytes (see [`Images`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_blob: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_channel_id: Option<Snowflake>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afk_channel_id: Option<Snowflake>,
    #[serde(default)]
    pub afk_timeout: u32,
    #[serde(default)]
    pub verification_level: u8,
    #[serde(default)]
    pub default_message_notifications: u8,
    #[serde(default)]
    pub explicit_content_filter: u8,
}

impl Guild {
    /// A guild with every setting at its default.
    pub fn new(id: Snowflake, name: &str, owner_id: Snowflake) -> Guild {
        Guild {
            id,
            name: name.to_owned(),
            owner_id,
            icon: None,
            icon_blob: None,
            description: None,
            system_channel_id: None,
            afk_channel_id: None,
            afk_timeout: 300,
            verification_level: 0,
            default_message_notifications: 0,
            explicit_content_filter: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: Snowflake,
    pub guild_id: Snowflake,
    pub name: String,
    pub permissions: Permissions,
    #[serde(default)]
    pub position: i32,
    #[serde(default)]
    pub color: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hoist: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mentionable: bool,
    /// The bot a managed role belongs to: it comes with the bot when it is
    /// added with permissions, and no one gives or takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<Snowflake>,
}

impl Role {
    /// The `@everyone` role, whose id is the guild's, with Discord's defaults.
    pub fn everyone(guild_id: Snowflake) -> Role {
        Role {
            id: guild_id,
            guild_id,
            name: "@everyone".into(),
            permissions: Permissions::DEFAULT_EVERYONE,
            position: 0,
            color: 0,
            hoist: false,
            mentionable: false,
            bot_id: None,
        }
    }
}

/// Channel types Concord creates.
pub mod channel_type {
    pub const GUILD_TEXT: u8 = 0;
    pub const DM: u8 = 1;
    pub const GUILD_VOICE: u8 = 2;
    pub const GROUP_DM: u8 = 3;
    pub const GUILD_CATEGORY: u8 = 4;
    pub const GUILD_ANNOUNCEMENT: u8 = 5;
    pub const ANNOUNCEMENT_THREAD: u8 = 10;
    pub const PUBLIC_THREAD: u8 = 11;
    pub const PRIVATE_THREAD: u8 = 12;
    pub const GUILD_FORUM: u8 = 15;

    /// Types whose messages can be read and written.
    pub fn is_text(t: u8) -> bool {
        matches!(
            t,
            GUILD_TEXT | DM | GROUP_DM | GUILD_ANNOUNCEMENT | GUILD_VOICE
        ) || is_thread(t)
    }

    pub fn is_thread(t: u8) -> bool {
        matches!(t, ANNOUNCEMENT_THREAD | PUBLIC_THREAD | PRIVATE_THREAD)
    }

    /// Channels threads can be started in.
    pub fn has_threads(t: u8) -> bool {
        matches!(t, GUILD_TEXT | GUILD_ANNOUNCEMENT | GUILD_FORUM)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Overwrite {
    pub id: Snowflake,
    /// 0 = role, 1 = member.
    #[serde(rename = "type")]
    pub kind: u8,
    pub allow: Permissions,
    pub deny: Permissions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub position: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Snowflake>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nsfw: bool,
    #[serde(default)]
    pub rate_limit_per_user: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_overwrites: Vec<Overwrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_limit: Option<u32>,
    /// Voice channels: the voice region its members are sent to; `None`
    /// picks one for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc_region: Option<String>,
    /// Private channels (DMs, group DMs): who is in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Snowflake>,
    /// Group DMs: who manages it. Threads: who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Snowflake>,
    /// Group DMs: the icon its participants set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// The blob holding that icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_blob: Option<String>,
    /// Threads only: their state and counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadState>,
    /// Forums: the tags its posts may carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub available_tags: Vec<ForumTag>,
    /// Discord's channel flags ([`channel_flags`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u64,
}

/// Channel flags Concord keeps.
pub mod channel_flags {
    /// A forum's posts must carry at least one tag.
    pub const REQUIRE_TAG: u64 = 1 << 4;
}

/// A tag a forum's posts may carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForumTag {
    pub id: Snowflake,
    pub name: String,
    /// Only members with MANAGE_THREADS put it on a post or take it off.
    #[serde(default)]
    pub moderated: bool,
    #[serde(default)]
    pub emoji_id: Option<Snowflake>,
    #[serde(default)]
    pub emoji_name: Option<String>,
}

/// What a thread has beyond a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    /// Minutes without activity before it archives itself.
    pub auto_archive_duration: u32,
    /// When `archived` last changed (creation, at first).
    pub archive_ms: u64,
    /// Only MANAGE_THREADS may unarchive a locked thread.
    #[serde(default, skip_serializing_if = "is_false")]
    pub locked: bool,
    /// Private threads: whether members other than moderators may add people.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invitable: bool,
    pub create_ms: u64,
    /// Live messages, not counting the starter message.
    #[serde(default)]
    pub message_count: u32,
    /// Messages ever sent; deletions do not lower it.
    #[serde(default)]
    pub total_message_sent: u32,
    #[serde(default)]
    pub member_count: u32,
    /// When the last message was sent (or the thread made or unarchived):
    /// auto-archiving counts from here.
    pub last_activity_ms: u64,
    /// A forum post's tags, of its forum's `available_tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_tags: Vec<Snowflake>,
}

impl ThreadState {
    pub fn new(auto_archive_duration: u32, now_ms: u64) -> ThreadState {
        ThreadState {
            archived: false,
            auto_archive_duration,
            archive_ms: now_ms,
            locked: false,
            invitable: true,
            create_ms: now_ms,
            message_count: 0,
            total_message_sent: 0,
            member_count: 0,
            last_activity_ms: now_ms,
            applied_tags: Vec::new(),
        }
    }

    /// When an active thread archives itself for want of activity.
    pub fn archive_due_ms(&self) -> u64 {
        self.last_activity_ms + u64::from(self.auto_archive_duration) * 60_000
    }
}

/// A user who follows a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadMember {
    pub thread_id: Snowflake,
    pub user_id: Snowflake,
    pub join_ms: u64,
    #[serde(default)]
    pub flags: u64,
}

impl Channel {
    /// A guild channel with every optional setting at its default.
    pub fn new(id: Snowflake, kind: u8, guild_id: Snowflake, name: &str) -> Channel {
        Channel {
            id,
            kind,
            guild_id: Some(guild_id),
            name: name.to_owned(),
            position: 0,
            topic: None,
            parent_id: None,
            nsfw: false,
            rate_limit_per_user: 0,
            permission_overwrites: Vec::new(),
            bitrate: None,
            user_limit: None,
            rtc_region: None,
            recipients: Vec::new(),
            owner_id: None,
            icon: None,
            icon_blob: None,
            thread: None,
            available_tags: Vec::new(),
            flags: 0,
        }
    }

    /// A DM or group DM among `recipients`; no guild, no name.
    pub fn private(id: Snowflake, kind: u8, recipients: Vec<Snowflake>) -> Channel {
        Channel {
            guild_id: None,
            recipients,
            ..Channel::new(id, kind, Snowflake(0), "")
        }
    }

    pub fn is_private(&self) -> bool {
        self.guild_id.is_none()
    }

    pub fn is_thread(&self) -> bool {
        channel_type::is_thread(self.kind)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub guild_id: Snowflake,
    pub user_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Snowflake>,
    pub joined_at_ms: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deaf: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mute: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication_disabled_until_ms: Option<u64>,
}

impl Member {
    /// A member with no roles or nickname, joining at `joined_at_ms`.
    pub fn new(guild_id: Snowflake, user_id: Snowflake, joined_at_ms: u64) -> Member {
        Member {
            guild_id,
            user_id,
            nick: None,
            roles: Vec::new(),
            joined_at_ms,
            deaf: false,
            mute: false,
            communication_disabled_until_ms: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReference {
    pub message_id: Snowflake,
    pub channel_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
}

/// Message types Concord writes.
pub mod message_type {
    pub const DEFAULT: u8 = 0;
    pub const CHANNEL_PINNED_MESSAGE: u8 = 6;
    pub const USER_JOIN: u8 = 7;
    pub const THREAD_CREATED: u8 = 18;
    pub const REPLY: u8 = 19;
    pub const CHAT_INPUT_COMMAND: u8 = 20;
    pub const THREAD_STARTER_MESSAGE: u8 = 21;
    /// The result of a poll that ended, posted as its author.
    pub const POLL_RESULT: u8 = 46;
    pub const CONTEXT_MENU_COMMAND: u8 = 23;

    /// Types an author may edit.
    pub fn is_editable(t: u8) -> bool {
        matches!(t, 0 | 19 | 20 | 23)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Snowflake,
    pub channel_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    pub author_id: Snowflake,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(rename = "type", default)]
    pub kind: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tts: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mention_everyone: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Snowflake>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mention_roles: Vec<Snowflake>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Value>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pinned: bool,
    /// Reaction counts, in the order the emoji were first used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Set when a webhook posted it: its author is the webhook
    /// (`author_id` is the webhook's id), under the name and avatar it
    /// posted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookAuthor>,
    /// The poll the message carries; its votes are kept apart
    /// (`PollStore`), never on this row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// Action rows of buttons and selects, as the author sent them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Value>,
    /// Set when an application posted it answering an interaction: its
    /// author is the application's bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<InteractionMetadata>,
}

/// A poll, as its message was sent with it. Its answers never change;
/// only `finalized` (and `expiry_ms`, when it ends early) do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub question: String,
    /// Numbered from 1, in the order given.
    pub answers: Vec<PollAnswer>,
    /// When votes stop: its creation plus its duration, or when its author
    /// ended it.
    pub expiry_ms: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_multiselect: bool,
    pub layout_type: u8,
    /// Set once it ended and its result was posted: no vote changes after.
    #[serde(default, skip_serializing_if = "is_false")]
    pub finalized: bool,
}

impl Poll {
    /// Whether votes may change at `now_ms`: the one rule every backend's
    /// vote operation applies.
    pub fn open_at(&self, now_ms: u64) -> bool {
        !self.finalized && now_ms < self.expiry_ms
    }

    pub fn answer(&self, answer_id: u8) -> Option<&PollAnswer> {
        self.answers.iter().find(|a| a.answer_id == answer_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollAnswer {
    pub answer_id: u8,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<PollEmoji>,
}

/// An answer's emoji: a custom one by id, or a unicode one by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollEmoji {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Snowflake>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub animated: bool,
}

/// The interaction a message answers, as kept with it; clients read it
/// as `interaction_metadata` (with the invoker's user object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionMetadata {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    pub application_id: Snowflake,
    /// Who invoked it.
    pub user_id: Snowflake,
    /// Where the application is installed for it: the guild, or none
    /// (the invoker's DM with the bot, or a user installation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// Invoked through the invoker's own installation (a private channel
    /// other than the bot's DM).
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_install: bool,
    /// The command's name and type, for application commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_type: Option<u8>,
    /// On follow-ups: the interaction's first response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_response_message_id: Option<Snowflake>,
    /// On component interactions: the message whose component was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interacted_message_id: Option<Snowflake>,
}

/// A file sent with a message. Its bytes are a blob named by their
/// SHA-256, shared by every attachment with the same content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: Snowflake,
    pub channel_id: Snowflake,
    pub filename: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Pixels, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Hex SHA-256 of the content: the blob's name.
    pub sha256: String,
    /// What the file shows, for those who cannot see it (alt text), as
    /// the sender gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Attachment {
    /// Where the file is served, below the server's base URL.
    pub fn path(&self) -> String {
        format!(
            "/attachments/{}/{}/{}",
            self.channel_id, self.id, self.filename
        )
    }
}

/// How many users reacted to a message with one emoji: a unicode emoji, or
/// `name:id` for a custom one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: u32,
}

impl Message {
    /// Counts one more (or one fewer) reaction with `emoji`.
    pub fn count_reaction(&mut self, emoji: &str, added: bool) {
        match self.reactions.iter_mut().position(|r| r.emoji == emoji) {
            Some(i) if added => self.reactions[i].count += 1,
            Some(i) => {
                self.reactions[i].count = self.reactions[i].count.saturating_sub(1);
                if self.reactions[i].count == 0 {
                    self.reactions.remove(i);
                }
            }
            None if added => self.reactions.push(ReactionCount {
                emoji: emoji.to_owned(),
                count: 1,
            }),
            None => {}
        }
    }

    /// A plain message with every optional column empty.
    pub fn new(
        id: Snowflake,
        channel_id: Snowflake,
        author_id: Snowflake,
        content: &str,
    ) -> Message {
        Message {
            id,
            channel_id,
            guild_id: None,
            author_id,
            content: content.to_owned(),
            kind: message_type::DEFAULT,
            edited_ms: None,
            tts: false,
            mention_everyone: false,
            mentions: Vec::new(),
            mention_roles: Vec::new(),
            nonce: None,
            embeds: Vec::new(),
            flags: 0,
            message_reference: None,
            pinned: false,
            reactions: Vec::new(),
            attachments: Vec::new(),
            webhook: None,
            poll: None,
            components: Vec::new(),
            interaction: None,
        }
    }
}

/// The columns an edit may change; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessagePatch {
    pub content: Option<String>,
    pub embeds: Option<Vec<Value>>,
    pub components: Option<Vec<Value>>,
    pub flags: Option<u64>,
    pub mentions: Option<Vec<Snowflake>>,
    pub mention_roles: Option<Vec<Snowflake>>,
    pub mention_everyone: Option<bool>,
    pub edited_ms: Option<u64>,
    pub pinned: Option<bool>,
    /// Its files, when an edit adds some.
    pub attachments: Option<Vec<Attachment>>,
}

impl MessagePatch {
    /// Applies the changed columns to `message`.
    pub fn apply(&self, message: &mut Message) {
        if let Some(v) = &self.content {
            message.content.clone_from(v);
        }
        if let Some(v) = &self.embeds {
            message.embeds.clone_from(v);
        }
        if let Some(v) = &self.components {
            message.components.clone_from(v);
        }
        if let Some(v) = self.flags {
            message.flags = v;
        }
        if let Some(v) = &self.mentions {
            message.mentions.clone_from(v);
        }
        if let Some(v) = &self.mention_roles {
            message.mention_roles.clone_from(v);
        }
        if let Some(v) = self.mention_everyone {
            message.mention_everyone = v;
        }
        if let Some(v) = self.edited_ms {
            message.edited_ms = Some(v);
        }
        if let Some(v) = self.pinned {
            message.pinned = v;
        }
        if let Some(v) = &self.attachments {
            message.attachments.clone_from(v);
        }
    }
}

/// One moderation action in a guild's audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: Snowflake,
    pub guild_id: Snowflake,
    /// Who acted.
    pub user_id: Snowflake,
    /// What was acted on: a user, role, channel, emoji...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<Snowflake>,
    /// Discord's audit log event number.
    pub action_type: u16,
    /// `{key, old_value?, new_value?}` objects, as Discord returns them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Value>,
    /// Extra facts some actions carry (`channel_id`, `count`...), as strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A custom emoji of a guild. Its image is stored apart, by emoji id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emoji {
    pub id: Snowflake,
    pub guild_id: Snowflake,
    pub name: String,
    /// Roles allowed to use it; empty for everyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Snowflake>,
    /// Who uploaded it.
    pub user_id: Snowflake,
    #[serde(default, skip_serializing_if = "is_false")]
    pub animated: bool,
    /// The image's MIME type.
    pub content_type: String,
}

/// How far a user has read a channel: the newest message they acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub user_id: Snowflake,
    pub channel_id: Snowflake,
    pub last_message_id: Snowflake,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ban {
    pub guild_id: Snowflake,
    pub user_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    pub code: String,
    pub guild_id: Snowflake,
    pub channel_id: Snowflake,
    pub inviter_id: Snowflake,
    pub created_ms: u64,
    /// Seconds until expiry; 0 never expires.
    pub max_age: u32,
    /// 0 is unlimited.
    pub max_uses: u32,
    pub uses: u32,
    #[serde(default)]
    pub temporary: bool,
}

impl Invite {
    pub fn expires_ms(&self) -> Option<u64> {
        (self.max_age > 0).then(|| self.created_ms + u64::from(self.max_age) * 1000)
    }

    /// Whether the invite can no longer be used at `now_ms`.
    pub fn is_spent(&self, now_ms: u64) -> bool {
        self.expires_ms().is_some_and(|e| now_ms >= e)
            || (self.max_uses > 0 && self.uses >= self.max_uses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_columns_are_not_written() {
        let m = Message::new(Snowflake(1), Snowflake(2), Snowflake(3), "hi");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"id":"1","channel_id":"2","author_id":"3","content":"hi","type":0}"#
        );
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
    }
}

/// An incoming webhook: anyone holding its token posts to its channel,
/// without an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: Snowflake,
    pub guild_id: Snowflake,
    pub channel_id: Snowflake,
    /// Who created it.
    pub user_id: Snowflake,
    pub name: String,
    /// The avatar's hash, as a user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The blob holding the avatar's bytes (see [`Images`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_blob: Option<String>,
    /// The secret in its URL: whoever holds it may post, edit and delete
    /// the webhook. Compared in constant time, never logged.
    pub token: String,
}

/// Who posted a webhook's message, as it was when posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAuthor {
    /// The name shown: the `username` override, else the webhook's name.
    pub username: String,
    /// The webhook's avatar hash (none when an `avatar_url` override is
    /// given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The `avatar_url` override, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// Application command types (`type` of a command).
pub mod command_type {
    pub const CHAT_INPUT: u8 = 1;
    pub const USER: u8 = 2;
    pub const MESSAGE: u8 = 3;
    pub const PRIMARY_ENTRY_POINT: u8 = 4;
}

/// Application command option types (`type` of an option).
pub mod option_type {
    pub const SUB_COMMAND: u8 = 1;
    pub const SUB_COMMAND_GROUP: u8 = 2;
    pub const STRING: u8 = 3;
    pub const INTEGER: u8 = 4;
    pub const BOOLEAN: u8 = 5;
    pub const USER: u8 = 6;
    pub const CHANNEL: u8 = 7;
    pub const ROLE: u8 = 8;
    pub const MENTIONABLE: u8 = 9;
    pub const NUMBER: u8 = 10;
    pub const ATTACHMENT: u8 = 11;
}

/// Where a command may be used (`contexts`).
pub mod interaction_context {
    pub const GUILD: u8 = 0;
    pub const BOT_DM: u8 = 1;
    pub const PRIVATE_CHANNEL: u8 = 2;
}

/// How an application is installed (`integration_types`).
pub mod integration_type {
    pub const GUILD_INSTALL: u8 = 0;
    pub const USER_INSTALL: u8 = 1;
}

/// A localization dictionary: Discord locale → text.
pub type Localizations = std::collections::BTreeMap<String, String>;

/// An application command: global (`guild_id` none) or a guild's. Its
/// name is unique per application, scope and type; `version` changes with
/// every edit of its definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub id: Snowflake,
    pub application_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    #[serde(rename = "type")]
    pub kind: u8,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<Localizations>,
    /// Empty for user and message commands.
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_localizations: Option<Localizations>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    /// The permissions a member needs to use it: none means everyone,
    /// `0` administrators only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_member_permissions: Option<Permissions>,
    /// Deprecated by `contexts`; only meaningful for global commands.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub dm_permission: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nsfw: bool,
    /// Interaction contexts (`interaction_context`) as given; none means
    /// Discord's default (see [`Command::allowed_contexts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Vec<u8>>,
    /// Installation contexts (`integration_type`) as given; none means
    /// guild installs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_types: Option<Vec<u8>>,
    pub version: Snowflake,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

impl Command {
    /// Where it may be invoked: a guild command only in its guild; a
    /// global one where `contexts` says, or else in guilds and, unless
    /// `dm_permission` is false, in DMs with the bot (as Discord treats a
    /// command without contexts).
    pub fn allowed_contexts(&self) -> Vec<u8> {
        use interaction_context::*;
        if self.guild_id.is_some() {
            return vec![GUILD];
        }
        match &self.contexts {
            Some(contexts) => contexts.clone(),
            None if self.dm_permission => vec![GUILD, BOT_DM],
            None => vec![GUILD],
        }
    }

    /// How the application must be installed for it to be offered.
    pub fn allowed_integration_types(&self) -> Vec<u8> {
        match (&self.integration_types, self.guild_id) {
            (Some(types), None) => types.clone(),
            _ => vec![integration_type::GUILD_INSTALL],
        }
    }

    /// Whether `other` defines the same command (everything but id and
    /// version): an overwrite or upsert that changes nothing keeps the
    /// version.
    pub fn same_definition(&self, other: &Command) -> bool {
        Command {
            id: other.id,
            version: other.version,
            ..self.clone()
        } == *other
    }
}

/// A parameter of a chat-input command, or a subcommand or group of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOption {
    #[serde(rename = "type")]
    pub kind: u8,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<Localizations>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_localizations: Option<Localizations>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<CommandChoice>,
    /// A subcommand's parameters, or a group's subcommands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel_types: Vec<u8>,
    /// Integers stay integers: kept as JSON numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u16>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub autocomplete: bool,
}

/// One of an option's fixed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandChoice {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<Localizations>,
    /// A string, integer or double, as the option's type says.
    pub value: Value,
}

/// Who may or may not use an application's commands in a guild: for one
/// command (`id` its id) or all of them (`id` the application's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandPermissions {
    pub id: Snowflake,
    pub application_id: Snowflake,
    pub guild_id: Snowflake,
    pub permissions: Vec<CommandPermission>,
}

/// One overwrite: a role (1), user (2) or channel (3) allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandPermission {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    pub permission: bool,
}

/// A browser's Web Push subscription (RFC 8030), one per user and endpoint:
/// where to deliver and the keys to encrypt for (RFC 8291).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    pub user_id: Snowflake,
    /// The push service's URL for this browser; checked by the outbound guard.
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (uncompressed point).
    pub p256dh: String,
    /// The browser's 16-byte authentication secret, base64url.
    pub auth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_ms: Option<u64>,
}

/// A push waiting for delivery to one subscription, in the store's queue so
/// that whichever node drains it delivers it once, also after a node died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedPush {
    pub id: Snowflake,
    /// When it is next tried.
    pub due_ms: u64,
    /// Tries so far.
    #[serde(default)]
    pub attempts: u32,
    pub user_id: Snowflake,
    pub endpoint: String,
    /// RFC 8030 `Urgency`: `high` for DMs and mentions, else `normal`.
    pub urgency: String,
    /// The JSON the browser decrypts.
    pub payload: String,
}

/// Notification levels of Discord's user guild settings.
pub mod notify_level {
    pub const ALL_MESSAGES: u8 = 0;
    pub const ONLY_MENTIONS: u8 = 1;
    pub const NO_MESSAGES: u8 = 2;
    /// A channel override that follows its guild.
    pub const INHERIT: u8 = 3;
}

/// A channel's own notification settings within [`UserGuildSettings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelNotifyOverride {
    pub channel_id: Snowflake,
    pub message_notifications: u8,
    #[serde(default, skip_serializing_if = "is_false")]
    pub muted: bool,
    /// Muted until then (ms since the epoch); none: until unmuted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_end_ms: Option<u64>,
}

/// What a user wants to be notified of in one guild, or in their direct
/// messages (`guild_id` none: Discord's `@me`), as Discord keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGuildSettings {
    pub user_id: Snowflake,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// `None`: the guild's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_notifications: Option<u8>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppress_everyone: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppress_roles: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub muted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_end_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel_overrides: Vec<ChannelNotifyOverride>,
}

impl UserGuildSettings {
    /// No settings: everything as the guild's defaults say.
    pub fn new(user_id: Snowflake, guild_id: Option<Snowflake>) -> UserGuildSettings {
        UserGuildSettings {
            user_id,
            guild_id,
            message_notifications: None,
            suppress_everyone: false,
            suppress_roles: false,
            muted: false,
            mute_end_ms: None,
            channel_overrides: Vec::new(),
        }
    }
}

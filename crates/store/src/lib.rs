//! The storage seam. One trait per aggregate, gathered into [`Store`], so
//! the service is written once against the trait and backends swap freely:
//! [`memory::MemoryStore`] is the reference, `concord-store-fjall` the
//! embedded default. Every backend runs the same [`conformance`] suite.
//!
//! Every write method returns only once the write is durable (for backends
//! that persist), so an acknowledged write survives a crash.
//!
//! Messages are kept KKV: partition `(channel_id, bucket)`, clustered by id
//! descending, with a per-channel record of the buckets that hold live
//! messages so that reads never walk empty buckets.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{
    Application, Attachment, AuditEntry, Ban, Channel, Command, CommandPermissions, Emoji, Guild,
    Invite, Member, Message, MessagePatch, PushSubscription, QueuedPush, ReadState, Role,
    ThreadMember, User, UserGuildSettings, Webhook,
};

pub mod conformance;
pub mod keys;
pub mod memory;
pub mod mentions;
mod ops;

pub use mentions::{Mention, MentionTarget, Mentioned};
pub use ops::{
    CommandCreate, CommandOverwrite, CommandUpdate, InviteUse, ThreadEdit, ThreadUpdate,
};

/// Discord's message bucket: ten days of milliseconds.
pub const DEFAULT_BUCKET_MS: u64 = 10 * 24 * 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique field (named) is already taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// A networked store's server cannot be reached now (down, restarting,
    /// no connection within the wait): the same call may succeed later.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    #[error("stored record could not be decoded: {0}")]
    Corrupt(String),
    /// A key made of client text is longer than any store takes; the
    /// service validates lengths first, so this is a bug, not a panic.
    #[error("key of {0} bytes is longer than {max}", max = keys::TEXT_KEY_MAX)]
    KeyTooLong(usize),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict` if the username or email is taken (case-insensitively).
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn user(&self, id: Snowflake) -> StoreResult<Option<User>>;
    /// The users among `ids` that exist, in the order asked, each once:
    /// one round trip for a page that names many users.
    async fn users(&self, ids: &[Snowflake]) -> StoreResult<Vec<User>>;
    /// Looks a user up by username or email, case-insensitively.
    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>>;
    /// Replaces the user's record if its stored `token_generation` is
    /// still `seen`, the one the caller read; `false`, writing nothing,
    /// when it moved. A write that raced a revocation (a password change,
    /// logging out everywhere) would otherwise put the old generation, and
    /// with it the revoked tokens, back.
    async fn update_user(&self, user: &User, seen: u64) -> StoreResult<bool>;
    /// Every user (bots included) with an id above `after`, in id order.
    async fn users_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<User>>;
}

#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Creates the application and its bot user together.
    async fn create_application(&self, app: &Application, bot: &User) -> StoreResult<()>;
    async fn application(&self, id: Snowflake) -> StoreResult<Option<Application>>;
    async fn update_application(&self, app: &Application) -> StoreResult<()>;
}

/// Everything a new guild starts with, written atomically.
#[derive(Debug, Clone)]
pub struct NewGuild {
    pub guild: Guild,
    pub roles: Vec<Role>,
    pub channels: Vec<Channel>,
    pub owner: Member,
}

#[async_trait]
pub trait GuildStore: Send + Sync {
    async fn create_guild(&self, new: &NewGuild) -> StoreResult<()>;
    async fn guild(&self, id: Snowflake) -> StoreResult<Option<Guild>>;
    /// Every guild with an id above `after`, in id order.
    async fn guilds_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<Guild>>;
    async fn update_guild(&self, guild: &Guild) -> StoreResult<()>;
    /// Removes the guild with its roles, channels, members and invites at
    /// once; its channels' messages are left to
    /// [`ChannelStore::purge_deleted`], as [`ChannelStore::delete_channel`]
    /// leaves them.
    async fn delete_guild(&self, id: Snowflake) -> StoreResult<()>;
    async fn roles(&self, guild_id: Snowflake) -> StoreResult<Vec<Role>>;
    async fn put_role(&self, role: &Role) -> StoreResult<()>;
    async fn delete_role(&self, guild_id: Snowflake, role_id: Snowflake) -> StoreResult<()>;
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn channel(&self, id: Snowflake) -> StoreResult<Option<Channel>>;
    /// The guild's channels, by id; threads are not among them.
    async fn guild_channels(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>>;
    /// The guild's threads, active and archived, by id.
    async fn guild_threads(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>>;
    /// Every channel, guild or private, by id ascending, starting after
    /// `after`: how the search index is rebuilt from the store.
    async fn channels_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<Channel>>;
    /// Creates or replaces a channel.
    async fn put_channel(&self, channel: &Channel) -> StoreResult<()>;
    /// Creates a channel only if no channel has its id, as one operation;
    /// `false`, and nothing written, if one does: of two requests to
    /// start the thread of one message, one wins.
    async fn create_channel(&self, channel: &Channel) -> StoreResult<bool>;
    /// Replaces a channel that still exists, as one operation; `false`, and
    /// nothing written, once it is deleted: an edit racing a deletion never
    /// brings the channel back.
    async fn update_channel(&self, channel: &Channel) -> StoreResult<bool>;
    /// Removes the channel and, for a thread, its members: it is unknown to
    /// every reader once this returns. Its messages (with their reactions,
    /// pins and attachments) may be left to [`ChannelStore::purge_deleted`],
    /// durably marked so that they go even after a restart; its id is not
    /// created again until they are gone.
    async fn delete_channel(&self, id: Snowflake) -> StoreResult<()>;
    /// Removes one step of what deleted channels left, a short write of its
    /// own so other writers never wait for a whole history; `true` while
    /// something is left. Callers repeat it until `false`, in the
    /// background. A store that removes everything in
    /// [`ChannelStore::delete_channel`] leaves nothing, as this default says.
    async fn purge_deleted(&self) -> StoreResult<bool> {
        Ok(false)
    }
    /// Changes a thread's state as one operation (read, [`ThreadUpdate::apply`],
    /// write, with no writer in between), so counters never lose an update
    /// and no lock is needed around them. The updated thread; `None`, and
    /// nothing written, if the thread is gone (it is never recreated) or
    /// the update's condition does not hold.
    async fn update_thread(
        &self,
        thread_id: Snowflake,
        update: &ThreadUpdate,
    ) -> StoreResult<Option<Channel>>;
}

#[async_trait]
pub trait ThreadMemberStore: Send + Sync {
    async fn thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<ThreadMember>>;
    /// Members by user id ascending, starting after `after`.
    async fn thread_members(
        &self,
        thread_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<ThreadMember>>;
    /// Adds a follower and counts them in the thread's `member_count`, as
    /// one operation. The updated thread; `None`, and nothing written, if
    /// they already follow it or the thread is gone.
    async fn add_thread_member(&self, member: &ThreadMember) -> StoreResult<Option<Channel>>;
    /// Removes a follower and uncounts them, as one operation. The updated
    /// thread; `None` if they followed no such thread.
    async fn remove_thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<Channel>>;
}

#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Member>>;
    /// Members by user id ascending, starting after `after`.
    async fn members(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Member>>;
    /// The guild's members among `user_ids`, in the order asked, each once:
    /// one round trip for a request that names many.
    async fn members_by_ids(
        &self,
        guild_id: Snowflake,
        user_ids: &[Snowflake],
    ) -> StoreResult<Vec<Member>>;
    /// The guild's members whose username, global name or nick starts
    /// with `prefix` (as [`name_key`] lowercases it; not empty), by user id
    /// ascending, at most `limit`. Names are indexed: the cost grows with
    /// the users and members whose name starts so, not with the guild.
    async fn members_by_name(
        &self,
        guild_id: Snowflake,
        prefix: &str,
        limit: usize,
    ) -> StoreResult<Vec<Member>>;
    /// Creates or replaces a member.
    async fn put_member(&self, member: &Member) -> StoreResult<()>;
    async fn delete_member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()>;
    /// The ids of the guilds a user belongs to, ascending.
    async fn user_guild_ids(&self, user_id: Snowflake) -> StoreResult<Vec<Snowflake>>;
    async fn member_count(&self, guild_id: Snowflake) -> StoreResult<u64>;
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    async fn invite(&self, code: &str) -> StoreResult<Option<Invite>>;
    /// Creates or replaces an invite.
    async fn put_invite(&self, invite: &Invite) -> StoreResult<()>;
    async fn delete_invite(&self, code: &str) -> StoreResult<()>;
    /// Counts one use of the invite if it is live at `now_ms` (not expired,
    /// and `uses < max_uses` unless `max_uses` is 0), as one operation: of
    /// any number of concurrent callers, exactly as many as it has uses
    /// left are admitted.
    async fn use_invite(&self, code: &str, now_ms: u64) -> StoreResult<InviteUse>;
    /// The guild's invites, spent ones included, by code.
    async fn guild_invites(&self, guild_id: Snowflake) -> StoreResult<Vec<Invite>>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores the message; one with an open poll is listed for
    /// [`PollStore::polls_due`] in the same write.
    async fn create_message(&self, message: &Message) -> StoreResult<()>;
    async fn message(&self, channel_id: Snowflake, id: Snowflake) -> StoreResult<Option<Message>>;
    /// Changes only the patched columns; `None` if the message does not exist.
    async fn update_message(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
        patch: &MessagePatch,
    ) -> StoreResult<Option<Message>>;
    /// Removes the messages that exist among `ids` (with their reactions,
    /// pins and poll votes) and returns them.
    async fn delete_messages(
        &self,
        channel_id: Snowflake,
        ids: &[Snowflake],
    ) -> StoreResult<Vec<Message>>;
    /// Up to `limit` messages with ids below `before` (all if `None`), newest first.
    async fn messages_before(
        &self,
        channel_id: Snowflake,
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Up to `limit` messages with ids above `after`, oldest first.
    async fn messages_after(
        &self,
        channel_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// How many (channel, bucket) partitions message reads have opened so
    /// far: the measure that proves empty buckets are skipped.
    fn buckets_visited(&self) -> u64;
}

#[async_trait]
pub trait BanStore: Send + Sync {
    async fn ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Ban>>;
    /// Bans by user id ascending, starting after `after`.
    async fn bans(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Ban>>;
    /// Creates or replaces a ban.
    async fn put_ban(&self, ban: &Ban) -> StoreResult<()>;
    async fn delete_ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()>;
}

/// Each guild's audit log, newest first.
#[async_trait]
pub trait AuditLogStore: Send + Sync {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Up to `limit` entries with ids below `before` (all if `None`), newest first.
    async fn audit_entries(
        &self,
        guild_id: Snowflake,
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEntry>>;
}

/// Attachment records, and how many refer to each blob (by SHA-256), so
/// that a blob can be freed when nothing refers to it any more.
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Stores the records and counts one more reference to each blob.
    async fn put_attachments(&self, attachments: &[Attachment]) -> StoreResult<()>;
    async fn attachment(&self, id: Snowflake) -> StoreResult<Option<Attachment>>;
    /// Removes the records (unknown ids are skipped) and returns the blobs
    /// nothing refers to any more.
    async fn delete_attachments(&self, ids: &[Snowflake]) -> StoreResult<Vec<String>>;
    /// Whether any attachment, or any stored user's, guild's or webhook's
    /// image ([`Images`](concord_model::records::Images)), refers to the
    /// blob. Deleting a channel or a guild drops its attachments with it;
    /// replacing or removing an image, or deleting what showed it, stops
    /// its reference in the same write; blobs left unreferenced are found
    /// with this.
    async fn blob_referenced(&self, sha256: &str) -> StoreResult<bool>;
}

/// Custom emoji, per guild, with their images.
#[async_trait]
pub trait EmojiStore: Send + Sync {
    /// The guild's emoji, by id.
    async fn emojis(&self, guild_id: Snowflake) -> StoreResult<Vec<Emoji>>;
    /// Creates (with its image) or replaces (`image: None`) an emoji.
    async fn put_emoji(&self, emoji: &Emoji, image: Option<&[u8]>) -> StoreResult<()>;
    async fn delete_emoji(&self, guild_id: Snowflake, id: Snowflake) -> StoreResult<()>;
    async fn emoji_image(&self, id: Snowflake) -> StoreResult<Option<Vec<u8>>>;
}

/// Read states: one per user and channel they acknowledged.
#[async_trait]
pub trait ReadStateStore: Send + Sync {
    /// Creates or replaces the user's read state in that channel.
    async fn put_read_state(&self, state: &ReadState) -> StoreResult<()>;
    /// The user's read states, by channel id.
    async fn read_states(&self, user_id: Snowflake) -> StoreResult<Vec<ReadState>>;
}

/// DMs and group DMs: channels without a guild, found through their users.
#[async_trait]
pub trait PrivateChannelStore: Send + Sync {
    /// Stores the channel and indexes it under each recipient; a DM (two
    /// recipients, type 1) is also indexed by the pair, so it is reused.
    async fn create_private_channel(&self, channel: &Channel) -> StoreResult<()>;
    /// Replaces a group DM's record after its recipients changed: each one
    /// is indexed, and the `removed` users no longer find it.
    async fn update_private_channel(
        &self,
        channel: &Channel,
        removed: &[Snowflake],
    ) -> StoreResult<()>;
    async fn dm_between(&self, a: Snowflake, b: Snowflake) -> StoreResult<Option<Snowflake>>;
    /// The private channels a user is in, by id.
    async fn private_channels(&self, user_id: Snowflake) -> StoreResult<Vec<Channel>>;
}

/// The key under which a DM between two users is found, whoever asks.
pub fn dm_pair(a: Snowflake, b: Snowflake) -> (Snowflake, Snowflake) {
    (a.min(b), a.max(b))
}

/// Who reacted to a message with what. Each message row keeps its counts,
/// so reading history needs no reaction lookups; these keep the users.
#[async_trait]
pub trait ReactionStore: Send + Sync {
    /// Adds a reaction and counts it on the message. `None` if the message
    /// does not exist; `Some(false)` if the user had already reacted so.
    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<Option<bool>>;
    /// Removes a reaction; false if there was none.
    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool>;
    async fn has_reacted(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool>;
    /// Users who reacted with `emoji`, by id ascending, after `after`.
    async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Snowflake>>;
    /// Removes every reaction (or every one with `emoji`); the updated
    /// message, or `None` if it does not exist.
    async fn clear_reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Option<&str>,
    ) -> StoreResult<Option<Message>>;
}

/// What a change of one person's vote came to, decided in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollVote {
    /// No such message, or it carries no poll.
    Unknown,
    /// The poll has ended ([`Poll::open_at`](concord_model::records::Poll::open_at)
    /// says no): nothing changed.
    Ended,
    /// The answers the voter no longer and newly votes for, by id.
    Changed { removed: Vec<u8>, added: Vec<u8> },
}

/// A poll not yet ended, as [`PollStore::polls_due`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPoll {
    pub channel_id: Snowflake,
    pub message_id: Snowflake,
    pub expiry_ms: u64,
}

/// Votes on polls, kept apart from their messages (each a row per voter
/// and answer, counted when a poll is read), and the polls not yet ended,
/// by expiry, which the expiry task walks. A message's votes and listing
/// go with it; a deleted channel's votes with its purge.
#[async_trait]
pub trait PollStore: Send + Sync {
    /// Makes `answer_ids` the user's whole vote (none: no vote), as one
    /// operation and only while the poll is open at `now_ms`: of concurrent
    /// changes on any node, each applies to what the one before left, and
    /// none lands after the poll ended.
    async fn vote_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
        answer_ids: &[u8],
        now_ms: u64,
    ) -> StoreResult<PollVote>;
    /// Votes per answer, by answer id; answers without votes left out.
    async fn poll_counts(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> StoreResult<Vec<(u8, u64)>>;
    /// The answers the user votes for, ascending.
    async fn poll_votes(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Vec<u8>>;
    /// Who votes for the answer, by user id ascending, after `after`.
    async fn poll_voters(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        answer_id: u8,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Snowflake>>;
    /// Polls not yet ended whose expiry is at or before `now_ms`, soonest first.
    async fn polls_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<OpenPoll>>;
    /// Ends the poll at `now_ms` (its expiry becomes `now_ms` if that is
    /// sooner) and unlists it, as one operation: the message as it is now,
    /// for the one caller that ended it; `None` if it had ended or is gone.
    /// `expiry_ms` is the expiry it was listed under, so its listing goes
    /// even when the message is gone.
    async fn end_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        expiry_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Option<Message>>;
}

/// Pinned messages of a channel, newest pin first.
#[async_trait]
pub trait PinStore: Send + Sync {
    /// Records a pin (or moves an existing one to `pinned_at_ms`).
    async fn put_pin(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        pinned_at_ms: u64,
    ) -> StoreResult<()>;
    /// Removes a pin; false if there was none.
    async fn delete_pin(&self, channel_id: Snowflake, message_id: Snowflake) -> StoreResult<bool>;
    /// Pins (message id, pinned at) pinned before `before_ms` (all if `None`), newest first.
    async fn pins(
        &self,
        channel_id: Snowflake,
        before_ms: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<(Snowflake, u64)>>;
    async fn pin_count(&self, channel_id: Snowflake) -> StoreResult<usize>;
}

/// Incoming webhooks, found by id and listed per channel and per guild.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    async fn webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>>;
    /// Replaces a webhook that still exists (it may move to another
    /// channel), as one operation; `false`, and nothing written, once it is
    /// deleted: an edit racing a deletion never brings it back.
    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool>;
    /// Removes the webhook; the one removed, `None` if there was none.
    async fn delete_webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>>;
    /// The channel's webhooks, by id.
    async fn channel_webhooks(&self, channel_id: Snowflake) -> StoreResult<Vec<Webhook>>;
    /// The guild's webhooks, by id.
    async fn guild_webhooks(&self, guild_id: Snowflake) -> StoreResult<Vec<Webhook>>;
}

/// Notifications: each user's Web Push subscriptions (one per endpoint, a
/// bounded number per user), the queue of pushes to deliver (drained by one
/// node at a time, so a push reaches a device once whichever node queued
/// it), and each user's notification settings per guild and for DMs.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Stores the subscription, replacing the user's one for the same
    /// endpoint, as one operation; `false`, and nothing written, when it
    /// would give the user more than `max`.
    async fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
        max: usize,
    ) -> StoreResult<bool>;
    /// Removes the user's subscription for `endpoint`; whether there was one.
    async fn delete_push_subscription(
        &self,
        user_id: Snowflake,
        endpoint: &str,
    ) -> StoreResult<bool>;
    /// The user's subscriptions, by endpoint.
    async fn push_subscriptions(&self, user_id: Snowflake) -> StoreResult<Vec<PushSubscription>>;
    /// Adds pushes to the queue (one with an id already queued replaces it).
    async fn queue_pushes(&self, pushes: &[QueuedPush]) -> StoreResult<()>;
    /// Queued pushes due at or before `now_ms`, soonest first.
    async fn pushes_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<QueuedPush>>;
    /// Takes a push off the queue (delivered, or given up).
    async fn unqueue_push(&self, id: Snowflake) -> StoreResult<()>;
    /// The user's notification settings, DMs' (no guild) first, then by guild.
    async fn user_guild_settings(&self, user_id: Snowflake) -> StoreResult<Vec<UserGuildSettings>>;
    /// Replaces the user's settings for the guild (or DMs).
    async fn put_user_guild_settings(&self, settings: &UserGuildSettings) -> StoreResult<()>;
}

/// The mentions inbox index ([`mentions`]): entries by what they mention,
/// newest message first, and the messages each user removed from their
/// inbox.
#[async_trait]
pub trait MentionStore: Send + Sync {
    /// Adds entries (one already there is kept).
    async fn put_mentions(&self, mentions: &[Mention]) -> StoreResult<()>;
    /// Removes entries (those not there are skipped).
    async fn delete_mentions(&self, mentions: &[Mention]) -> StoreResult<()>;
    /// Up to `limit` messages mentioning any of `targets`, with ids below
    /// `before` (all if `None`), newest first, each once, leaving out those
    /// `reader` dismissed. Reads at most `limit` entries per target.
    async fn mentions(
        &self,
        reader: Snowflake,
        targets: &[MentionTarget],
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<Mentioned>>;
    /// Takes the message out of the reader's inbox for good.
    async fn dismiss_mention(&self, reader: Snowflake, message_id: Snowflake) -> StoreResult<()>;
}

/// Application commands, global and per guild, and who may use them in a
/// guild. A guild's commands and permissions go with the guild.
#[async_trait]
pub trait CommandStore: Send + Sync {
    /// Creates `command`, or replaces the application's command of the
    /// same scope, type and name, keeping that one's id (and its version
    /// when the definition is unchanged), as one operation
    /// ([`CommandCreate::apply`]). Refused when creating would leave more
    /// than `max` commands of its type in its scope.
    async fn create_command(&self, command: &Command, max: usize) -> StoreResult<CommandCreate>;
    async fn command(&self, id: Snowflake) -> StoreResult<Option<Command>>;
    /// An application's commands in one scope: a guild's, or the global
    /// ones (`guild_id` none); by id.
    async fn commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
    ) -> StoreResult<Vec<Command>>;
    /// Replaces a command that still exists and whose type and name no
    /// other command of its scope has, as one operation with the scope's
    /// other writes ([`CommandUpdate::apply`]): a rename racing another,
    /// or a create, leaves one command of that name.
    async fn update_command(&self, command: &Command) -> StoreResult<CommandUpdate>;
    /// Removes the command; the one removed, `None` if there was none.
    async fn delete_command(&self, id: Snowflake) -> StoreResult<Option<Command>>;
    /// Replaces an application's commands in one scope by `commands` as
    /// one operation: a reader sees the old set or the new one, never a
    /// mix. Each keeps the id of the command of the same type and name it
    /// replaces ([`CommandOverwrite::apply`]). Returns the new set, in the
    /// order given.
    async fn overwrite_commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        commands: &[Command],
    ) -> StoreResult<Vec<Command>>;
    /// An application's command permissions in a guild (for all its
    /// commands, under its own id, and per command), by id. A deleted
    /// command's may remain until its guild goes: readers pass over those
    /// whose command is gone.
    async fn command_permissions(
        &self,
        guild_id: Snowflake,
        application_id: Snowflake,
    ) -> StoreResult<Vec<CommandPermissions>>;
    /// Replaces the permissions of one command (or of the application)
    /// in a guild; an empty list removes them.
    async fn put_command_permissions(&self, permissions: &CommandPermissions) -> StoreResult<()>;
}

/// Small server-wide values, such as the token signing secret.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// What readiness checks call the store: `postgres` for the networked
    /// backend, `store` for one in this process.
    fn backend_name(&self) -> &'static str {
        "store"
    }
    async fn meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn put_meta(&self, key: &str, value: &[u8]) -> StoreResult<()>;
    /// Stores `value` unless the key has one, as one operation, and
    /// returns the value now stored: of two nodes bootstrapping the same
    /// value at once, both end with the one that was written first.
    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> StoreResult<Vec<u8>>;
    /// Removes and returns the value in one step: of two callers racing
    /// for a one-time value, only one gets it.
    async fn take_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// The first `limit` keys that begin with `prefix`, in byte order: how
    /// a sweep finds what a stopped node left, when the keys put the
    /// oldest first (a zero-padded time or id after the prefix).
    async fn meta_keys(&self, prefix: &str, limit: usize) -> StoreResult<Vec<String>>;
}

/// How far a [`BackupStore::copy_to`] has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress {
    pub copied: u64,
    /// An estimate of the records there are (may be off either way).
    pub estimated: u64,
}

/// Copies of everything, for backups.
pub trait BackupStore: Send + Sync {
    /// Writes a consistent copy of the whole store (as of one instant,
    /// while writes go on) into the empty directory `dest`, in a form the
    /// backend opens as a store; blocks, so call it off the async threads.
    /// Returns the number of records copied.
    fn copy_to(&self, dest: &std::path::Path, progress: &dyn Fn(CopyProgress)) -> StoreResult<u64>;
}

/// The whole storage seam.
pub trait Store:
    UserStore
    + ApplicationStore
    + GuildStore
    + ChannelStore
    + ThreadMemberStore
    + MemberStore
    + InviteStore
    + MessageStore
    + BanStore
    + PinStore
    + ReactionStore
    + PrivateChannelStore
    + ReadStateStore
    + EmojiStore
    + AuditLogStore
    + MetaStore
    + BackupStore
    + AttachmentStore
    + WebhookStore
    + PollStore
    + CommandStore
    + NotificationStore
    + MentionStore
{
}

impl<T> Store for T where
    T: UserStore
        + ApplicationStore
        + GuildStore
        + ChannelStore
        + ThreadMemberStore
        + MemberStore
        + InviteStore
        + MessageStore
        + BanStore
        + PinStore
        + ReactionStore
        + PrivateChannelStore
        + ReadStateStore
        + EmojiStore
        + AuditLogStore
        + MetaStore
        + BackupStore
        + AttachmentStore
        + WebhookStore
        + PollStore
        + CommandStore
        + NotificationStore
        + MentionStore
{
}

/// Where a history page starts, with Discord's semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAnchor {
    Latest,
    Before(Snowflake),
    After(Snowflake),
    Around(Snowflake),
}

/// One page of history, newest first, whatever the anchor: discord.py pages
/// `after` by taking the first element as the next cursor.
pub async fn history(
    store: &dyn MessageStore,
    channel_id: Snowflake,
    anchor: HistoryAnchor,
    limit: usize,
) -> StoreResult<Vec<Message>> {
    Ok(match anchor {
        HistoryAnchor::Latest => store.messages_before(channel_id, None, limit).await?,
        HistoryAnchor::Before(id) => store.messages_before(channel_id, Some(id), limit).await?,
        HistoryAnchor::After(id) => {
            let mut page = store.messages_after(channel_id, id, limit).await?;
            page.reverse();
            page
        }
        HistoryAnchor::Around(id) => {
            let older = limit.div_ceil(2);
            let newer = limit / 2;
            let mut page = store.messages_after(channel_id, id, newer).await?;
            page.reverse();
            let inclusive = Snowflake(id.get().saturating_add(1));
            page.extend(
                store
                    .messages_before(channel_id, Some(inclusive), older)
                    .await?,
            );
            page
        }
    })
}

/// The bucket a message id falls in.
pub fn bucket_of(id: Snowflake, bucket_ms: u64) -> u64 {
    id.timestamp_ms() / bucket_ms.max(1)
}

/// A name as the member-name index keeps it, and a prefix as it is looked
/// up: lowercased, so that a search ignores case.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The longest name indexed, in bytes. The service keeps names to 32
/// characters; a longer one stored before it did is not found by name,
/// rather than making its record impossible to write.
const NAME_KEY_MAX: usize = 256;

/// A name's index key, unless it is too long to index.
fn indexed(name: &str) -> Option<String> {
    Some(name_key(name)).filter(|key| key.len() <= NAME_KEY_MAX)
}

/// The names a user is found by in every guild of theirs: the username
/// and the global name, each once.
pub fn user_name_keys(user: &User) -> Vec<String> {
    let mut keys: Vec<String> = indexed(&user.username).into_iter().collect();
    if let Some(global) = user.global_name.as_deref().and_then(indexed)
        && !keys.contains(&global)
    {
        keys.push(global);
    }
    keys
}

/// The name a member is found by in their guild alone: the nick.
pub fn nick_key(member: &Member) -> Option<String> {
    member.nick.as_deref().and_then(indexed)
}

/// Lowercased login key for the username/email index.
pub fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

/// The index keys a user can log in with, each with the field it came
/// from; none for bots, which cannot log in.
pub fn login_keys(user: &User) -> Vec<(String, &'static str)> {
    if user.bot {
        return Vec::new();
    }
    let mut keys = vec![(login_key(&user.username), "username")];
    keys.extend(user.email.as_deref().map(|e| (login_key(e), "email")));
    keys
}

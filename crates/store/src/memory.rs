//! The reference backend: plain maps behind one lock. Obviously correct,
//! not durable; the conformance suite holds every other backend to it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{
    Application, Attachment, AuditEntry, Ban, Channel, Command, CommandPermissions, Emoji, Guild,
    Images, Invite, Member, Message, MessagePatch, PushSubscription, QueuedPush, ReadState, Role,
    ThreadMember, User, UserGuildSettings, Webhook,
};

use crate::mentions::{Mention, MentionTarget, Mentioned};
use crate::{
    ApplicationStore, AuditLogStore, BanStore, ChannelStore, CommandCreate, CommandOverwrite,
    CommandStore, CommandUpdate, EmojiStore, GuildStore, InviteStore, InviteUse, MemberStore,
    MentionStore, MessageStore, MetaStore, NewGuild, NotificationStore, OpenPoll, PinStore,
    PollStore, PollVote, PrivateChannelStore, ReactionStore, ReadStateStore, StoreError,
    StoreResult, ThreadMemberStore, ThreadUpdate, UserStore, WebhookStore, bucket_of, login_key,
    login_keys, nick_key, user_name_keys,
};

type Partition = BTreeMap<Reverse<u64>, Message>;

#[derive(Default)]
struct Inner {
    users: HashMap<Snowflake, User>,
    logins: HashMap<String, Snowflake>,
    applications: HashMap<Snowflake, Application>,
    guilds: HashMap<Snowflake, Guild>,
    roles: BTreeMap<(Snowflake, Snowflake), Role>,
    channels: HashMap<Snowflake, Channel>,
    /// (guild, channel), threads included.
    guild_channels: BTreeSet<(Snowflake, Snowflake)>,
    /// (thread, user)
    thread_members: BTreeMap<(Snowflake, Snowflake), ThreadMember>,
    members: BTreeMap<(Snowflake, Snowflake), Member>,
    user_guilds: BTreeSet<(Snowflake, Snowflake)>,
    invites: HashMap<String, Invite>,
    bans: BTreeMap<(Snowflake, Snowflake), Ban>,
    /// (channel, newest pin first, message)
    pins: BTreeSet<(Snowflake, Reverse<u64>, Snowflake)>,
    pinned_at: HashMap<(Snowflake, Snowflake), u64>,
    /// (channel, message, emoji, user)
    reactions: BTreeSet<(Snowflake, Snowflake, String, Snowflake)>,
    user_private: BTreeSet<(Snowflake, Snowflake)>,
    /// (guild, newest first)
    audit: BTreeMap<(Snowflake, Reverse<u64>), AuditEntry>,
    /// (guild, emoji)
    emojis: BTreeMap<(Snowflake, Snowflake), Emoji>,
    emoji_images: HashMap<Snowflake, Vec<u8>>,
    attachments: HashMap<Snowflake, Attachment>,
    blob_refs: HashMap<String, u64>,
    /// (user, channel)
    read_states: BTreeMap<(Snowflake, Snowflake), ReadState>,
    dm_pairs: HashMap<(Snowflake, Snowflake), Snowflake>,
    /// Only non-empty partitions are kept, so empty buckets cannot be visited.
    messages: BTreeMap<(Snowflake, u64), Partition>,
    meta: HashMap<String, Vec<u8>>,
    /// Deleted channels whose messages are left to `purge_deleted`.
    purging: BTreeSet<Snowflake>,
    webhooks: BTreeMap<Snowflake, Webhook>,
    /// (channel, message, answer, user)
    poll_votes: BTreeSet<(Snowflake, Snowflake, u8, Snowflake)>,
    /// (expiry, channel, message) of the polls not yet ended.
    open_polls: BTreeSet<(u64, Snowflake, Snowflake)>,
    commands: BTreeMap<Snowflake, Command>,
    /// (guild, command or application)
    command_permissions: BTreeMap<(Snowflake, Snowflake), CommandPermissions>,
    /// (user, endpoint)
    push_subscriptions: BTreeMap<(Snowflake, String), PushSubscription>,
    /// (due, id) -> push, and id -> due
    push_queue: BTreeMap<(u64, Snowflake), QueuedPush>,
    push_due: HashMap<Snowflake, u64>,
    /// (user, guild or 0 for DMs)
    user_guild_settings: BTreeMap<(Snowflake, Snowflake), UserGuildSettings>,
    /// (target, newest message first) -> channel
    mentions: BTreeMap<(MentionTarget, Reverse<Snowflake>), Snowflake>,
    /// (reader, message) dismissed from the reader's inbox
    dismissed_mentions: HashSet<(Snowflake, Snowflake)>,
}

impl Inner {
    fn scope_commands(&self, app: Snowflake, guild: Option<Snowflake>) -> Vec<Command> {
        let found = self.commands.values();
        let found = found.filter(|c| c.application_id == app && c.guild_id == guild);
        found.cloned().collect()
    }
}

/// Values keyed by id from just above `from`, in id order.
fn after<T: Clone>(map: &HashMap<Snowflake, T>, from: Snowflake, limit: usize) -> Vec<T> {
    let mut ids: Vec<Snowflake> = map.keys().copied().filter(|id| *id > from).collect();
    ids.sort();
    ids.truncate(limit);
    ids.iter().map(|id| map[id].clone()).collect()
}

pub struct MemoryStore {
    inner: Mutex<Inner>,
    bucket_ms: u64,
    visits: AtomicU64,
    /// Calls so far: tests count the store I/O of a code path.
    calls: AtomicU64,
    /// Every call yields to the runtime first: see [`MemoryStore::networked`].
    yields: bool,
}

impl MemoryStore {
    pub fn new(bucket_ms: u64) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            bucket_ms,
            visits: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            yields: false,
        }
    }

    /// A store that behaves like one across a network: every call yields
    /// to the runtime before it runs, so other callers run between any two
    /// calls of one caller. A read-then-write race that an in-process
    /// store, answering at once, would hide shows in tests with it.
    pub fn networked(bucket_ms: u64) -> Self {
        MemoryStore {
            yields: true,
            ..MemoryStore::new(bucket_ms)
        }
    }

    /// How many calls the store has answered.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    async fn pause(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.yields {
            tokio::task::yield_now().await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn claim_logins(&mut self, user: &User) -> StoreResult<()> {
        let keys = login_keys(user);
        for (key, what) in &keys {
            crate::keys::text(key)?;
            if self.logins.get(key).is_some_and(|id| *id != user.id) {
                return Err(StoreError::Conflict(what));
            }
        }
        if let Some(old) = self.users.get(&user.id) {
            for (key, _) in login_keys(old) {
                self.logins.remove(&key);
            }
        }
        for (key, _) in keys {
            self.logins.insert(key, user.id);
        }
        Ok(())
    }

    /// The guild's threads, or its other channels.
    fn in_guild(&self, guild_id: Snowflake, threads: bool) -> Vec<Channel> {
        let range = (guild_id, Snowflake(0))..=(guild_id, Snowflake(u64::MAX));
        self.guild_channels
            .range(range)
            .filter_map(|(_, c)| self.channels.get(c))
            .filter(|c| c.is_thread() == threads)
            .cloned()
            .collect()
    }

    /// Makes a channel unknown at once, leaving its messages to
    /// `purge_deleted`.
    fn remove_channel(&mut self, channel_id: Snowflake) {
        if let Some(g) = self.channels.remove(&channel_id).and_then(|c| c.guild_id) {
            self.guild_channels.remove(&(g, channel_id));
        }
        self.thread_members.retain(|(t, _), _| *t != channel_id);
        self.webhooks.retain(|_, w| w.channel_id != channel_id);
        self.purging.insert(channel_id);
    }

    fn remove_channel_messages(&mut self, channel_id: Snowflake) {
        self.messages.retain(|(c, _), _| *c != channel_id);
        self.pins.retain(|(c, _, _)| *c != channel_id);
        self.reactions.retain(|(c, _, _, _)| *c != channel_id);
        self.poll_votes.retain(|(c, _, _, _)| *c != channel_id);
        self.pinned_at.retain(|(c, _), _| *c != channel_id);
        let gone: Vec<Attachment> = self
            .attachments
            .values()
            .filter(|a| a.channel_id == channel_id)
            .cloned()
            .collect();
        for a in gone {
            self.attachments.remove(&a.id);
            if let Some(count) = self.blob_refs.get_mut(&a.sha256) {
                *count -= 1;
                if *count == 0 {
                    self.blob_refs.remove(&a.sha256);
                }
            }
        }
    }

    fn message_mut(
        &mut self,
        channel_id: Snowflake,
        id: Snowflake,
        bucket_ms: u64,
    ) -> Option<&mut Message> {
        let partition = self
            .messages
            .get_mut(&(channel_id, bucket_of(id, bucket_ms)))?;
        partition.get_mut(&Reverse(id.get()))
    }

    fn unpin(&mut self, channel_id: Snowflake, message_id: Snowflake) -> bool {
        match self.pinned_at.remove(&(channel_id, message_id)) {
            Some(at) => self.pins.remove(&(channel_id, Reverse(at), message_id)),
            None => false,
        }
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.claim_logins(user)?;
        inner.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn user(&self, id: Snowflake) -> StoreResult<Option<User>> {
        self.pause().await;
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn users(&self, ids: &[Snowflake]) -> StoreResult<Vec<User>> {
        self.pause().await;
        let inner = self.lock();
        let mut seen = BTreeSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| inner.users.get(id).cloned())
            .collect())
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        self.pause().await;
        let login = login_key(crate::keys::text(login)?);
        let inner = self.lock();
        let id = inner.logins.get(&login);
        Ok(id.and_then(|id| inner.users.get(id)).cloned())
    }

    async fn update_user(&self, user: &User, seen: u64) -> StoreResult<bool> {
        self.pause().await;
        let mut inner = self.lock();
        let stored = inner.users.get(&user.id).map(|u| u.token_generation);
        if stored != Some(seen) {
            return Ok(false);
        }
        inner.claim_logins(user)?;
        inner.users.insert(user.id, user.clone());
        Ok(true)
    }

    async fn users_after(&self, from: Snowflake, limit: usize) -> StoreResult<Vec<User>> {
        self.pause().await;
        Ok(after(&self.lock().users, from, limit))
    }
}

#[async_trait]
impl ApplicationStore for MemoryStore {
    async fn create_application(&self, app: &Application, bot: &User) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.users.insert(bot.id, bot.clone());
        inner.applications.insert(app.id, app.clone());
        Ok(())
    }

    async fn application(&self, id: Snowflake) -> StoreResult<Option<Application>> {
        self.pause().await;
        Ok(self.lock().applications.get(&id).cloned())
    }

    async fn update_application(&self, app: &Application) -> StoreResult<()> {
        self.pause().await;
        self.lock().applications.insert(app.id, app.clone());
        Ok(())
    }
}

#[async_trait]
impl GuildStore for MemoryStore {
    async fn create_guild(&self, new: &NewGuild) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        let g = new.guild.id;
        inner.guilds.insert(g, new.guild.clone());
        for role in &new.roles {
            inner.roles.insert((g, role.id), role.clone());
        }
        for channel in &new.channels {
            inner.guild_channels.insert((g, channel.id));
            inner.channels.insert(channel.id, channel.clone());
        }
        inner.user_guilds.insert((new.owner.user_id, g));
        inner
            .members
            .insert((g, new.owner.user_id), new.owner.clone());
        Ok(())
    }

    async fn guild(&self, id: Snowflake) -> StoreResult<Option<Guild>> {
        self.pause().await;
        Ok(self.lock().guilds.get(&id).cloned())
    }

    async fn guilds_after(&self, from: Snowflake, limit: usize) -> StoreResult<Vec<Guild>> {
        self.pause().await;
        Ok(after(&self.lock().guilds, from, limit))
    }

    async fn update_guild(&self, guild: &Guild) -> StoreResult<()> {
        self.pause().await;
        self.lock().guilds.insert(guild.id, guild.clone());
        Ok(())
    }

    async fn delete_guild(&self, id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.guilds.remove(&id);
        inner.roles.retain(|(g, _), _| *g != id);
        let channels: Vec<Snowflake> = inner
            .guild_channels
            .iter()
            .filter(|(g, _)| *g == id)
            .map(|(_, c)| *c)
            .collect();
        for c in channels {
            inner.remove_channel(c);
        }
        let members: Vec<Snowflake> = inner
            .members
            .keys()
            .filter(|(g, _)| *g == id)
            .map(|(_, u)| *u)
            .collect();
        for u in members {
            inner.members.remove(&(id, u));
            inner.user_guilds.remove(&(u, id));
        }
        inner.invites.retain(|_, i| i.guild_id != id);
        inner.commands.retain(|_, c| c.guild_id != Some(id));
        inner.command_permissions.retain(|(g, _), _| *g != id);
        inner.bans.retain(|(g, _), _| *g != id);
        inner.audit.retain(|(g, _), _| *g != id);
        let emojis: Vec<Snowflake> = inner
            .emojis
            .keys()
            .filter(|(g, _)| *g == id)
            .map(|(_, e)| *e)
            .collect();
        for e in emojis {
            inner.emojis.remove(&(id, e));
            inner.emoji_images.remove(&e);
        }
        Ok(())
    }

    async fn roles(&self, guild_id: Snowflake) -> StoreResult<Vec<Role>> {
        self.pause().await;
        let inner = self.lock();
        let range = (guild_id, Snowflake(0))..=(guild_id, Snowflake(u64::MAX));
        Ok(inner.roles.range(range).map(|(_, r)| r.clone()).collect())
    }

    async fn put_role(&self, role: &Role) -> StoreResult<()> {
        self.pause().await;
        self.lock()
            .roles
            .insert((role.guild_id, role.id), role.clone());
        Ok(())
    }

    async fn delete_role(&self, guild_id: Snowflake, role_id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        self.lock().roles.remove(&(guild_id, role_id));
        Ok(())
    }
}

#[async_trait]
impl ChannelStore for MemoryStore {
    async fn channel(&self, id: Snowflake) -> StoreResult<Option<Channel>> {
        self.pause().await;
        Ok(self.lock().channels.get(&id).cloned())
    }

    async fn guild_channels(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.pause().await;
        Ok(self.lock().in_guild(guild_id, false))
    }

    async fn guild_threads(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.pause().await;
        Ok(self.lock().in_guild(guild_id, true))
    }

    async fn channels_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<Channel>> {
        self.pause().await;
        Ok(crate::memory::after(&self.lock().channels, after, limit))
    }

    async fn put_channel(&self, channel: &Channel) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        if let Some(g) = channel.guild_id {
            inner.guild_channels.insert((g, channel.id));
        }
        inner.channels.insert(channel.id, channel.clone());
        Ok(())
    }

    async fn create_channel(&self, channel: &Channel) -> StoreResult<bool> {
        self.pause().await;
        let mut inner = self.lock();
        if inner.channels.contains_key(&channel.id) || inner.purging.contains(&channel.id) {
            return Ok(false);
        }
        if let Some(g) = channel.guild_id {
            inner.guild_channels.insert((g, channel.id));
        }
        inner.channels.insert(channel.id, channel.clone());
        Ok(true)
    }

    async fn update_thread(
        &self,
        thread_id: Snowflake,
        update: &ThreadUpdate,
    ) -> StoreResult<Option<Channel>> {
        self.pause().await;
        let mut inner = self.lock();
        let Some(stored) = inner.channels.get_mut(&thread_id) else {
            return Ok(None);
        };
        let mut thread = stored.clone();
        if !update.apply(&mut thread) {
            return Ok(None);
        }
        *stored = thread.clone();
        Ok(Some(thread))
    }

    async fn update_channel(&self, channel: &Channel) -> StoreResult<bool> {
        self.pause().await;
        let mut inner = self.lock();
        let Some(stored) = inner.channels.get_mut(&channel.id) else {
            return Ok(false);
        };
        *stored = channel.clone();
        if let Some(g) = channel.guild_id {
            inner.guild_channels.insert((g, channel.id));
        }
        Ok(true)
    }

    async fn delete_channel(&self, id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        self.lock().remove_channel(id);
        Ok(())
    }

    /// One deleted channel's messages a call.
    async fn purge_deleted(&self) -> StoreResult<bool> {
        self.pause().await;
        let mut inner = self.lock();
        let Some(channel) = inner.purging.pop_first() else {
            return Ok(false);
        };
        inner.remove_channel_messages(channel);
        Ok(true)
    }
}

#[async_trait]
impl ThreadMemberStore for MemoryStore {
    async fn thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<ThreadMember>> {
        self.pause().await;
        Ok(self
            .lock()
            .thread_members
            .get(&(thread_id, user_id))
            .cloned())
    }

    async fn thread_members(
        &self,
        thread_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<ThreadMember>> {
        self.pause().await;
        let inner = self.lock();
        let range = (thread_id, Snowflake(after.get().saturating_add(1)))
            ..=(thread_id, Snowflake(u64::MAX));
        Ok(inner
            .thread_members
            .range(range)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn add_thread_member(&self, member: &ThreadMember) -> StoreResult<Option<Channel>> {
        self.pause().await;
        let mut inner = self.lock();
        let key = (member.thread_id, member.user_id);
        if inner.thread_members.contains_key(&key) {
            return Ok(None);
        }
        let Some(state) = inner
            .channels
            .get_mut(&member.thread_id)
            .and_then(|c| c.thread.as_mut())
        else {
            return Ok(None);
        };
        state.member_count = state.member_count.saturating_add(1);
        let thread = inner.channels[&member.thread_id].clone();
        inner.thread_members.insert(key, member.clone());
        Ok(Some(thread))
    }

    async fn remove_thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<Channel>> {
        self.pause().await;
        let mut inner = self.lock();
        if inner.thread_members.remove(&(thread_id, user_id)).is_none() {
            return Ok(None);
        }
        let Some(thread) = inner.channels.get_mut(&thread_id) else {
            return Ok(None);
        };
        if let Some(state) = thread.thread.as_mut() {
            state.member_count = state.member_count.saturating_sub(1);
        }
        Ok(Some(thread.clone()))
    }
}

#[async_trait]
impl MemberStore for MemoryStore {
    async fn member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Member>> {
        self.pause().await;
        Ok(self.lock().members.get(&(guild_id, user_id)).cloned())
    }

    async fn members(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Member>> {
        self.pause().await;
        let inner = self.lock();
        let start = Snowflake(after.get().saturating_add(1));
        let range = (guild_id, start)..=(guild_id, Snowflake(u64::MAX));
        Ok(inner
            .members
            .range(range)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn members_by_ids(
        &self,
        guild_id: Snowflake,
        user_ids: &[Snowflake],
    ) -> StoreResult<Vec<Member>> {
        self.pause().await;
        let inner = self.lock();
        let mut seen = BTreeSet::new();
        Ok(user_ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| inner.members.get(&(guild_id, *id)).cloned())
            .collect())
    }

    /// Reads the whole guild: the memory store is for tests.
    async fn members_by_name(
        &self,
        guild_id: Snowflake,
        prefix: &str,
        limit: usize,
    ) -> StoreResult<Vec<Member>> {
        self.pause().await;
        let inner = self.lock();
        let range = (guild_id, Snowflake(0))..=(guild_id, Snowflake(u64::MAX));
        let named = |member: &Member| {
            let user = inner.users.get(&member.user_id);
            let names = user.map(user_name_keys).unwrap_or_default();
            names
                .into_iter()
                .chain(nick_key(member))
                .any(|n| n.starts_with(prefix))
        };
        Ok(inner
            .members
            .range(range)
            .map(|(_, m)| m)
            .filter(|m| named(m))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn put_member(&self, member: &Member) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.user_guilds.insert((member.user_id, member.guild_id));
        inner
            .members
            .insert((member.guild_id, member.user_id), member.clone());
        Ok(())
    }

    async fn delete_member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.members.remove(&(guild_id, user_id));
        inner.user_guilds.remove(&(user_id, guild_id));
        Ok(())
    }

    async fn user_guild_ids(&self, user_id: Snowflake) -> StoreResult<Vec<Snowflake>> {
        self.pause().await;
        let inner = self.lock();
        let range = (user_id, Snowflake(0))..=(user_id, Snowflake(u64::MAX));
        Ok(inner.user_guilds.range(range).map(|(_, g)| *g).collect())
    }

    async fn member_count(&self, guild_id: Snowflake) -> StoreResult<u64> {
        self.pause().await;
        let inner = self.lock();
        let range = (guild_id, Snowflake(0))..=(guild_id, Snowflake(u64::MAX));
        Ok(inner.members.range(range).count() as u64)
    }
}

#[async_trait]
impl InviteStore for MemoryStore {
    async fn invite(&self, code: &str) -> StoreResult<Option<Invite>> {
        self.pause().await;
        let code = crate::keys::text(code)?;
        Ok(self.lock().invites.get(code).cloned())
    }

    async fn put_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.pause().await;
        crate::keys::text(&invite.code)?;
        self.lock()
            .invites
            .insert(invite.code.clone(), invite.clone());
        Ok(())
    }

    async fn delete_invite(&self, code: &str) -> StoreResult<()> {
        self.pause().await;
        self.lock().invites.remove(crate::keys::text(code)?);
        Ok(())
    }

    async fn use_invite(&self, code: &str, now_ms: u64) -> StoreResult<InviteUse> {
        self.pause().await;
        let code = crate::keys::text(code)?;
        Ok(InviteUse::apply(self.lock().invites.get_mut(code), now_ms))
    }

    async fn guild_invites(&self, guild_id: Snowflake) -> StoreResult<Vec<Invite>> {
        self.pause().await;
        let mut invites: Vec<Invite> = self
            .lock()
            .invites
            .values()
            .filter(|i| i.guild_id == guild_id)
            .cloned()
            .collect();
        invites.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(invites)
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn create_message(&self, message: &Message) -> StoreResult<()> {
        self.pause().await;
        let bucket = bucket_of(message.id, self.bucket_ms);
        let mut inner = self.lock();
        if let Some(poll) = message.poll.as_ref().filter(|p| !p.finalized) {
            inner
                .open_polls
                .insert((poll.expiry_ms, message.channel_id, message.id));
        }
        inner
            .messages
            .entry((message.channel_id, bucket))
            .or_default()
            .insert(Reverse(message.id.get()), message.clone());
        Ok(())
    }

    async fn message(&self, channel_id: Snowflake, id: Snowflake) -> StoreResult<Option<Message>> {
        self.pause().await;
        let bucket = bucket_of(id, self.bucket_ms);
        let inner = self.lock();
        let partition = inner.messages.get(&(channel_id, bucket));
        Ok(partition.and_then(|p| p.get(&Reverse(id.get()))).cloned())
    }

    async fn update_message(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
        patch: &MessagePatch,
    ) -> StoreResult<Option<Message>> {
        self.pause().await;
        let bucket = bucket_of(id, self.bucket_ms);
        let mut inner = self.lock();
        let partition = inner.messages.get_mut(&(channel_id, bucket));
        Ok(partition
            .and_then(|p| p.get_mut(&Reverse(id.get())))
            .map(|m| {
                patch.apply(m);
                m.clone()
            }))
    }

    async fn delete_messages(
        &self,
        channel_id: Snowflake,
        ids: &[Snowflake],
    ) -> StoreResult<Vec<Message>> {
        self.pause().await;
        let mut inner = self.lock();
        let mut deleted = Vec::new();
        for id in ids {
            let key = (channel_id, bucket_of(*id, self.bucket_ms));
            let Some(partition) = inner.messages.get_mut(&key) else {
                continue;
            };
            let removed = partition.remove(&Reverse(id.get()));
            if partition.is_empty() {
                inner.messages.remove(&key);
            }
            if let Some(message) = &removed {
                inner.unpin(channel_id, *id);
                inner
                    .reactions
                    .retain(|(c, m, _, _)| (*c, *m) != (channel_id, *id));
                inner
                    .poll_votes
                    .retain(|(c, m, _, _)| (*c, *m) != (channel_id, *id));
                if let Some(poll) = &message.poll {
                    inner.open_polls.remove(&(poll.expiry_ms, channel_id, *id));
                }
            }
            deleted.extend(removed);
        }
        Ok(deleted)
    }

    async fn messages_before(
        &self,
        channel_id: Snowflake,
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.pause().await;
        let inner = self.lock();
        let last = before.map_or(u64::MAX, |b| bucket_of(b, self.bucket_ms));
        let bound = before.map_or(u64::MAX, |b| b.get());
        let mut page = Vec::new();
        for (_, partition) in inner
            .messages
            .range((channel_id, 0)..=(channel_id, last))
            .rev()
        {
            if page.len() >= limit {
                break;
            }
            self.visits.fetch_add(1, Ordering::Relaxed);
            let newer_than_bound = Reverse(bound.saturating_sub(1));
            let rest = limit - page.len();
            page.extend(
                partition
                    .range(newer_than_bound..)
                    .take(rest)
                    .map(|(_, m)| m.clone()),
            );
        }
        Ok(page)
    }

    async fn messages_after(
        &self,
        channel_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.pause().await;
        let inner = self.lock();
        let first = bucket_of(after, self.bucket_ms);
        let mut page = Vec::new();
        for (_, partition) in inner
            .messages
            .range((channel_id, first)..=(channel_id, u64::MAX))
        {
            if page.len() >= limit {
                break;
            }
            self.visits.fetch_add(1, Ordering::Relaxed);
            let rest = limit - page.len();
            let older = partition
                .range(..Reverse(after.get()))
                .rev()
                .take(rest)
                .map(|(_, m)| m.clone());
            page.extend(older);
        }
        Ok(page)
    }

    fn buckets_visited(&self) -> u64 {
        self.visits.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl BanStore for MemoryStore {
    async fn ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Ban>> {
        self.pause().await;
        Ok(self.lock().bans.get(&(guild_id, user_id)).cloned())
    }

    async fn bans(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Ban>> {
        self.pause().await;
        let inner = self.lock();
        let start = Snowflake(after.get().saturating_add(1));
        let range = (guild_id, start)..=(guild_id, Snowflake(u64::MAX));
        Ok(inner
            .bans
            .range(range)
            .take(limit)
            .map(|(_, b)| b.clone())
            .collect())
    }

    async fn put_ban(&self, ban: &Ban) -> StoreResult<()> {
        self.pause().await;
        self.lock()
            .bans
            .insert((ban.guild_id, ban.user_id), ban.clone());
        Ok(())
    }

    async fn delete_ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        self.lock().bans.remove(&(guild_id, user_id));
        Ok(())
    }
}

#[async_trait]
impl PrivateChannelStore for MemoryStore {
    async fn create_private_channel(&self, channel: &Channel) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        for user in &channel.recipients {
            inner.user_private.insert((*user, channel.id));
        }
        if let [a, b] = channel.recipients[..]
            && channel.kind == concord_model::records::channel_type::DM
        {
            inner.dm_pairs.insert(crate::dm_pair(a, b), channel.id);
        }
        inner.channels.insert(channel.id, channel.clone());
        Ok(())
    }

    async fn update_private_channel(
        &self,
        channel: &Channel,
        removed: &[Snowflake],
    ) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        for user in removed {
            inner.user_private.remove(&(*user, channel.id));
        }
        for user in &channel.recipients {
            inner.user_private.insert((*user, channel.id));
        }
        inner.channels.insert(channel.id, channel.clone());
        Ok(())
    }

    async fn dm_between(&self, a: Snowflake, b: Snowflake) -> StoreResult<Option<Snowflake>> {
        self.pause().await;
        Ok(self.lock().dm_pairs.get(&crate::dm_pair(a, b)).copied())
    }

    async fn private_channels(&self, user_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.pause().await;
        let inner = self.lock();
        let range = (user_id, Snowflake(0))..=(user_id, Snowflake(u64::MAX));
        Ok(inner
            .user_private
            .range(range)
            .filter_map(|(_, c)| inner.channels.get(c).cloned())
            .collect())
    }
}

#[async_trait]
impl AuditLogStore for MemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.pause().await;
        let key = (entry.guild_id, Reverse(entry.id.get()));
        self.lock().audit.insert(key, entry.clone());
        Ok(())
    }

    async fn audit_entries(
        &self,
        guild_id: Snowflake,
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.pause().await;
        let inner = self.lock();
        let start = before.map_or(u64::MAX, |b| b.get().saturating_sub(1));
        let range = (guild_id, Reverse(start))..=(guild_id, Reverse(0));
        Ok(inner
            .audit
            .range(range)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

#[async_trait]
impl EmojiStore for MemoryStore {
    async fn emojis(&self, guild_id: Snowflake) -> StoreResult<Vec<Emoji>> {
        self.pause().await;
        let inner = self.lock();
        let range = (guild_id, Snowflake(0))..=(guild_id, Snowflake(u64::MAX));
        Ok(inner.emojis.range(range).map(|(_, e)| e.clone()).collect())
    }

    async fn put_emoji(&self, emoji: &Emoji, image: Option<&[u8]>) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        if let Some(image) = image {
            inner.emoji_images.insert(emoji.id, image.to_vec());
        }
        inner
            .emojis
            .insert((emoji.guild_id, emoji.id), emoji.clone());
        Ok(())
    }

    async fn delete_emoji(&self, guild_id: Snowflake, id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.emojis.remove(&(guild_id, id));
        inner.emoji_images.remove(&id);
        Ok(())
    }

    async fn emoji_image(&self, id: Snowflake) -> StoreResult<Option<Vec<u8>>> {
        self.pause().await;
        Ok(self.lock().emoji_images.get(&id).cloned())
    }
}

#[async_trait]
impl ReadStateStore for MemoryStore {
    async fn put_read_state(&self, state: &ReadState) -> StoreResult<()> {
        self.pause().await;
        let key = (state.user_id, state.channel_id);
        self.lock().read_states.insert(key, *state);
        Ok(())
    }

    async fn read_states(&self, user_id: Snowflake) -> StoreResult<Vec<ReadState>> {
        self.pause().await;
        let inner = self.lock();
        let range = (user_id, Snowflake(0))..=(user_id, Snowflake(u64::MAX));
        Ok(inner.read_states.range(range).map(|(_, s)| *s).collect())
    }
}

#[async_trait]
impl ReactionStore for MemoryStore {
    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<Option<bool>> {
        self.pause().await;
        let mut inner = self.lock();
        if inner
            .message_mut(channel_id, message_id, self.bucket_ms)
            .is_none()
        {
            return Ok(None);
        }
        let added = inner
            .reactions
            .insert((channel_id, message_id, emoji.to_owned(), user_id));
        if added && let Some(m) = inner.message_mut(channel_id, message_id, self.bucket_ms) {
            m.count_reaction(emoji, true);
        }
        Ok(Some(added))
    }

    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool> {
        self.pause().await;
        let mut inner = self.lock();
        let removed = inner
            .reactions
            .remove(&(channel_id, message_id, emoji.to_owned(), user_id));
        if removed && let Some(m) = inner.message_mut(channel_id, message_id, self.bucket_ms) {
            m.count_reaction(emoji, false);
        }
        Ok(removed)
    }

    async fn has_reacted(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool> {
        self.pause().await;
        Ok(self
            .lock()
            .reactions
            .contains(&(channel_id, message_id, emoji.to_owned(), user_id)))
    }

    async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Snowflake>> {
        self.pause().await;
        let inner = self.lock();
        let start = (
            channel_id,
            message_id,
            emoji.to_owned(),
            Snowflake(after.get().saturating_add(1)),
        );
        let end = (
            channel_id,
            message_id,
            emoji.to_owned(),
            Snowflake(u64::MAX),
        );
        Ok(inner
            .reactions
            .range(start..=end)
            .take(limit)
            .map(|(_, _, _, u)| *u)
            .collect())
    }

    async fn clear_reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Option<&str>,
    ) -> StoreResult<Option<Message>> {
        self.pause().await;
        let mut inner = self.lock();
        inner.reactions.retain(|(c, m, e, _)| {
            (*c, *m) != (channel_id, message_id) || emoji.is_some_and(|x| x != e)
        });
        Ok(inner
            .message_mut(channel_id, message_id, self.bucket_ms)
            .map(|m| {
                m.reactions.retain(|r| emoji.is_some_and(|x| x != r.emoji));
                m.clone()
            }))
    }
}

#[async_trait]
impl PinStore for MemoryStore {
    async fn put_pin(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        pinned_at_ms: u64,
    ) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        inner.unpin(channel_id, message_id);
        inner
            .pins
            .insert((channel_id, Reverse(pinned_at_ms), message_id));
        inner
            .pinned_at
            .insert((channel_id, message_id), pinned_at_ms);
        Ok(())
    }

    async fn delete_pin(&self, channel_id: Snowflake, message_id: Snowflake) -> StoreResult<bool> {
        self.pause().await;
        Ok(self.lock().unpin(channel_id, message_id))
    }

    async fn pins(
        &self,
        channel_id: Snowflake,
        before_ms: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<(Snowflake, u64)>> {
        self.pause().await;
        let inner = self.lock();
        let first = Reverse(before_ms.map_or(u64::MAX, |b| b.saturating_sub(1)));
        let range =
            (channel_id, first, Snowflake(0))..=(channel_id, Reverse(0), Snowflake(u64::MAX));
        Ok(inner
            .pins
            .range(range)
            .take(limit)
            .map(|(_, at, m)| (*m, at.0))
            .collect())
    }

    async fn pin_count(&self, channel_id: Snowflake) -> StoreResult<usize> {
        self.pause().await;
        let inner = self.lock();
        Ok(inner
            .pinned_at
            .keys()
            .filter(|(c, _)| *c == channel_id)
            .count())
    }
}

#[async_trait]
impl MetaStore for MemoryStore {
    async fn meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.pause().await;
        Ok(self.lock().meta.get(crate::keys::text(key)?).cloned())
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.pause().await;
        let key = crate::keys::text(key)?;
        self.lock().meta.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn take_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.pause().await;
        Ok(self.lock().meta.remove(crate::keys::text(key)?))
    }

    async fn meta_keys(&self, prefix: &str, limit: usize) -> StoreResult<Vec<String>> {
        self.pause().await;
        let prefix = crate::keys::text(prefix)?;
        let mut keys: Vec<String> = (self.lock().meta.keys())
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort_unstable();
        keys.truncate(limit);
        Ok(keys)
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        self.pause().await;
        let key = crate::keys::text(key)?;
        let mut inner = self.lock();
        let stored = inner
            .meta
            .entry(key.to_owned())
            .or_insert_with(|| value.to_vec());
        Ok(stored.clone())
    }
}

#[async_trait]
impl crate::AttachmentStore for MemoryStore {
    async fn put_attachments(&self, attachments: &[Attachment]) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        for a in attachments {
            inner.attachments.insert(a.id, a.clone());
            *inner.blob_refs.entry(a.sha256.clone()).or_insert(0) += 1;
        }
        Ok(())
    }

    async fn attachment(&self, id: Snowflake) -> StoreResult<Option<Attachment>> {
        self.pause().await;
        Ok(self.lock().attachments.get(&id).cloned())
    }

    async fn blob_referenced(&self, sha256: &str) -> StoreResult<bool> {
        self.pause().await;
        let inner = self.lock();
        // Images are found by looking through the records: this backend
        // holds test-sized data, and nothing can drift from the records.
        let shows = |record: &dyn Images| record.image_blob() == Some(sha256);
        Ok(inner.blob_refs.contains_key(sha256)
            || inner.users.values().any(|u| shows(u))
            || inner.guilds.values().any(|g| shows(g))
            || inner.webhooks.values().any(|w| shows(w))
            || inner.channels.values().any(|c| shows(c)))
    }

    async fn delete_attachments(&self, ids: &[Snowflake]) -> StoreResult<Vec<String>> {
        self.pause().await;
        let mut inner = self.lock();
        let mut freed = Vec::new();
        for id in ids {
            let Some(a) = inner.attachments.remove(id) else {
                continue;
            };
            let count = inner.blob_refs.entry(a.sha256.clone()).or_insert(1);
            *count -= 1;
            if *count == 0 {
                inner.blob_refs.remove(&a.sha256);
                freed.push(a.sha256);
            }
        }
        Ok(freed)
    }
}

impl crate::BackupStore for MemoryStore {
    /// Memory holds nothing worth keeping: there is nothing to back up.
    fn copy_to(
        &self,
        _dest: &std::path::Path,
        _progress: &dyn Fn(crate::CopyProgress),
    ) -> StoreResult<u64> {
        Err(StoreError::Backend(
            "the in-memory store cannot be backed up".into(),
        ))
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        self.pause().await;
        self.lock().webhooks.insert(webhook.id, webhook.clone());
        Ok(())
    }

    async fn webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        self.pause().await;
        Ok(self.lock().webhooks.get(&id).cloned())
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        self.pause().await;
        match self.lock().webhooks.get_mut(&webhook.id) {
            Some(stored) => {
                *stored = webhook.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        self.pause().await;
        Ok(self.lock().webhooks.remove(&id))
    }

    async fn channel_webhooks(&self, channel_id: Snowflake) -> StoreResult<Vec<Webhook>> {
        self.pause().await;
        let inner = self.lock();
        let found = inner
            .webhooks
            .values()
            .filter(|w| w.channel_id == channel_id);
        Ok(found.cloned().collect())
    }

    async fn guild_webhooks(&self, guild_id: Snowflake) -> StoreResult<Vec<Webhook>> {
        self.pause().await;
        let inner = self.lock();
        let found = inner.webhooks.values().filter(|w| w.guild_id == guild_id);
        Ok(found.cloned().collect())
    }
}

impl Inner {
    /// The user's answers on a poll, ascending.
    fn votes_of(&self, channel_id: Snowflake, message_id: Snowflake, user: Snowflake) -> Vec<u8> {
        let all = (channel_id, message_id, 0, Snowflake(0))
            ..=(channel_id, message_id, u8::MAX, Snowflake(u64::MAX));
        self.poll_votes
            .range(all)
            .filter(|v| v.3 == user)
            .map(|v| v.2)
            .collect()
    }
}

#[async_trait]
impl PollStore for MemoryStore {
    async fn vote_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
        answer_ids: &[u8],
        now_ms: u64,
    ) -> StoreResult<PollVote> {
        self.pause().await;
        let mut inner = self.lock();
        let Some(message) = inner.message_mut(channel_id, message_id, self.bucket_ms) else {
            return Ok(PollVote::Unknown);
        };
        match &message.poll {
            None => return Ok(PollVote::Unknown),
            Some(poll) if !poll.open_at(now_ms) => return Ok(PollVote::Ended),
            Some(_) => {}
        }
        let before = inner.votes_of(channel_id, message_id, user_id);
        let removed: Vec<u8> = before
            .iter()
            .copied()
            .filter(|a| !answer_ids.contains(a))
            .collect();
        let mut added: Vec<u8> = answer_ids
            .iter()
            .copied()
            .filter(|a| !before.contains(a))
            .collect();
        added.sort_unstable();
        added.dedup();
        for answer in &removed {
            inner
                .poll_votes
                .remove(&(channel_id, message_id, *answer, user_id));
        }
        for answer in &added {
            inner
                .poll_votes
                .insert((channel_id, message_id, *answer, user_id));
        }
        Ok(PollVote::Changed { removed, added })
    }

    async fn poll_counts(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> StoreResult<Vec<(u8, u64)>> {
        self.pause().await;
        let inner = self.lock();
        let all = (channel_id, message_id, 0, Snowflake(0))
            ..=(channel_id, message_id, u8::MAX, Snowflake(u64::MAX));
        let mut counts: BTreeMap<u8, u64> = BTreeMap::new();
        for vote in inner.poll_votes.range(all) {
            *counts.entry(vote.2).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    async fn poll_votes(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Vec<u8>> {
        self.pause().await;
        Ok(self.lock().votes_of(channel_id, message_id, user_id))
    }

    async fn poll_voters(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        answer_id: u8,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Snowflake>> {
        self.pause().await;
        let inner = self.lock();
        let from = Snowflake(after.get().saturating_add(1));
        let range = (channel_id, message_id, answer_id, from)
            ..=(channel_id, message_id, answer_id, Snowflake(u64::MAX));
        Ok(inner
            .poll_votes
            .range(range)
            .take(limit)
            .map(|v| v.3)
            .collect())
    }

    async fn polls_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<OpenPoll>> {
        self.pause().await;
        let inner = self.lock();
        Ok(inner
            .open_polls
            .iter()
            .take_while(|(expiry, _, _)| *expiry <= now_ms)
            .take(limit)
            .map(|&(expiry_ms, channel_id, message_id)| OpenPoll {
                channel_id,
                message_id,
                expiry_ms,
            })
            .collect())
    }

    async fn end_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        expiry_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Option<Message>> {
        self.pause().await;
        let mut inner = self.lock();
        inner
            .open_polls
            .remove(&(expiry_ms, channel_id, message_id));
        let Some(message) = inner.message_mut(channel_id, message_id, self.bucket_ms) else {
            return Ok(None);
        };
        match message.poll.as_mut() {
            Some(poll) if !poll.finalized => {
                poll.finalized = true;
                poll.expiry_ms = poll.expiry_ms.min(now_ms);
                Ok(Some(message.clone()))
            }
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl CommandStore for MemoryStore {
    async fn create_command(&self, command: &Command, max: usize) -> StoreResult<CommandCreate> {
        self.pause().await;
        let mut inner = self.lock();
        let current = inner.scope_commands(command.application_id, command.guild_id);
        let outcome = CommandCreate::apply(&current, command, max);
        if let CommandCreate::Created(c) | CommandCreate::Replaced(c) = &outcome {
            inner.commands.insert(c.id, c.clone());
        }
        Ok(outcome)
    }

    async fn command(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        self.pause().await;
        Ok(self.lock().commands.get(&id).cloned())
    }

    async fn commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
    ) -> StoreResult<Vec<Command>> {
        self.pause().await;
        Ok(self.lock().scope_commands(application_id, guild_id))
    }

    async fn update_command(&self, command: &Command) -> StoreResult<CommandUpdate> {
        self.pause().await;
        let mut inner = self.lock();
        let current = inner.scope_commands(command.application_id, command.guild_id);
        let outcome = CommandUpdate::apply(&current, command);
        if outcome == CommandUpdate::Updated {
            inner.commands.insert(command.id, command.clone());
        }
        Ok(outcome)
    }

    async fn delete_command(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        self.pause().await;
        Ok(self.lock().commands.remove(&id))
    }

    async fn overwrite_commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        commands: &[Command],
    ) -> StoreResult<Vec<Command>> {
        self.pause().await;
        let mut inner = self.lock();
        let current = inner.scope_commands(application_id, guild_id);
        let overwrite = CommandOverwrite::apply(&current, commands);
        for id in &overwrite.removed {
            inner.commands.remove(id);
        }
        for c in &overwrite.commands {
            inner.commands.insert(c.id, c.clone());
        }
        Ok(overwrite.commands)
    }

    async fn command_permissions(
        &self,
        guild_id: Snowflake,
        application_id: Snowflake,
    ) -> StoreResult<Vec<CommandPermissions>> {
        self.pause().await;
        let inner = self.lock();
        let found = inner.command_permissions.range((guild_id, Snowflake(0))..);
        let found = found.take_while(|((g, _), _)| *g == guild_id);
        let found = found.filter(|(_, p)| p.application_id == application_id);
        Ok(found.map(|(_, p)| p.clone()).collect())
    }

    async fn put_command_permissions(&self, permissions: &CommandPermissions) -> StoreResult<()> {
        self.pause().await;
        let key = (permissions.guild_id, permissions.id);
        let mut inner = self.lock();
        if permissions.permissions.is_empty() {
            inner.command_permissions.remove(&key);
        } else {
            inner.command_permissions.insert(key, permissions.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
        max: usize,
    ) -> StoreResult<bool> {
        self.pause().await;
        crate::keys::text(&subscription.endpoint)?;
        let mut inner = self.lock();
        let user = subscription.user_id;
        let key = (user, subscription.endpoint.clone());
        let theirs =
            (user, String::new())..(Snowflake(user.get().saturating_add(1)), String::new());
        let count = inner.push_subscriptions.range(theirs).count();
        if !inner.push_subscriptions.contains_key(&key) && count >= max {
            return Ok(false);
        }
        inner.push_subscriptions.insert(key, subscription.clone());
        Ok(true)
    }

    async fn delete_push_subscription(
        &self,
        user_id: Snowflake,
        endpoint: &str,
    ) -> StoreResult<bool> {
        self.pause().await;
        let key = (user_id, endpoint.to_owned());
        Ok(self.lock().push_subscriptions.remove(&key).is_some())
    }

    async fn push_subscriptions(&self, user_id: Snowflake) -> StoreResult<Vec<PushSubscription>> {
        self.pause().await;
        let inner = self.lock();
        let theirs = inner
            .push_subscriptions
            .values()
            .filter(|s| s.user_id == user_id);
        Ok(theirs.cloned().collect())
    }

    async fn queue_pushes(&self, pushes: &[QueuedPush]) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        for push in pushes {
            crate::keys::text(&push.endpoint)?;
            if let Some(due) = inner.push_due.insert(push.id, push.due_ms) {
                inner.push_queue.remove(&(due, push.id));
            }
            inner
                .push_queue
                .insert((push.due_ms, push.id), push.clone());
        }
        Ok(())
    }

    async fn pushes_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<QueuedPush>> {
        self.pause().await;
        let inner = self.lock();
        let due = inner.push_queue.range(..=(now_ms, Snowflake(u64::MAX)));
        Ok(due.take(limit).map(|(_, p)| p.clone()).collect())
    }

    async fn unqueue_push(&self, id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        if let Some(due) = inner.push_due.remove(&id) {
            inner.push_queue.remove(&(due, id));
        }
        Ok(())
    }

    async fn user_guild_settings(&self, user_id: Snowflake) -> StoreResult<Vec<UserGuildSettings>> {
        self.pause().await;
        let inner = self.lock();
        let theirs = (user_id, Snowflake(0))..=(user_id, Snowflake(u64::MAX));
        Ok(inner
            .user_guild_settings
            .range(theirs)
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn put_user_guild_settings(&self, settings: &UserGuildSettings) -> StoreResult<()> {
        self.pause().await;
        let key = (settings.user_id, settings.guild_id.unwrap_or(Snowflake(0)));
        self.lock()
            .user_guild_settings
            .insert(key, settings.clone());
        Ok(())
    }
}

#[async_trait]
impl MentionStore for MemoryStore {
    async fn put_mentions(&self, mentions: &[Mention]) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        for m in mentions {
            inner
                .mentions
                .insert((m.target, Reverse(m.message_id)), m.channel_id);
        }
        Ok(())
    }

    async fn delete_mentions(&self, mentions: &[Mention]) -> StoreResult<()> {
        self.pause().await;
        let mut inner = self.lock();
        for m in mentions {
            inner.mentions.remove(&(m.target, Reverse(m.message_id)));
        }
        Ok(())
    }

    async fn mentions(
        &self,
        reader: Snowflake,
        targets: &[MentionTarget],
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<Mentioned>> {
        self.pause().await;
        let inner = self.lock();
        let first = Reverse(Snowflake(
            before.map_or(u64::MAX, |b| b.get().saturating_sub(1)),
        ));
        let lists = targets
            .iter()
            .map(|target| {
                inner
                    .mentions
                    .range((*target, first)..=(*target, Reverse(Snowflake(0))))
                    .map(|((_, message), channel)| Mentioned {
                        message_id: message.0,
                        channel_id: *channel,
                    })
                    .filter(|m| !inner.dismissed_mentions.contains(&(reader, m.message_id)))
                    .take(limit)
                    .collect()
            })
            .collect();
        Ok(crate::mentions::merge_newest(lists, limit))
    }

    async fn dismiss_mention(&self, reader: Snowflake, message_id: Snowflake) -> StoreResult<()> {
        self.pause().await;
        self.lock().dismissed_mentions.insert((reader, message_id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn open(bucket_ms: u64) -> (Arc<dyn crate::Store>, Box<dyn std::any::Any + Send>) {
        (Arc::new(MemoryStore::new(bucket_ms)), Box::new(()))
    }

    crate::store_conformance!(open);

    /// The suite again with every call yielding, as a remote store's do.
    mod networked {
        use super::*;

        async fn open(bucket_ms: u64) -> (Arc<dyn crate::Store>, Box<dyn std::any::Any + Send>) {
            (Arc::new(MemoryStore::networked(bucket_ms)), Box::new(()))
        }

        crate::store_conformance!(open);
    }
}

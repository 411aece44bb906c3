use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{
    Application, Attachment, AuditEntry, Ban, Channel, Command, CommandPermissions, Emoji, Guild,
    Images, Invite, Member, Message, MessagePatch, PushSubscription, QueuedPush, ReadState, Role,
    ThreadMember, User, UserGuildSettings, Webhook,
};
use concord_store::{
    ApplicationStore, AttachmentStore, AuditLogStore, BackupStore, BanStore, ChannelStore,
    CommandCreate, CommandOverwrite, CommandStore, CommandUpdate, CopyProgress, EmojiStore,
    GuildStore, InviteStore, InviteUse, MemberStore, MessageStore, MetaStore, NewGuild,
    NotificationStore, OpenPoll, PinStore, PollStore, PollVote, PrivateChannelStore, ReactionStore,
    ReadStateStore, StoreError, StoreResult, ThreadMemberStore, ThreadUpdate, UserStore,
    WebhookStore, bucket_of, keys, login_key, login_keys,
};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};
use serde::de::DeserializeOwned;

use crate::batch::WriteBatch;
use crate::codec::{backend, decode, encode, u64_value};
use crate::wal::{self, Wal};

mod mentions;
mod names;

#[derive(Debug, Clone)]
pub struct FjallOptions {
    /// Width of a message partition in milliseconds.
    pub bucket_ms: u64,
    /// Wait for fsync before acknowledging a write. Off only for tests and
    /// benchmarks that do not need crash safety.
    pub sync: bool,
}

struct Tables {
    user: Keyspace,
    login_user: Keyspace,
    application: Keyspace,
    guild: Keyspace,
    guild_role: Keyspace,
    channel: Keyspace,
    guild_channel: Keyspace,
    guild_thread: Keyspace,
    thread_member: Keyspace,
    guild_member: Keyspace,
    user_guild: Keyspace,
    name_user: Keyspace,
    guild_nick: Keyspace,
    guild_member_count: Keyspace,
    invite: Keyspace,
    guild_invite: Keyspace,
    guild_ban: Keyspace,
    channel_bucket_message: Keyspace,
    channel_bucket: Keyspace,
    message_reaction: Keyspace,
    channel_pin: Keyspace,
    channel_pin_at: Keyspace,
    user_private_channel: Keyspace,
    dm_pair: Keyspace,
    user_read_state: Keyspace,
    guild_emoji: Keyspace,
    guild_audit: Keyspace,
    emoji_image: Keyspace,
    attachment: Keyspace,
    channel_attachment: Keyspace,
    blob_ref: Keyspace,
    image_ref: Keyspace,
    webhook: Keyspace,
    channel_webhook: Keyspace,
    guild_webhook: Keyspace,
    poll_vote: Keyspace,
    open_poll: Keyspace,
    command: Keyspace,
    command_scope: Keyspace,
    guild_command: Keyspace,
    command_permissions: Keyspace,
    push_subscription: Keyspace,
    push_queue: Keyspace,
    push_due: Keyspace,
    user_guild_settings: Keyspace,
    mention: Keyspace,
    mention_dismissed: Keyspace,
    meta: Keyspace,
    purge: Keyspace,
}

pub struct FjallStore {
    db: Database,
    t: Tables,
    bucket_ms: u64,
    /// The write-ahead log, when writes wait to be durable.
    wal: Option<Wal>,
    /// Serializes read-modify-write sequences (indexes, counters).
    write_lock: Mutex<()>,
    visits: AtomicU64,
}

impl FjallStore {
    pub fn open(dir: &Path, options: FjallOptions) -> StoreResult<Self> {
        let db = Database::builder(dir)
            .manual_journal_persist(true)
            .open()
            .map_err(backend)?;
        let open = |name: &str| {
            db.keyspace(name, KeyspaceCreateOptions::default)
                .map_err(backend)
        };
        let t = Tables {
            user: open("user")?,
            login_user: open("login_user")?,
            application: open("application")?,
            guild: open("guild")?,
            guild_role: open("guild_role")?,
            channel: open("channel")?,
            guild_channel: open("guild_channel")?,
            guild_thread: open("guild_thread")?,
            thread_member: open("thread_member")?,
            guild_member: open("guild_member")?,
            user_guild: open("user_guild")?,
            name_user: open("name_user")?,
            guild_nick: open("guild_nick")?,
            guild_member_count: open("guild_member_count")?,
            invite: open("invite")?,
            guild_invite: open("guild_invite")?,
            guild_ban: open("guild_ban")?,
            channel_bucket_message: open("channel_bucket_message")?,
            channel_bucket: open("channel_bucket")?,
            message_reaction: open("message_reaction")?,
            channel_pin: open("channel_pin")?,
            channel_pin_at: open("channel_pin_at")?,
            user_private_channel: open("user_private_channel")?,
            dm_pair: open("dm_pair")?,
            user_read_state: open("user_read_state")?,
            guild_emoji: open("guild_emoji")?,
            guild_audit: open("guild_audit")?,
            emoji_image: open("emoji_image")?,
            attachment: open("attachment")?,
            channel_attachment: open("channel_attachment")?,
            blob_ref: open("blob_ref")?,
            image_ref: open("image_ref")?,
            webhook: open("webhook")?,
            channel_webhook: open("channel_webhook")?,
            guild_webhook: open("guild_webhook")?,
            poll_vote: open("poll_vote")?,
            open_poll: open("open_poll")?,
            command: open("command")?,
            command_scope: open("command_scope")?,
            guild_command: open("guild_command")?,
            command_permissions: open("command_permissions")?,
            push_subscription: open("push_subscription")?,
            push_queue: open("push_queue")?,
            push_due: open("push_due")?,
            user_guild_settings: open("user_guild_settings")?,
            mention: open("mention")?,
            mention_dismissed: open("mention_dismissed")?,
            meta: open("meta")?,
            purge: open("purge")?,
        };
        let wal = Wal::open(dir, &db, &t.meta, options.sync)?;
        let store = FjallStore {
            db,
            t,
            bucket_ms: options.bucket_ms,
            wal,
            write_lock: Mutex::new(()),
            visits: AtomicU64::new(0),
        };
        store.index_names_if_new()?;
        Ok(store)
    }

    /// Removes one step of a deleted channel's records; true once none is
    /// left (and its purge mark is gone).
    fn commit_purge_step(&self, channel: Snowflake) -> StoreResult<(bool, Option<u64>)> {
        let mut done = false;
        let ticket = self.commit(|b| {
            done = self.stage_purge_step(b, channel, PURGE_STEP)?;
            Ok(())
        })?;
        Ok((done, ticket))
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stages a batch under the write lock (so index checks and counters see
    /// no concurrent writer), commits it, then waits until it is durable.
    async fn write(
        &self,
        stage: impl FnOnce(&mut WriteBatch) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let ticket = self.commit(stage)?;
        self.synced(ticket).await
    }

    /// Stages and commits a batch under the write lock, and appends it to
    /// the log; the log sequence to wait on for it to be durable.
    fn commit(
        &self,
        stage: impl FnOnce(&mut WriteBatch) -> StoreResult<()>,
    ) -> StoreResult<Option<u64>> {
        let _guard = self.lock();
        let mut batch = WriteBatch::new(&self.db, self.wal.is_some());
        stage(&mut batch)?;
        let Some(wal) = &self.wal else {
            batch.commit()?;
            return Ok(None);
        };
        if batch.is_empty() {
            // Nothing to write; but what staging read may be a write not
            // yet durable, so the answer waits for everything before it.
            return Ok(Some(wal.last()));
        }
        let seq = wal.next();
        batch.mark(&self.t.meta, wal::APPLIED_KEY, seq.to_be_bytes());
        let ops = batch.commit()?.unwrap_or_default();
        wal.append(seq, &ops);
        Ok(Some(seq))
    }

    /// Waits until what `ticket` covers is durable.
    async fn synced(&self, ticket: Option<u64>) -> StoreResult<()> {
        match (&self.wal, ticket) {
            (Some(wal), Some(seq)) => wal.durable(seq).await,
            _ => Ok(()),
        }
    }

    fn get<T: DeserializeOwned>(ks: &Keyspace, key: impl AsRef<[u8]>) -> StoreResult<Option<T>> {
        ks.get(key)
            .map_err(backend)?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Decoded values of every key under `prefix`, in key order.
    /// Records keyed by id, from just above `after`.
    fn after<T: DeserializeOwned>(
        ks: &Keyspace,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let start = keys::id(Snowflake(after.get().saturating_add(1)));
        ks.range(start..)
            .take(limit)
            .map(|guard| decode(&guard.value().map_err(backend)?))
            .collect()
    }

    fn scan<T: DeserializeOwned>(ks: &Keyspace, prefix: impl AsRef<[u8]>) -> StoreResult<Vec<T>> {
        ks.prefix(prefix)
            .map(|g| decode(&g.value().map_err(backend)?))
            .collect()
    }

    /// Values keyed `owner | id`, by id ascending, starting after `after`.
    fn page_after<T: DeserializeOwned>(
        ks: &Keyspace,
        owner: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let start = keys::pair(owner.get(), after.get().saturating_add(1));
        let end = keys::pair(owner.get(), u64::MAX);
        ks.range(start..=end)
            .take(limit)
            .map(|guard| decode(&guard.value().map_err(backend)?))
            .collect()
    }

    /// Keys under `prefix`, in order.
    fn scan_keys(ks: &Keyspace, prefix: impl AsRef<[u8]>) -> StoreResult<Vec<Vec<u8>>> {
        ks.prefix(prefix)
            .map(|g| g.key().map(|k| k.to_vec()).map_err(backend))
            .collect()
    }

    /// Writes a user and moves its login index entries, refusing taken names.
    fn stage_user(&self, batch: &mut WriteBatch, user: &User) -> StoreResult<()> {
        let keys = login_keys(user);
        for (key, what) in &keys {
            let owner = self.t.login_user.get(keys::text(key)?).map_err(backend)?;
            if owner.is_some_and(|id| u64_value(&id) != user.id.get()) {
                return Err(StoreError::Conflict(what));
            }
        }
        let old = Self::get::<User>(&self.t.user, keys::id(user.id))?;
        if let Some(old) = &old {
            for (key, _) in login_keys(old) {
                batch.remove(&self.t.login_user, key);
            }
        }
        self.stage_image(batch, user.id, old.as_ref().map(|u| u as _), Some(user))?;
        self.stage_user_names(batch, old.as_ref(), user)?;
        for (key, _) in keys {
            batch.insert(&self.t.login_user, key, keys::id(user.id));
        }
        batch.insert(&self.t.user, keys::id(user.id), encode(user)?);
        Ok(())
    }

    /// Moves `owner`'s image reference from the blob its stored record
    /// shows (`old`) to the one its new record shows (`new`; `None` when
    /// the record goes), so that `blob_referenced` follows the records.
    fn stage_image(
        &self,
        batch: &mut WriteBatch,
        owner: Snowflake,
        old: Option<&dyn Images>,
        new: Option<&dyn Images>,
    ) -> StoreResult<()> {
        let (old, new) = (
            old.and_then(Images::image_blob),
            new.and_then(Images::image_blob),
        );
        // Only a key that changes is touched: a batch that removes and
        // inserts one key leaves either.
        if old == new {
            return Ok(());
        }
        if let Some(old) = old {
            batch.remove(&self.t.image_ref, image_key(old, owner)?);
        }
        if let Some(new) = new {
            batch.insert(&self.t.image_ref, image_key(new, owner)?, []);
        }
        Ok(())
    }

    fn stage_member(&self, batch: &mut WriteBatch, member: &Member) -> StoreResult<()> {
        let key = keys::pair(member.guild_id.get(), member.user_id.get());
        let old = Self::get::<Member>(&self.t.guild_member, key)?;
        if old.is_none() {
            self.stage_member_count(batch, member.guild_id, 1)?;
        }
        self.stage_member_nick(batch, old.as_ref(), Some(member))?;
        batch.insert(&self.t.guild_member, key, encode(member)?);
        let index = keys::pair(member.user_id.get(), member.guild_id.get());
        batch.insert(&self.t.user_guild, index, []);
        Ok(())
    }

    fn stage_member_count(
        &self,
        batch: &mut WriteBatch,
        guild: Snowflake,
        delta: i64,
    ) -> StoreResult<()> {
        let key = keys::id(guild);
        let count = self.t.guild_member_count.get(key).map_err(backend)?;
        let count = count
            .map_or(0, |c| u64_value(&c))
            .saturating_add_signed(delta);
        batch.insert(&self.t.guild_member_count, key, count.to_be_bytes());
        Ok(())
    }

    /// Removes every message of a channel and its bucket counts.
    /// Stages the removal of up to `budget` of a deleted channel's
    /// records (messages with their partition counts, reactions, pins,
    /// attachments); once none is left, of its purge mark. True if that
    /// was the last step.
    fn stage_purge_step(
        &self,
        batch: &mut WriteBatch,
        channel: Snowflake,
        budget: usize,
    ) -> StoreResult<bool> {
        let t = &self.t;
        let prefix = keys::id(channel);
        let mut left = budget;
        for table in [
            &t.channel_bucket_message,
            &t.message_reaction,
            &t.poll_vote,
            &t.channel_pin,
            &t.channel_pin_at,
        ] {
            for guard in table.prefix(prefix).take(left) {
                batch.remove(table, guard.key().map_err(backend)?);
                left -= 1;
            }
            if left == 0 {
                return Ok(false);
            }
        }
        let gone: Vec<Attachment> = t
            .channel_attachment
            .prefix(prefix)
            .take(left)
            .map(|g| decode(&g.value().map_err(backend)?))
            .collect::<StoreResult<_>>()?;
        self.stage_attachments_removal(batch, &gone)?;
        if gone.len() == left {
            return Ok(false);
        }
        // The messages are gone: so are their partitions' counts.
        for key in Self::scan_keys(&t.channel_bucket, prefix)? {
            batch.remove(&t.channel_bucket, key);
        }
        batch.remove(&t.purge, prefix);
        Ok(true)
    }

    /// Drops attachment records and their references to blobs; returns
    /// the blobs no attachment refers to any more.
    fn stage_attachments_removal(
        &self,
        batch: &mut WriteBatch,
        gone: &[Attachment],
    ) -> StoreResult<Vec<String>> {
        let mut counts: std::collections::HashMap<&str, u64> = Default::default();
        for a in gone {
            batch.remove(&self.t.attachment, keys::id(a.id));
            let key = keys::pair(a.channel_id.get(), a.id.get());
            batch.remove(&self.t.channel_attachment, key);
            *counts.entry(a.sha256.as_str()).or_insert(0) += 1;
        }
        let mut freed = Vec::new();
        for (sha, removed) in counts {
            let held = self.t.blob_ref.get(sha).map_err(backend)?;
            match held.map_or(0, |v| u64_value(&v)).saturating_sub(removed) {
                0 => {
                    batch.remove(&self.t.blob_ref, sha);
                    freed.push(sha.to_owned());
                }
                left => batch.insert(&self.t.blob_ref, sha, left.to_be_bytes()),
            }
        }
        Ok(freed)
    }

    /// A group DM's icon reference, moved with its record: only private
    /// channels have icons, so only their writes read the stored record.
    fn stage_channel_icon(&self, batch: &mut WriteBatch, channel: &Channel) -> StoreResult<()> {
        if !channel.is_private() {
            return Ok(());
        }
        let old = Self::get::<Channel>(&self.t.channel, keys::id(channel.id))?;
        let old = old.as_ref().map(|c| c as &dyn Images);
        self.stage_image(batch, channel.id, old, Some(channel))
    }

    /// Stages a channel's record (encoded as `value`) and its guild index entry.
    fn stage_channel(
        &self,
        batch: &mut WriteBatch,
        channel: &Channel,
        value: Vec<u8>,
    ) -> StoreResult<()> {
        self.stage_channel_icon(batch, channel)?;
        batch.insert(&self.t.channel, keys::id(channel.id), value);
        if let Some(g) = channel.guild_id {
            batch.insert(
                self.guild_index(channel),
                keys::pair(g.get(), channel.id.get()),
                [],
            );
        }
        Ok(())
    }

    fn stage_channel_removal(&self, batch: &mut WriteBatch, channel: &Channel) -> StoreResult<()> {
        self.stage_image(batch, channel.id, Some(channel), None)?;
        batch.remove(&self.t.channel, keys::id(channel.id));
        if let Some(g) = channel.guild_id {
            batch.remove(
                self.guild_index(channel),
                keys::pair(g.get(), channel.id.get()),
            );
        }
        for key in Self::scan_keys(&self.t.thread_member, keys::id(channel.id))? {
            batch.remove(&self.t.thread_member, key);
        }
        for key in Self::scan_keys(&self.t.channel_webhook, keys::id(channel.id))? {
            let id = keys::pair_second(&key).map(Snowflake);
            if let Some(webhook) = id.map(|id| self.webhook_now(id)).transpose()?.flatten() {
                self.stage_webhook_removal(batch, &webhook)?;
            }
        }
        // Its messages follow, a step at a time (`purge`).
        batch.insert(&self.t.purge, keys::id(channel.id), []);
        Ok(())
    }

    fn webhook_now(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        Self::get(&self.t.webhook, keys::id(id))
    }

    /// Writes a webhook and its channel and guild index entries.
    fn stage_webhook(&self, batch: &mut WriteBatch, webhook: &Webhook) -> StoreResult<()> {
        let (id, guild, channel) = (webhook.id.get(), webhook.guild_id, webhook.channel_id);
        let old = self.webhook_now(webhook.id)?;
        self.stage_image(
            batch,
            webhook.id,
            old.as_ref().map(|w| w as _),
            Some(webhook),
        )?;
        batch.insert(&self.t.webhook, keys::id(webhook.id), encode(webhook)?);
        batch.insert(&self.t.channel_webhook, keys::pair(channel.get(), id), []);
        batch.insert(&self.t.guild_webhook, keys::pair(guild.get(), id), []);
        Ok(())
    }

    fn stage_webhook_removal(&self, batch: &mut WriteBatch, webhook: &Webhook) -> StoreResult<()> {
        self.stage_image(batch, webhook.id, Some(webhook), None)?;
        let (id, guild, channel) = (webhook.id.get(), webhook.guild_id, webhook.channel_id);
        batch.remove(&self.t.webhook, keys::id(webhook.id));
        batch.remove(&self.t.channel_webhook, keys::pair(channel.get(), id));
        batch.remove(&self.t.guild_webhook, keys::pair(guild.get(), id));
        Ok(())
    }

    /// The webhooks an index (`owner | webhook id`) lists under `owner`.
    fn indexed_webhooks(&self, index: &Keyspace, owner: Snowflake) -> StoreResult<Vec<Webhook>> {
        let mut found = Vec::new();
        for key in Self::scan_keys(index, keys::id(owner))? {
            let id = keys::pair_second(&key).map(Snowflake);
            found.extend(id.map(|id| self.webhook_now(id)).transpose()?.flatten());
        }
        Ok(found)
    }

    /// A command's key: `application | guild (0: global) | id`, so a
    /// scope's commands are one prefix, by id.
    fn command_key(command: &Command) -> Vec<u8> {
        let scope = Self::command_scope(command.application_id, command.guild_id);
        [&scope[..], &keys::id(command.id)[..]].concat()
    }

    fn command_scope(application: Snowflake, guild: Option<Snowflake>) -> [u8; 16] {
        keys::pair(application.get(), guild.map_or(0, Snowflake::get))
    }

    fn command_now(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        let Some(scope) = self.t.command_scope.get(keys::id(id)).map_err(backend)? else {
            return Ok(None);
        };
        Self::get(&self.t.command, [&scope[..], &keys::id(id)[..]].concat())
    }

    /// A scope's commands as of one instant: a batch replacing them is
    /// wholly in or wholly out.
    fn scope_commands(
        &self,
        application: Snowflake,
        guild: Option<Snowflake>,
    ) -> StoreResult<Vec<Command>> {
        let snapshot = self.db.snapshot();
        let prefix = Self::command_scope(application, guild);
        snapshot
            .prefix(&self.t.command, prefix)
            .map(|g| decode(&g.value().map_err(backend)?))
            .collect()
    }

    /// Writes a command and its index entries.
    fn stage_command(&self, batch: &mut WriteBatch, command: &Command) -> StoreResult<()> {
        batch.insert(
            &self.t.command,
            Self::command_key(command),
            encode(command)?,
        );
        let scope = Self::command_scope(command.application_id, command.guild_id);
        batch.insert(&self.t.command_scope, keys::id(command.id), scope);
        if let Some(guild) = command.guild_id {
            let key = keys::pair(guild.get(), command.id.get());
            batch.insert(&self.t.guild_command, key, []);
        }
        Ok(())
    }

    /// Removes a command and its index entries; the one removed.
    fn stage_command_removal(
        &self,
        batch: &mut WriteBatch,
        id: Snowflake,
    ) -> StoreResult<Option<Command>> {
        let removed = self.command_now(id)?;
        if let Some(command) = &removed {
            batch.remove(&self.t.command, Self::command_key(command));
            batch.remove(&self.t.command_scope, keys::id(id));
            if let Some(guild) = command.guild_id {
                batch.remove(&self.t.guild_command, keys::pair(guild.get(), id.get()));
            }
        }
        Ok(removed)
    }

    /// Where a guild lists the channel: threads apart from the rest.
    fn guild_index(&self, channel: &Channel) -> &Keyspace {
        if channel.is_thread() {
            &self.t.guild_thread
        } else {
            &self.t.guild_channel
        }
    }

    /// Adds `delta` to a partition's live count, dropping the entry at zero.
    fn stage_bucket_count(
        &self,
        batch: &mut WriteBatch,
        channel: Snowflake,
        bucket: u64,
        delta: i64,
    ) -> StoreResult<()> {
        let key = keys::partition(channel, bucket);
        let current = self.t.channel_bucket.get(key).map_err(backend)?;
        let count = current
            .map_or(0, |c| u64_value(&c))
            .saturating_add_signed(delta);
        if count == 0 {
            batch.remove(&self.t.channel_bucket, key);
        } else {
            batch.insert(&self.t.channel_bucket, key, count.to_be_bytes());
        }
        Ok(())
    }

    /// Removes a message's pin, if it has one; true if it had.
    fn stage_unpin(
        &self,
        batch: &mut WriteBatch,
        channel: Snowflake,
        message: Snowflake,
    ) -> StoreResult<bool> {
        let at_key = keys::pair(channel.get(), message.get());
        let Some(at) = self.t.channel_pin_at.get(at_key).map_err(backend)? else {
            return Ok(false);
        };
        batch.remove(&self.t.channel_pin_at, at_key);
        batch.remove(
            &self.t.channel_pin,
            pin_key(channel, u64_value(&at), message),
        );
        Ok(true)
    }

    fn message_key(&self, channel: Snowflake, id: Snowflake) -> [u8; 24] {
        keys::message(channel, bucket_of(id, self.bucket_ms), id)
    }

    fn bucket_from_key(key: &[u8]) -> StoreResult<u64> {
        keys::pair_second(key).ok_or_else(|| StoreError::Corrupt("short bucket key".into()))
    }
}

#[async_trait]
impl UserStore for FjallStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.write(|b| self.stage_user(b, user)).await
    }

    async fn user(&self, id: Snowflake) -> StoreResult<Option<User>> {
        Self::get(&self.t.user, keys::id(id))
    }

    async fn users(&self, ids: &[Snowflake]) -> StoreResult<Vec<User>> {
        let mut seen = std::collections::HashSet::new();
        let mut users = Vec::with_capacity(ids.len());
        for id in ids.iter().filter(|id| seen.insert(**id)) {
            users.extend(Self::get::<User>(&self.t.user, keys::id(*id))?);
        }
        Ok(users)
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let login = login_key(keys::text(login)?);
        let Some(id) = self.t.login_user.get(login).map_err(backend)? else {
            return Ok(None);
        };
        Self::get(&self.t.user, id)
    }

    async fn update_user(&self, user: &User, seen: u64) -> StoreResult<bool> {
        let mut written = false;
        self.write(|b| {
            let stored = Self::get::<User>(&self.t.user, keys::id(user.id))?;
            if stored.map(|u| u.token_generation) != Some(seen) {
                return Ok(());
            }
            written = true;
            self.stage_user(b, user)
        })
        .await?;
        Ok(written)
    }

    async fn users_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<User>> {
        Self::after(&self.t.user, after, limit)
    }
}

#[async_trait]
impl ApplicationStore for FjallStore {
    async fn create_application(&self, app: &Application, bot: &User) -> StoreResult<()> {
        self.write(|b| {
            self.stage_user(b, bot)?;
            b.insert(&self.t.application, keys::id(app.id), encode(app)?);
            Ok(())
        })
        .await
    }

    async fn application(&self, id: Snowflake) -> StoreResult<Option<Application>> {
        Self::get(&self.t.application, keys::id(id))
    }

    async fn update_application(&self, app: &Application) -> StoreResult<()> {
        let value = encode(app)?;
        self.write(|b| {
            b.insert(&self.t.application, keys::id(app.id), value);
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl GuildStore for FjallStore {
    async fn create_guild(&self, new: &NewGuild) -> StoreResult<()> {
        self.write(|b| {
            let g = new.guild.id;
            let old = Self::get::<Guild>(&self.t.guild, keys::id(g))?;
            self.stage_image(b, g, old.as_ref().map(|g| g as _), Some(&new.guild))?;
            b.insert(&self.t.guild, keys::id(g), encode(&new.guild)?);
            for role in &new.roles {
                b.insert(
                    &self.t.guild_role,
                    keys::pair(g.get(), role.id.get()),
                    encode(role)?,
                );
            }
            for channel in &new.channels {
                b.insert(&self.t.channel, keys::id(channel.id), encode(channel)?);
                b.insert(
                    &self.t.guild_channel,
                    keys::pair(g.get(), channel.id.get()),
                    [],
                );
            }
            self.stage_member(b, &new.owner)
        })
        .await
    }

    async fn guild(&self, id: Snowflake) -> StoreResult<Option<Guild>> {
        Self::get(&self.t.guild, keys::id(id))
    }

    async fn guilds_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<Guild>> {
        Self::after(&self.t.guild, after, limit)
    }

    async fn update_guild(&self, guild: &Guild) -> StoreResult<()> {
        let value = encode(guild)?;
        self.write(|b| {
            let old = Self::get::<Guild>(&self.t.guild, keys::id(guild.id))?;
            self.stage_image(b, guild.id, old.as_ref().map(|g| g as _), Some(guild))?;
            b.insert(&self.t.guild, keys::id(guild.id), value);
            Ok(())
        })
        .await
    }

    async fn delete_guild(&self, id: Snowflake) -> StoreResult<()> {
        // Gone at once for every reader; the messages are left marked for
        // `purge_deleted`.
        self.write(|b| {
            let g = keys::id(id);
            let old = Self::get::<Guild>(&self.t.guild, g)?;
            self.stage_image(b, id, old.as_ref().map(|g| g as _), None)?;
            b.remove(&self.t.guild, g);
            b.remove(&self.t.guild_member_count, g);
            for key in Self::scan_keys(&self.t.guild_role, g)? {
                b.remove(&self.t.guild_role, key);
            }
            for channel in self.guild_channels_now(id, &self.t.guild_channel)? {
                self.stage_channel_removal(b, &channel)?;
            }
            for thread in self.guild_channels_now(id, &self.t.guild_thread)? {
                self.stage_channel_removal(b, &thread)?;
            }
            for key in Self::scan_keys(&self.t.guild_member, g)? {
                if let Some(user) = keys::pair_second(&key) {
                    b.remove(&self.t.user_guild, keys::pair(user, id.get()));
                }
                b.remove(&self.t.guild_member, key);
            }
            self.stage_guild_nicks_removal(b, id)?;
            for key in Self::scan_keys(&self.t.guild_ban, g)? {
                b.remove(&self.t.guild_ban, key);
            }
            for key in Self::scan_keys(&self.t.guild_audit, g)? {
                b.remove(&self.t.guild_audit, key);
            }
            for key in Self::scan_keys(&self.t.guild_emoji, g)? {
                if let Some(emoji) = keys::pair_second(&key) {
                    b.remove(&self.t.emoji_image, emoji.to_be_bytes());
                }
                b.remove(&self.t.guild_emoji, key);
            }
            for key in Self::scan_keys(&self.t.guild_command, g)? {
                if let Some(command) = keys::pair_second(&key) {
                    self.stage_command_removal(b, Snowflake(command))?;
                }
            }
            for key in Self::scan_keys(&self.t.command_permissions, g)? {
                b.remove(&self.t.command_permissions, key);
            }
            for key in Self::scan_keys(&self.t.guild_invite, g)? {
                if let Some(code) = key.get(8..) {
                    b.remove(&self.t.invite, code.to_vec());
                }
                b.remove(&self.t.guild_invite, key);
            }
            Ok(())
        })
        .await
    }

    async fn roles(&self, guild_id: Snowflake) -> StoreResult<Vec<Role>> {
        Self::scan(&self.t.guild_role, keys::id(guild_id))
    }

    async fn put_role(&self, role: &Role) -> StoreResult<()> {
        let value = encode(role)?;
        self.write(|b| {
            b.insert(
                &self.t.guild_role,
                keys::pair(role.guild_id.get(), role.id.get()),
                value,
            );
            Ok(())
        })
        .await
    }

    async fn delete_role(&self, guild_id: Snowflake, role_id: Snowflake) -> StoreResult<()> {
        self.write(|b| {
            b.remove(
                &self.t.guild_role,
                keys::pair(guild_id.get(), role_id.get()),
            );
            Ok(())
        })
        .await
    }
}

impl FjallStore {
    /// The channels an index (`guild_channel` or `guild_thread`) lists for a guild.
    fn guild_channels_now(
        &self,
        guild_id: Snowflake,
        index: &Keyspace,
    ) -> StoreResult<Vec<Channel>> {
        let mut channels = Vec::new();
        for key in Self::scan_keys(index, keys::id(guild_id))? {
            let Some(id) = keys::pair_second(&key) else {
                continue;
            };
            channels.extend(Self::get::<Channel>(&self.t.channel, id.to_be_bytes())?);
        }
        Ok(channels)
    }
}

#[async_trait]
impl ChannelStore for FjallStore {
    async fn channel(&self, id: Snowflake) -> StoreResult<Option<Channel>> {
        Self::get(&self.t.channel, keys::id(id))
    }

    async fn guild_channels(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.guild_channels_now(guild_id, &self.t.guild_channel)
    }

    async fn guild_threads(&self, guild_id: Snowflake) -> StoreResult<Vec<Channel>> {
        self.guild_channels_now(guild_id, &self.t.guild_thread)
    }

    async fn channels_after(&self, after: Snowflake, limit: usize) -> StoreResult<Vec<Channel>> {
        Self::after(&self.t.channel, after, limit)
    }

    async fn put_channel(&self, channel: &Channel) -> StoreResult<()> {
        let value = encode(channel)?;
        self.write(|b| {
            self.stage_channel(b, channel, value)?;
            Ok(())
        })
        .await
    }

    async fn create_channel(&self, channel: &Channel) -> StoreResult<bool> {
        let value = encode(channel)?;
        let mut created = false;
        self.write(|b| {
            let key = keys::id(channel.id);
            // A thread started again from its message waits until the
            // old thread's messages are purged.
            created = !self.t.channel.contains_key(key).map_err(backend)?
                && !self.t.purge.contains_key(key).map_err(backend)?;
            if created {
                self.stage_channel(b, channel, value)?;
            }
            Ok(())
        })
        .await?;
        Ok(created)
    }

    async fn update_thread(
        &self,
        thread_id: Snowflake,
        update: &ThreadUpdate,
    ) -> StoreResult<Option<Channel>> {
        let mut updated = None;
        // Read, change and stage under the store's lock: no other writer
        // comes between, and a deleted thread is found gone.
        self.write(|b| {
            let Some(mut thread) = Self::get::<Channel>(&self.t.channel, keys::id(thread_id))?
            else {
                return Ok(());
            };
            if update.apply(&mut thread) {
                self.stage_channel(b, &thread, encode(&thread)?)?;
                updated = Some(thread);
            }
            Ok(())
        })
        .await?;
        Ok(updated)
    }

    async fn update_channel(&self, channel: &Channel) -> StoreResult<bool> {
        let value = encode(channel)?;
        let mut exists = false;
        // Writers stage under the store's lock: a deletion is wholly before
        // or wholly after this check.
        self.write(|b| {
            exists = self
                .t
                .channel
                .contains_key(keys::id(channel.id))
                .map_err(backend)?;
            if exists {
                self.stage_channel(b, channel, value)?;
            }
            Ok(())
        })
        .await?;
        Ok(exists)
    }

    async fn delete_channel(&self, id: Snowflake) -> StoreResult<()> {
        // One write makes it unknown to every reader; its messages are left
        // marked for `purge_deleted`.
        self.write(
            |b| match Self::get::<Channel>(&self.t.channel, keys::id(id))? {
                Some(channel) => self.stage_channel_removal(b, &channel),
                None => {
                    b.insert(&self.t.purge, keys::id(id), []);
                    Ok(())
                }
            },
        )
        .await
    }

    async fn purge_deleted(&self) -> StoreResult<bool> {
        let Some(key) = Self::scan_keys(&self.t.purge, [])?.into_iter().next() else {
            return Ok(false);
        };
        let (_, ticket) = self.commit_purge_step(Snowflake(u64_value(&key)))?;
        self.synced(ticket).await?;
        Ok(true)
    }
}

#[async_trait]
impl ThreadMemberStore for FjallStore {
    async fn thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<ThreadMember>> {
        Self::get(
            &self.t.thread_member,
            keys::pair(thread_id.get(), user_id.get()),
        )
    }

    async fn thread_members(
        &self,
        thread_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<ThreadMember>> {
        Self::page_after(&self.t.thread_member, thread_id, after, limit)
    }

    async fn add_thread_member(&self, member: &ThreadMember) -> StoreResult<Option<Channel>> {
        let value = encode(member)?;
        let key = keys::pair(member.thread_id.get(), member.user_id.get());
        let mut updated = None;
        self.write(|b| {
            if self.t.thread_member.contains_key(key).map_err(backend)? {
                return Ok(());
            }
            let thread = Self::get::<Channel>(&self.t.channel, keys::id(member.thread_id))?;
            let Some(mut thread) = thread.filter(Channel::is_thread) else {
                return Ok(());
            };
            if let Some(state) = thread.thread.as_mut() {
                state.member_count = state.member_count.saturating_add(1);
            }
            b.insert(&self.t.thread_member, key, value);
            self.stage_channel(b, &thread, encode(&thread)?)?;
            updated = Some(thread);
            Ok(())
        })
        .await?;
        Ok(updated)
    }

    async fn remove_thread_member(
        &self,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Option<Channel>> {
        let key = keys::pair(thread_id.get(), user_id.get());
        let mut updated = None;
        self.write(|b| {
            if !self.t.thread_member.contains_key(key).map_err(backend)? {
                return Ok(());
            }
            b.remove(&self.t.thread_member, key);
            let Some(mut thread) = Self::get::<Channel>(&self.t.channel, keys::id(thread_id))?
            else {
                return Ok(());
            };
            if let Some(state) = thread.thread.as_mut() {
                state.member_count = state.member_count.saturating_sub(1);
            }
            self.stage_channel(b, &thread, encode(&thread)?)?;
            updated = Some(thread);
            Ok(())
        })
        .await?;
        Ok(updated)
    }
}

#[async_trait]
impl MemberStore for FjallStore {
    async fn member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Member>> {
        Self::get(
            &self.t.guild_member,
            keys::pair(guild_id.get(), user_id.get()),
        )
    }

    async fn members(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Member>> {
        Self::page_after(&self.t.guild_member, guild_id, after, limit)
    }

    async fn members_by_ids(
        &self,
        guild_id: Snowflake,
        user_ids: &[Snowflake],
    ) -> StoreResult<Vec<Member>> {
        let mut seen = std::collections::HashSet::new();
        let mut members = Vec::with_capacity(user_ids.len());
        for user in user_ids.iter().filter(|id| seen.insert(**id)) {
            let key = keys::pair(guild_id.get(), user.get());
            members.extend(Self::get::<Member>(&self.t.guild_member, key)?);
        }
        Ok(members)
    }

    async fn members_by_name(
        &self,
        guild_id: Snowflake,
        prefix: &str,
        limit: usize,
    ) -> StoreResult<Vec<Member>> {
        let ids: Vec<Snowflake> = self
            .member_ids_named(guild_id, prefix)?
            .into_iter()
            .take(limit)
            .collect();
        self.members_by_ids(guild_id, &ids).await
    }

    async fn put_member(&self, member: &Member) -> StoreResult<()> {
        self.write(|b| self.stage_member(b, member)).await
    }

    async fn delete_member(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()> {
        self.write(|b| {
            let key = keys::pair(guild_id.get(), user_id.get());
            if let Some(old) = Self::get::<Member>(&self.t.guild_member, key)? {
                self.stage_member_nick(b, Some(&old), None)?;
                self.stage_member_count(b, guild_id, -1)?;
                b.remove(&self.t.guild_member, key);
                b.remove(
                    &self.t.user_guild,
                    keys::pair(user_id.get(), guild_id.get()),
                );
            }
            Ok(())
        })
        .await
    }

    async fn user_guild_ids(&self, user_id: Snowflake) -> StoreResult<Vec<Snowflake>> {
        Ok(Self::scan_keys(&self.t.user_guild, keys::id(user_id))?
            .iter()
            .filter_map(|k| keys::pair_second(k).map(Snowflake))
            .collect())
    }

    async fn member_count(&self, guild_id: Snowflake) -> StoreResult<u64> {
        let count = self
            .t
            .guild_member_count
            .get(keys::id(guild_id))
            .map_err(backend)?;
        Ok(count.map_or(0, |c| u64_value(&c)))
    }
}

/// `channel | message`, then `| emoji length | emoji` when one emoji is meant.
fn reaction_prefix(
    channel: Snowflake,
    message: Snowflake,
    emoji: Option<&str>,
) -> StoreResult<Vec<u8>> {
    let mut key = keys::pair(channel.get(), message.get()).to_vec();
    if let Some(emoji) = emoji {
        let len = u8::try_from(emoji.len()).map_err(|_| StoreError::KeyTooLong(emoji.len()))?;
        key.push(len);
        key.extend_from_slice(emoji.as_bytes());
    }
    Ok(key)
}

fn reaction_key(
    channel: Snowflake,
    message: Snowflake,
    emoji: &str,
    user: Snowflake,
) -> StoreResult<Vec<u8>> {
    let mut key = reaction_prefix(channel, message, Some(emoji))?;
    key.extend_from_slice(&keys::id(user));
    Ok(key)
}

/// `channel | message | answer | user`: an answer's voters in id order.
fn poll_vote_key(channel: Snowflake, message: Snowflake, answer: u8, user: Snowflake) -> [u8; 25] {
    let mut key = [0u8; 25];
    key[..16].copy_from_slice(&keys::pair(channel.get(), message.get()));
    key[16] = answer;
    key[17..].copy_from_slice(&keys::id(user));
    key
}

/// `expiry | channel | message`: a forward scan is the soonest to end first.
fn open_poll_key(expiry_ms: u64, channel: Snowflake, message: Snowflake) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&expiry_ms.to_be_bytes());
    key[8..].copy_from_slice(&keys::pair(channel.get(), message.get()));
    key
}

/// The eight bytes at `at` of a key, as a number.
fn key_u64(key: &[u8], at: usize) -> StoreResult<u64> {
    key.get(at..at + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt("short poll key".into()))
}

/// `sha256 |`: every owner showing the blob's image.
fn image_prefix(sha256: &str) -> StoreResult<Vec<u8>> {
    let mut key = keys::text(sha256)?.as_bytes().to_vec();
    key.push(b'|');
    Ok(key)
}

/// `sha256 | owner id`.
fn image_key(sha256: &str, owner: Snowflake) -> StoreResult<Vec<u8>> {
    let mut key = image_prefix(sha256)?;
    key.extend_from_slice(&keys::id(owner));
    Ok(key)
}

/// `user | endpoint`: a user's subscriptions under one prefix.
fn push_subscription_key(user: Snowflake, endpoint: &str) -> StoreResult<Vec<u8>> {
    let mut key = keys::id(user).to_vec();
    key.extend_from_slice(keys::text(endpoint)?.as_bytes());
    Ok(key)
}

/// `channel | !pinned_at | message`: a forward scan is newest pin first.
fn pin_key(channel: Snowflake, pinned_at_ms: u64, message: Snowflake) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(&keys::pair(channel.get(), !pinned_at_ms));
    key[16..].copy_from_slice(&keys::id(message));
    key
}

fn guild_invite_key(guild_id: Snowflake, code: &str) -> Vec<u8> {
    let mut key = keys::id(guild_id).to_vec();
    key.extend_from_slice(code.as_bytes());
    key
}

#[async_trait]
impl InviteStore for FjallStore {
    async fn invite(&self, code: &str) -> StoreResult<Option<Invite>> {
        Self::get(&self.t.invite, keys::text(code)?)
    }

    async fn put_invite(&self, invite: &Invite) -> StoreResult<()> {
        keys::text(&invite.code)?;
        let value = encode(invite)?;
        self.write(|b| {
            b.insert(&self.t.invite, invite.code.as_bytes(), value);
            b.insert(
                &self.t.guild_invite,
                guild_invite_key(invite.guild_id, &invite.code),
                [],
            );
            Ok(())
        })
        .await
    }

    async fn delete_invite(&self, code: &str) -> StoreResult<()> {
        let code = keys::text(code)?;
        self.write(|b| {
            if let Some(invite) = Self::get::<Invite>(&self.t.invite, code)? {
                b.remove(
                    &self.t.guild_invite,
                    guild_invite_key(invite.guild_id, code),
                );
                b.remove(&self.t.invite, code.as_bytes());
            }
            Ok(())
        })
        .await
    }

    async fn use_invite(&self, code: &str, now_ms: u64) -> StoreResult<InviteUse> {
        let code = keys::text(code)?;
        let mut outcome = InviteUse::Unknown;
        // The check and the count happen under the store's lock: no other
        // use comes between them.
        self.write(|b| {
            let mut invite = Self::get::<Invite>(&self.t.invite, code)?;
            outcome = InviteUse::apply(invite.as_mut(), now_ms);
            if let InviteUse::Admitted(used) = &outcome {
                b.insert(&self.t.invite, code.as_bytes(), encode(used)?);
            }
            Ok(())
        })
        .await?;
        Ok(outcome)
    }

    async fn guild_invites(&self, guild_id: Snowflake) -> StoreResult<Vec<Invite>> {
        let mut invites = Vec::new();
        for key in Self::scan_keys(&self.t.guild_invite, keys::id(guild_id))? {
            if let Some(code) = key.get(8..) {
                invites.extend(Self::get::<Invite>(&self.t.invite, code)?);
            }
        }
        Ok(invites)
    }
}

#[async_trait]
impl MessageStore for FjallStore {
    async fn create_message(&self, message: &Message) -> StoreResult<()> {
        let value = encode(message)?;
        self.write(|b| {
            let key = self.message_key(message.channel_id, message.id);
            if !self
                .t
                .channel_bucket_message
                .contains_key(key)
                .map_err(backend)?
            {
                let bucket = bucket_of(message.id, self.bucket_ms);
                self.stage_bucket_count(b, message.channel_id, bucket, 1)?;
            }
            if let Some(poll) = message.poll.as_ref().filter(|p| !p.finalized) {
                let listed = open_poll_key(poll.expiry_ms, message.channel_id, message.id);
                b.insert(&self.t.open_poll, listed, []);
            }
            b.insert(&self.t.channel_bucket_message, key, value);
            Ok(())
        })
        .await
    }

    async fn message(&self, channel_id: Snowflake, id: Snowflake) -> StoreResult<Option<Message>> {
        Self::get(
            &self.t.channel_bucket_message,
            self.message_key(channel_id, id),
        )
    }

    async fn update_message(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
        patch: &MessagePatch,
    ) -> StoreResult<Option<Message>> {
        let mut updated = None;
        self.write(|b| {
            let key = self.message_key(channel_id, id);
            if let Some(mut message) = Self::get::<Message>(&self.t.channel_bucket_message, key)? {
                patch.apply(&mut message);
                b.insert(&self.t.channel_bucket_message, key, encode(&message)?);
                updated = Some(message);
            }
            Ok(())
        })
        .await?;
        Ok(updated)
    }

    async fn delete_messages(
        &self,
        channel_id: Snowflake,
        ids: &[Snowflake],
    ) -> StoreResult<Vec<Message>> {
        let mut deleted: Vec<Message> = Vec::new();
        self.write(|b| {
            let mut per_bucket: std::collections::BTreeMap<u64, i64> = Default::default();
            for id in ids {
                let key = self.message_key(channel_id, *id);
                if deleted.iter().any(|m| m.id == *id) {
                    continue;
                }
                if let Some(message) = Self::get::<Message>(&self.t.channel_bucket_message, key)? {
                    b.remove(&self.t.channel_bucket_message, key);
                    self.stage_unpin(b, channel_id, *id)?;
                    for key in Self::scan_keys(
                        &self.t.message_reaction,
                        reaction_prefix(channel_id, *id, None)?,
                    )? {
                        b.remove(&self.t.message_reaction, key);
                    }
                    if let Some(poll) = &message.poll {
                        let votes = keys::pair(channel_id.get(), id.get());
                        for key in Self::scan_keys(&self.t.poll_vote, votes)? {
                            b.remove(&self.t.poll_vote, key);
                        }
                        b.remove(
                            &self.t.open_poll,
                            open_poll_key(poll.expiry_ms, channel_id, *id),
                        );
                    }
                    *per_bucket
                        .entry(bucket_of(*id, self.bucket_ms))
                        .or_default() -= 1;
                    deleted.push(message);
                }
            }
            for (bucket, delta) in per_bucket {
                self.stage_bucket_count(b, channel_id, bucket, delta)?;
            }
            Ok(())
        })
        .await?;
        Ok(deleted)
    }

    async fn messages_before(
        &self,
        channel_id: Snowflake,
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let c = channel_id.get();
        let last = before.map_or(u64::MAX, |b| bucket_of(b, self.bucket_ms));
        let buckets = self
            .t
            .channel_bucket
            .range(keys::pair(c, 0)..=keys::pair(c, last));
        let mut page = Vec::new();
        for bucket in buckets.rev() {
            if page.len() >= limit {
                break;
            }
            let bucket = Self::bucket_from_key(&bucket.key().map_err(backend)?)?;
            self.visits.fetch_add(1, Ordering::Relaxed);
            // Keys hold !id, so ids below `before` start at the key of before - 1.
            let start = match before {
                Some(b) => keys::message(channel_id, bucket, Snowflake(b.get().saturating_sub(1))),
                None => keys::message(channel_id, bucket, Snowflake(u64::MAX)),
            };
            let end = keys::partition(channel_id, bucket.saturating_add(1));
            for guard in self
                .t
                .channel_bucket_message
                .range(&start[..]..&end[..])
                .take(limit - page.len())
            {
                page.push(decode(&guard.value().map_err(backend)?)?);
            }
        }
        Ok(page)
    }

    async fn messages_after(
        &self,
        channel_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let c = channel_id.get();
        let first = bucket_of(after, self.bucket_ms);
        let buckets = self
            .t
            .channel_bucket
            .range(keys::pair(c, first)..=keys::pair(c, u64::MAX));
        let mut page = Vec::new();
        for bucket in buckets {
            if page.len() >= limit {
                break;
            }
            let bucket = Self::bucket_from_key(&bucket.key().map_err(backend)?)?;
            self.visits.fetch_add(1, Ordering::Relaxed);
            let start = keys::partition(channel_id, bucket);
            let end = keys::message(channel_id, bucket, after);
            let newer = self
                .t
                .channel_bucket_message
                .range(&start[..]..&end[..])
                .rev();
            for guard in newer.take(limit - page.len()) {
                page.push(decode(&guard.value().map_err(backend)?)?);
            }
        }
        Ok(page)
    }

    fn buckets_visited(&self) -> u64 {
        self.visits.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl BanStore for FjallStore {
    async fn ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<Option<Ban>> {
        Self::get(&self.t.guild_ban, keys::pair(guild_id.get(), user_id.get()))
    }

    async fn bans(
        &self,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Ban>> {
        Self::page_after(&self.t.guild_ban, guild_id, after, limit)
    }

    async fn put_ban(&self, ban: &Ban) -> StoreResult<()> {
        let value = encode(ban)?;
        self.write(|b| {
            b.insert(
                &self.t.guild_ban,
                keys::pair(ban.guild_id.get(), ban.user_id.get()),
                value,
            );
            Ok(())
        })
        .await
    }

    async fn delete_ban(&self, guild_id: Snowflake, user_id: Snowflake) -> StoreResult<()> {
        self.write(|b| {
            b.remove(&self.t.guild_ban, keys::pair(guild_id.get(), user_id.get()));
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl AuditLogStore for FjallStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let value = encode(entry)?;
        // Newest first in a forward scan: the id is stored inverted.
        let key = keys::pair(entry.guild_id.get(), !entry.id.get());
        self.write(|b| {
            b.insert(&self.t.guild_audit, key, value);
            Ok(())
        })
        .await
    }

    async fn audit_entries(
        &self,
        guild_id: Snowflake,
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEntry>> {
        let first = before.map_or(0, |b| (!b.get()).saturating_add(1));
        let start = keys::pair(guild_id.get(), first);
        let end = keys::pair(guild_id.get(), u64::MAX);
        self.t
            .guild_audit
            .range(start..=end)
            .take(limit)
            .map(|guard| decode(&guard.value().map_err(backend)?))
            .collect()
    }
}

#[async_trait]
impl EmojiStore for FjallStore {
    async fn emojis(&self, guild_id: Snowflake) -> StoreResult<Vec<Emoji>> {
        Self::scan(&self.t.guild_emoji, keys::id(guild_id))
    }

    async fn put_emoji(&self, emoji: &Emoji, image: Option<&[u8]>) -> StoreResult<()> {
        let value = encode(emoji)?;
        self.write(|b| {
            let key = keys::pair(emoji.guild_id.get(), emoji.id.get());
            b.insert(&self.t.guild_emoji, key, value);
            if let Some(image) = image {
                b.insert(&self.t.emoji_image, keys::id(emoji.id), image);
            }
            Ok(())
        })
        .await
    }

    async fn delete_emoji(&self, guild_id: Snowflake, id: Snowflake) -> StoreResult<()> {
        self.write(|b| {
            b.remove(&self.t.guild_emoji, keys::pair(guild_id.get(), id.get()));
            b.remove(&self.t.emoji_image, keys::id(id));
            Ok(())
        })
        .await
    }

    async fn emoji_image(&self, id: Snowflake) -> StoreResult<Option<Vec<u8>>> {
        let found = self.t.emoji_image.get(keys::id(id)).map_err(backend)?;
        Ok(found.map(|v| v.to_vec()))
    }
}

#[async_trait]
impl ReadStateStore for FjallStore {
    async fn put_read_state(&self, state: &ReadState) -> StoreResult<()> {
        let value = encode(state)?;
        let key = keys::pair(state.user_id.get(), state.channel_id.get());
        self.write(|b| {
            b.insert(&self.t.user_read_state, key, value);
            Ok(())
        })
        .await
    }

    async fn read_states(&self, user_id: Snowflake) -> StoreResult<Vec<ReadState>> {
        Self::page_after(&self.t.user_read_state, user_id, Snowflake(0), usize::MAX)
    }
}

#[async_trait]
impl PrivateChannelStore for FjallStore {
    async fn create_private_channel(&self, channel: &Channel) -> StoreResult<()> {
        let value = encode(channel)?;
        self.write(|b| {
            self.stage_channel_icon(b, channel)?;
            b.insert(&self.t.channel, keys::id(channel.id), value);
            for user in &channel.recipients {
                b.insert(
                    &self.t.user_private_channel,
                    keys::pair(user.get(), channel.id.get()),
                    [],
                );
            }
            if let ([x, y], concord_model::records::channel_type::DM) =
                (&channel.recipients[..], channel.kind)
            {
                let (low, high) = concord_store::dm_pair(*x, *y);
                b.insert(
                    &self.t.dm_pair,
                    keys::pair(low.get(), high.get()),
                    keys::id(channel.id),
                );
            }
            Ok(())
        })
        .await
    }

    async fn update_private_channel(
        &self,
        channel: &Channel,
        removed: &[Snowflake],
    ) -> StoreResult<()> {
        let value = encode(channel)?;
        self.write(|b| {
            self.stage_channel_icon(b, channel)?;
            b.insert(&self.t.channel, keys::id(channel.id), value);
            for user in removed {
                let key = keys::pair(user.get(), channel.id.get());
                b.remove(&self.t.user_private_channel, key);
            }
            for user in &channel.recipients {
                let key = keys::pair(user.get(), channel.id.get());
                b.insert(&self.t.user_private_channel, key, []);
            }
            Ok(())
        })
        .await
    }

    async fn dm_between(&self, a: Snowflake, b: Snowflake) -> StoreResult<Option<Snowflake>> {
        let (low, high) = concord_store::dm_pair(a, b);
        let found = self
            .t
            .dm_pair
            .get(keys::pair(low.get(), high.get()))
            .map_err(backend)?;
        Ok(found.map(|v| Snowflake(u64_value(&v))))
    }

    async fn private_channels(&self, user_id: Snowflake) -> StoreResult<Vec<Channel>> {
        let mut channels = Vec::new();
        for key in Self::scan_keys(&self.t.user_private_channel, keys::id(user_id))? {
            let Some(id) = keys::pair_second(&key) else {
                continue;
            };
            channels.extend(Self::get::<Channel>(&self.t.channel, id.to_be_bytes())?);
        }
        Ok(channels)
    }
}

impl FjallStore {
    /// Counts a reaction change on the message row; false if the message is gone.
    fn stage_reaction_count(
        &self,
        b: &mut WriteBatch,
        channel: Snowflake,
        message: Snowflake,
        emoji: &str,
        added: bool,
    ) -> StoreResult<bool> {
        let key = self.message_key(channel, message);
        let Some(mut row) = Self::get::<Message>(&self.t.channel_bucket_message, key)? else {
            return Ok(false);
        };
        row.count_reaction(emoji, added);
        b.insert(&self.t.channel_bucket_message, key, encode(&row)?);
        Ok(true)
    }
}

#[async_trait]
impl ReactionStore for FjallStore {
    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<Option<bool>> {
        let key = reaction_key(channel_id, message_id, emoji, user_id)?;
        let mut outcome = None;
        self.write(|b| {
            if self
                .t
                .message_reaction
                .contains_key(&key)
                .map_err(backend)?
            {
                let exists = self
                    .t
                    .channel_bucket_message
                    .contains_key(self.message_key(channel_id, message_id))
                    .map_err(backend)?;
                outcome = exists.then_some(false);
                return Ok(());
            }
            if self.stage_reaction_count(b, channel_id, message_id, emoji, true)? {
                b.insert(&self.t.message_reaction, key.clone(), []);
                outcome = Some(true);
            }
            Ok(())
        })
        .await?;
        Ok(outcome)
    }

    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool> {
        let key = reaction_key(channel_id, message_id, emoji, user_id)?;
        let mut removed = false;
        self.write(|b| {
            if self
                .t
                .message_reaction
                .contains_key(&key)
                .map_err(backend)?
            {
                self.stage_reaction_count(b, channel_id, message_id, emoji, false)?;
                b.remove(&self.t.message_reaction, key.clone());
                removed = true;
            }
            Ok(())
        })
        .await?;
        Ok(removed)
    }

    async fn has_reacted(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> StoreResult<bool> {
        let key = reaction_key(channel_id, message_id, emoji, user_id)?;
        self.t.message_reaction.contains_key(key).map_err(backend)
    }

    async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Snowflake>> {
        let start = reaction_key(
            channel_id,
            message_id,
            emoji,
            Snowflake(after.get().saturating_add(1)),
        )?;
        let end = reaction_key(channel_id, message_id, emoji, Snowflake(u64::MAX))?;
        let mut users = Vec::new();
        for guard in self.t.message_reaction.range(start..=end).take(limit) {
            let key = guard.key().map_err(backend)?;
            let tail = key.len().checked_sub(8).and_then(|at| key.get(at..));
            let id = tail
                .and_then(|t| <[u8; 8]>::try_from(t).ok())
                .map(u64::from_be_bytes);
            users.push(Snowflake(
                id.ok_or_else(|| StoreError::Corrupt("short reaction key".into()))?,
            ));
        }
        Ok(users)
    }

    async fn clear_reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Option<&str>,
    ) -> StoreResult<Option<Message>> {
        let prefix = reaction_prefix(channel_id, message_id, emoji)?;
        let mut updated = None;
        self.write(|b| {
            let key = self.message_key(channel_id, message_id);
            let Some(mut row) = Self::get::<Message>(&self.t.channel_bucket_message, key)? else {
                return Ok(());
            };
            for reaction in Self::scan_keys(&self.t.message_reaction, &prefix)? {
                b.remove(&self.t.message_reaction, reaction);
            }
            row.reactions
                .retain(|r| emoji.is_some_and(|e| e != r.emoji));
            b.insert(&self.t.channel_bucket_message, key, encode(&row)?);
            updated = Some(row);
            Ok(())
        })
        .await?;
        Ok(updated)
    }
}

impl FjallStore {
    /// The user's answers on a poll, ascending: one lookup per answer a
    /// poll may have.
    fn votes_of(
        &self,
        channel: Snowflake,
        message: Snowflake,
        user: Snowflake,
    ) -> StoreResult<Vec<u8>> {
        let mut answers = Vec::new();
        for answer in 1..=concord_model::limits::POLL_ANSWERS_MAX {
            let key = poll_vote_key(channel, message, answer, user);
            if self.t.poll_vote.contains_key(key).map_err(backend)? {
                answers.push(answer);
            }
        }
        Ok(answers)
    }
}

#[async_trait]
impl PollStore for FjallStore {
    async fn vote_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
        answer_ids: &[u8],
        now_ms: u64,
    ) -> StoreResult<PollVote> {
        let mut outcome = PollVote::Unknown;
        // Read and written under the store's lock: no other change of
        // this vote, and no end of the poll, comes between.
        self.write(|b| {
            let key = self.message_key(channel_id, message_id);
            let Some(message) = Self::get::<Message>(&self.t.channel_bucket_message, key)? else {
                return Ok(());
            };
            match &message.poll {
                None => return Ok(()),
                Some(poll) if !poll.open_at(now_ms) => {
                    outcome = PollVote::Ended;
                    return Ok(());
                }
                Some(_) => {}
            }
            let before = self.votes_of(channel_id, message_id, user_id)?;
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
                let key = poll_vote_key(channel_id, message_id, *answer, user_id);
                b.remove(&self.t.poll_vote, key);
            }
            for answer in &added {
                let key = poll_vote_key(channel_id, message_id, *answer, user_id);
                b.insert(&self.t.poll_vote, key, []);
            }
            outcome = PollVote::Changed { removed, added };
            Ok(())
        })
        .await?;
        Ok(outcome)
    }

    async fn poll_counts(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> StoreResult<Vec<(u8, u64)>> {
        let mut counts: std::collections::BTreeMap<u8, u64> = Default::default();
        let prefix = keys::pair(channel_id.get(), message_id.get());
        for guard in self.t.poll_vote.prefix(prefix) {
            let key = guard.key().map_err(backend)?;
            let answer = *key
                .get(16)
                .ok_or_else(|| StoreError::Corrupt("short poll vote key".into()))?;
            *counts.entry(answer).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    async fn poll_votes(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
    ) -> StoreResult<Vec<u8>> {
        self.votes_of(channel_id, message_id, user_id)
    }

    async fn poll_voters(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        answer_id: u8,
        after: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Snowflake>> {
        let from = Snowflake(after.get().saturating_add(1));
        let start = poll_vote_key(channel_id, message_id, answer_id, from);
        let end = poll_vote_key(channel_id, message_id, answer_id, Snowflake(u64::MAX));
        let mut users = Vec::new();
        for guard in self.t.poll_vote.range(start..=end).take(limit) {
            let key = guard.key().map_err(backend)?;
            users.push(Snowflake(key_u64(&key, 17)?));
        }
        Ok(users)
    }

    async fn polls_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<OpenPoll>> {
        let end = open_poll_key(now_ms, Snowflake(u64::MAX), Snowflake(u64::MAX));
        let mut due = Vec::new();
        for guard in self.t.open_poll.range(..=end).take(limit) {
            let key = guard.key().map_err(backend)?;
            due.push(OpenPoll {
                expiry_ms: key_u64(&key, 0)?,
                channel_id: Snowflake(key_u64(&key, 8)?),
                message_id: Snowflake(key_u64(&key, 16)?),
            });
        }
        Ok(due)
    }

    async fn end_poll(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        expiry_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Option<Message>> {
        let mut ended = None;
        self.write(|b| {
            b.remove(
                &self.t.open_poll,
                open_poll_key(expiry_ms, channel_id, message_id),
            );
            let key = self.message_key(channel_id, message_id);
            let Some(mut message) = Self::get::<Message>(&self.t.channel_bucket_message, key)?
            else {
                return Ok(());
            };
            if let Some(poll) = message.poll.as_mut().filter(|p| !p.finalized) {
                poll.finalized = true;
                poll.expiry_ms = poll.expiry_ms.min(now_ms);
                b.insert(&self.t.channel_bucket_message, key, encode(&message)?);
                ended = Some(message);
            }
            Ok(())
        })
        .await?;
        Ok(ended)
    }
}

#[async_trait]
impl PinStore for FjallStore {
    async fn put_pin(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        pinned_at_ms: u64,
    ) -> StoreResult<()> {
        self.write(|b| {
            self.stage_unpin(b, channel_id, message_id)?;
            b.insert(
                &self.t.channel_pin,
                pin_key(channel_id, pinned_at_ms, message_id),
                [],
            );
            let at_key = keys::pair(channel_id.get(), message_id.get());
            b.insert(&self.t.channel_pin_at, at_key, pinned_at_ms.to_be_bytes());
            Ok(())
        })
        .await
    }

    async fn delete_pin(&self, channel_id: Snowflake, message_id: Snowflake) -> StoreResult<bool> {
        let mut removed = false;
        self.write(|b| {
            removed = self.stage_unpin(b, channel_id, message_id)?;
            Ok(())
        })
        .await?;
        Ok(removed)
    }

    async fn pins(
        &self,
        channel_id: Snowflake,
        before_ms: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<(Snowflake, u64)>> {
        let start = pin_key(
            channel_id,
            before_ms.map_or(u64::MAX, |b| b.saturating_sub(1)),
            Snowflake(0),
        );
        let end = keys::pair(channel_id.get(), u64::MAX);
        let mut out = Vec::new();
        for guard in self.t.channel_pin.range(&start[..]..=&end[..]).take(limit) {
            let key = guard.key().map_err(backend)?;
            let pinned_at = !keys::pair_second(&key)
                .ok_or_else(|| StoreError::Corrupt("short pin key".into()))?;
            let message = key
                .get(16..24)
                .and_then(|m| <[u8; 8]>::try_from(m).ok())
                .map(u64::from_be_bytes);
            let message = message.ok_or_else(|| StoreError::Corrupt("short pin key".into()))?;
            out.push((Snowflake(message), pinned_at));
        }
        Ok(out)
    }

    async fn pin_count(&self, channel_id: Snowflake) -> StoreResult<usize> {
        Ok(self.t.channel_pin_at.prefix(keys::id(channel_id)).count())
    }
}

#[async_trait]
impl MetaStore for FjallStore {
    async fn meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = keys::text(key)?;
        Ok(self.t.meta.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        let key = keys::text(key)?;
        self.write(|b| {
            b.insert(&self.t.meta, key, value.to_vec());
            Ok(())
        })
        .await
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let key = keys::text(key)?;
        let mut stored = value.to_vec();
        self.write(|b| {
            match self.t.meta.get(key).map_err(backend)? {
                Some(existing) => stored = existing.to_vec(),
                None => b.insert(&self.t.meta, key, value.to_vec()),
            }
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    async fn take_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = keys::text(key)?;
        let mut taken = None;
        self.write(|b| {
            taken = self.t.meta.get(key).map_err(backend)?.map(|v| v.to_vec());
            if taken.is_some() {
                b.remove(&self.t.meta, key);
            }
            Ok(())
        })
        .await?;
        Ok(taken)
    }

    async fn meta_keys(&self, prefix: &str, limit: usize) -> StoreResult<Vec<String>> {
        let prefix = keys::text(prefix)?;
        (self.t.meta.prefix(prefix).take(limit))
            .map(|g| {
                let key = g.key().map_err(backend)?;
                Ok(String::from_utf8_lossy(&key).into_owned())
            })
            .collect()
    }
}

#[async_trait]
impl AttachmentStore for FjallStore {
    async fn put_attachments(&self, attachments: &[Attachment]) -> StoreResult<()> {
        self.write(|b| {
            let mut counts = std::collections::HashMap::new();
            for a in attachments {
                let record = encode(a)?;
                let key = keys::pair(a.channel_id.get(), a.id.get());
                b.insert(&self.t.channel_attachment, key, record.clone());
                b.insert(&self.t.attachment, keys::id(a.id), record);
                *counts.entry(a.sha256.as_str()).or_insert(0) += 1;
            }
            for (sha, added) in counts {
                let held = self.t.blob_ref.get(sha).map_err(backend)?;
                let count = held.map_or(0, |v| u64_value(&v)) + added;
                b.insert(&self.t.blob_ref, sha, count.to_be_bytes());
            }
            Ok(())
        })
        .await
    }

    async fn attachment(&self, id: Snowflake) -> StoreResult<Option<Attachment>> {
        Self::get(&self.t.attachment, keys::id(id))
    }

    async fn delete_attachments(&self, ids: &[Snowflake]) -> StoreResult<Vec<String>> {
        let mut freed = Vec::new();
        self.write(|b| {
            let mut gone = Vec::new();
            for id in ids {
                gone.extend(Self::get::<Attachment>(&self.t.attachment, keys::id(*id))?);
            }
            freed = self.stage_attachments_removal(b, &gone)?;
            Ok(())
        })
        .await?;
        Ok(freed)
    }

    async fn blob_referenced(&self, sha256: &str) -> StoreResult<bool> {
        if self.t.blob_ref.get(sha256).map_err(backend)?.is_some() {
            return Ok(true);
        }
        let mut shown = self.t.image_ref.prefix(image_prefix(sha256)?);
        let first = shown.next().map(|g| g.key().map_err(backend)).transpose()?;
        Ok(first.is_some())
    }
}

/// Records a purge step removes: small enough that a writer waiting for
/// the lock meanwhile never waits long.
const PURGE_STEP: usize = 512;

/// Records per write batch when copying.
const COPY_BATCH: usize = 10_000;

impl BackupStore for FjallStore {
    /// Reads every keyspace through one snapshot, so the copy holds exactly
    /// the writes committed before it was taken, and writes them to a new
    /// database that is synced to disk before this returns.
    fn copy_to(&self, dest: &Path, progress: &dyn Fn(CopyProgress)) -> StoreResult<u64> {
        let snapshot = self.db.snapshot();
        let names = self.db.list_keyspace_names();
        let sources: Vec<(String, Keyspace)> = names
            .iter()
            .map(|name| {
                let name = name.to_string();
                let ks = self.db.keyspace(&name, KeyspaceCreateOptions::default);
                ks.map(|ks| (name, ks)).map_err(backend)
            })
            .collect::<StoreResult<_>>()?;
        let estimated = sources
            .iter()
            .map(|(_, ks)| ks.approximate_len() as u64)
            .sum();
        let target = Database::builder(dest).open().map_err(backend)?;
        let mut copied = 0;
        for (name, source) in &sources {
            let out = target
                .keyspace(name, KeyspaceCreateOptions::default)
                .map_err(backend)?;
            let mut batch = target.batch();
            for (n, guard) in snapshot.iter(source).enumerate() {
                let (key, value) = guard.into_inner().map_err(backend)?;
                batch.insert(&out, key, value);
                copied += 1;
                if (n + 1) % COPY_BATCH == 0 {
                    std::mem::replace(&mut batch, target.batch())
                        .commit()
                        .map_err(backend)?;
                    progress(CopyProgress { copied, estimated });
                }
            }
            batch.commit().map_err(backend)?;
            progress(CopyProgress { copied, estimated });
        }
        target.persist(PersistMode::SyncAll).map_err(backend)?;
        Ok(copied)
    }
}

#[async_trait]
impl WebhookStore for FjallStore {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        self.write(|b| self.stage_webhook(b, webhook)).await
    }

    async fn webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        self.webhook_now(id)
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        let mut exists = false;
        // Staged under the store's lock: a deletion is wholly before or
        // wholly after this check.
        self.write(|b| {
            if let Some(old) = self.webhook_now(webhook.id)? {
                exists = true;
                // Only index keys that change are removed: a batch that
                // removes and inserts one key leaves either.
                let id = webhook.id.get();
                if old.channel_id != webhook.channel_id {
                    let key = keys::pair(old.channel_id.get(), id);
                    b.remove(&self.t.channel_webhook, key);
                }
                if old.guild_id != webhook.guild_id {
                    b.remove(&self.t.guild_webhook, keys::pair(old.guild_id.get(), id));
                }
                self.stage_webhook(b, webhook)?;
            }
            Ok(())
        })
        .await?;
        Ok(exists)
    }

    async fn delete_webhook(&self, id: Snowflake) -> StoreResult<Option<Webhook>> {
        let mut removed = None;
        self.write(|b| {
            removed = self.webhook_now(id)?;
            if let Some(old) = &removed {
                self.stage_webhook_removal(b, old)?;
            }
            Ok(())
        })
        .await?;
        Ok(removed)
    }

    async fn channel_webhooks(&self, channel_id: Snowflake) -> StoreResult<Vec<Webhook>> {
        self.indexed_webhooks(&self.t.channel_webhook, channel_id)
    }

    async fn guild_webhooks(&self, guild_id: Snowflake) -> StoreResult<Vec<Webhook>> {
        self.indexed_webhooks(&self.t.guild_webhook, guild_id)
    }
}

#[async_trait]
impl CommandStore for FjallStore {
    async fn create_command(&self, command: &Command, max: usize) -> StoreResult<CommandCreate> {
        let mut outcome = CommandCreate::LimitReached;
        self.write(|b| {
            let current = self.scope_commands(command.application_id, command.guild_id)?;
            outcome = CommandCreate::apply(&current, command, max);
            if let CommandCreate::Created(c) | CommandCreate::Replaced(c) = &outcome {
                self.stage_command(b, c)?;
            }
            Ok(())
        })
        .await?;
        Ok(outcome)
    }

    async fn command(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        self.command_now(id)
    }

    async fn commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
    ) -> StoreResult<Vec<Command>> {
        self.scope_commands(application_id, guild_id)
    }

    async fn update_command(&self, command: &Command) -> StoreResult<CommandUpdate> {
        let mut outcome = CommandUpdate::Gone;
        self.write(|b| {
            let current = self.scope_commands(command.application_id, command.guild_id)?;
            outcome = CommandUpdate::apply(&current, command);
            if outcome == CommandUpdate::Updated {
                // The scope never changes, so the keys stay the same.
                self.stage_command(b, command)?;
            }
            Ok(())
        })
        .await?;
        Ok(outcome)
    }

    async fn delete_command(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        let mut removed = None;
        self.write(|b| {
            removed = self.stage_command_removal(b, id)?;
            Ok(())
        })
        .await?;
        Ok(removed)
    }

    async fn overwrite_commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        commands: &[Command],
    ) -> StoreResult<Vec<Command>> {
        let mut stored = Vec::new();
        self.write(|b| {
            let current = self.scope_commands(application_id, guild_id)?;
            let overwrite = CommandOverwrite::apply(&current, commands);
            for id in &overwrite.removed {
                self.stage_command_removal(b, *id)?;
            }
            for command in &overwrite.commands {
                self.stage_command(b, command)?;
            }
            stored = overwrite.commands;
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    async fn command_permissions(
        &self,
        guild_id: Snowflake,
        application_id: Snowflake,
    ) -> StoreResult<Vec<CommandPermissions>> {
        let all: Vec<CommandPermissions> =
            Self::scan(&self.t.command_permissions, keys::id(guild_id))?;
        Ok(all
            .into_iter()
            .filter(|p| p.application_id == application_id)
            .collect())
    }

    async fn put_command_permissions(&self, permissions: &CommandPermissions) -> StoreResult<()> {
        let key = keys::pair(permissions.guild_id.get(), permissions.id.get());
        self.write(|b| {
            if permissions.permissions.is_empty() {
                b.remove(&self.t.command_permissions, key);
            } else {
                b.insert(&self.t.command_permissions, key, encode(permissions)?);
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl NotificationStore for FjallStore {
    async fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
        max: usize,
    ) -> StoreResult<bool> {
        let key = push_subscription_key(subscription.user_id, &subscription.endpoint)?;
        let value = encode(subscription)?;
        let mut admitted = false;
        self.write(|b| {
            let known = self
                .t
                .push_subscription
                .get(&key)
                .map_err(backend)?
                .is_some();
            let count = self
                .t
                .push_subscription
                .prefix(keys::id(subscription.user_id))
                .count();
            admitted = known || count < max;
            if admitted {
                b.insert(&self.t.push_subscription, key.as_slice(), value);
            }
            Ok(())
        })
        .await?;
        Ok(admitted)
    }

    async fn delete_push_subscription(
        &self,
        user_id: Snowflake,
        endpoint: &str,
    ) -> StoreResult<bool> {
        let Ok(key) = push_subscription_key(user_id, endpoint) else {
            return Ok(false);
        };
        let mut removed = false;
        self.write(|b| {
            removed = self
                .t
                .push_subscription
                .get(&key)
                .map_err(backend)?
                .is_some();
            b.remove(&self.t.push_subscription, key.as_slice());
            Ok(())
        })
        .await?;
        Ok(removed)
    }

    async fn push_subscriptions(&self, user_id: Snowflake) -> StoreResult<Vec<PushSubscription>> {
        Self::scan(&self.t.push_subscription, keys::id(user_id))
    }

    async fn queue_pushes(&self, pushes: &[QueuedPush]) -> StoreResult<()> {
        self.write(|b| {
            for push in pushes {
                keys::text(&push.endpoint)?;
                if let Some(due) = self.t.push_due.get(keys::id(push.id)).map_err(backend)? {
                    b.remove(
                        &self.t.push_queue,
                        keys::pair(u64_value(&due), push.id.get()),
                    );
                }
                let key = keys::pair(push.due_ms, push.id.get());
                b.insert(&self.t.push_queue, key, encode(push)?);
                b.insert(
                    &self.t.push_due,
                    keys::id(push.id),
                    push.due_ms.to_be_bytes(),
                );
            }
            Ok(())
        })
        .await
    }

    async fn pushes_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<QueuedPush>> {
        let end = keys::pair(now_ms, u64::MAX);
        self.t
            .push_queue
            .range(..=end)
            .take(limit)
            .map(|guard| decode(&guard.value().map_err(backend)?))
            .collect()
    }

    async fn unqueue_push(&self, id: Snowflake) -> StoreResult<()> {
        self.write(|b| {
            if let Some(due) = self.t.push_due.get(keys::id(id)).map_err(backend)? {
                b.remove(&self.t.push_queue, keys::pair(u64_value(&due), id.get()));
                b.remove(&self.t.push_due, keys::id(id));
            }
            Ok(())
        })
        .await
    }

    async fn user_guild_settings(&self, user_id: Snowflake) -> StoreResult<Vec<UserGuildSettings>> {
        Self::scan(&self.t.user_guild_settings, keys::id(user_id))
    }

    async fn put_user_guild_settings(&self, settings: &UserGuildSettings) -> StoreResult<()> {
        let guild = settings.guild_id.map_or(0, Snowflake::get);
        let key = keys::pair(settings.user_id.get(), guild);
        let value = encode(settings)?;
        self.write(|b| {
            b.insert(&self.t.user_guild_settings, key, value);
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn open(
        bucket_ms: u64,
    ) -> (Arc<dyn concord_store::Store>, Box<dyn std::any::Any + Send>) {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            bucket_ms,
            sync: false,
        };
        let store = FjallStore::open(dir.path(), options).unwrap();
        (Arc::new(store), Box::new(dir))
    }

    concord_store::store_conformance!(open);

    /// A deletion returns once the channel is unknown and leaves its
    /// messages marked; the mark outlives a restart (a crash mid-purge),
    /// and until `purge_deleted` has taken everything the id is not taken
    /// again, so a thread restarted from the same message never meets the
    /// old thread's messages.
    #[tokio::test]
    async fn purges_outlive_a_restart_and_finish_in_steps() {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            bucket_ms: 1000,
            sync: false,
        };
        let channel = Channel::new(Snowflake(7), 0, Snowflake(1), "c");
        {
            let store = FjallStore::open(dir.path(), options.clone()).unwrap();
            store.put_channel(&channel).await.unwrap();
            for i in 1..=1200u64 {
                let id = Snowflake(Snowflake::from_timestamp_ms(1_767_225_600_000 + i).get());
                let m = Message::new(id, channel.id, Snowflake(2), "x");
                store.create_message(&m).await.unwrap();
            }
            store.delete_channel(channel.id).await.unwrap();
            assert!(store.channel(channel.id).await.unwrap().is_none());
            // One step purged, then the process stops.
            assert!(store.purge_deleted().await.unwrap());
            assert!(!store.create_channel(&channel).await.unwrap());
            let left = store.messages_before(channel.id, None, 10).await.unwrap();
            assert!(!left.is_empty(), "the purge was cut short");
        }
        let store = FjallStore::open(dir.path(), options).unwrap();
        assert!(!store.create_channel(&channel).await.unwrap());
        let mut steps = 0;
        while store.purge_deleted().await.unwrap() {
            steps += 1;
        }
        assert!(steps >= 2, "1,200 messages go in several steps");
        let left = store.messages_before(channel.id, None, 10).await.unwrap();
        assert!(left.is_empty());
        assert_eq!(store.t.purge.iter().count(), 0);
        assert_eq!(store.t.channel_bucket.iter().count(), 0);
        assert!(store.create_channel(&channel).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_synced_writers_all_return_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            bucket_ms: 1_000,
            sync: true,
        };
        {
            let store = Arc::new(FjallStore::open(dir.path(), options.clone()).unwrap());
            let writers = (0..8).map(|w| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0..50 {
                        store.put_meta(&format!("k{w}-{i}"), b"v").await.unwrap();
                    }
                })
            });
            for writer in writers {
                writer.await.unwrap();
            }
        }
        let store = FjallStore::open(dir.path(), options).unwrap();
        for w in 0..8 {
            for i in 0..50 {
                assert!(store.meta(&format!("k{w}-{i}")).await.unwrap().is_some());
            }
        }
    }

    #[tokio::test]
    async fn a_copy_holds_what_was_written_before_it_and_nothing_after() {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            bucket_ms: 1_000,
            sync: false,
        };
        let store = FjallStore::open(&dir.path().join("live"), options.clone()).unwrap();
        for i in 0..(COPY_BATCH + 5) {
            store.put_meta(&format!("before-{i}"), b"v").await.unwrap();
        }
        let reports = std::sync::Mutex::new(Vec::new());
        let copied = store
            .copy_to(&dir.path().join("copy"), &|p| {
                reports.lock().unwrap().push(p)
            })
            .unwrap();
        store.put_meta("after", b"v").await.unwrap();
        assert!(copied > COPY_BATCH as u64, "{copied}");
        let reports = reports.into_inner().unwrap();
        assert!(reports.len() >= 2, "progress is reported as it goes");
        assert_eq!(reports.last().unwrap().copied, copied);

        let copy = FjallStore::open(&dir.path().join("copy"), options).unwrap();
        assert_eq!(copy.meta("before-0").await.unwrap(), Some(b"v".to_vec()));
        let last = format!("before-{}", COPY_BATCH + 4);
        assert_eq!(copy.meta(&last).await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(copy.meta("after").await.unwrap(), None);
    }

    #[tokio::test]
    async fn data_survives_reopen_with_sync() {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            bucket_ms: 1_000,
            sync: true,
        };
        {
            let store = FjallStore::open(dir.path(), options.clone()).unwrap();
            store.put_meta("k", b"v").await.unwrap();
        }
        let store = FjallStore::open(dir.path(), options).unwrap();
        assert_eq!(store.meta("k").await.unwrap(), Some(b"v".to_vec()));
    }
}

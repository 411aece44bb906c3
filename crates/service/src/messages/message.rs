//! Messages: send, read history, edit, delete.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use concord_model::event::EventKind;
use concord_model::records::{
    Channel, Message, MessagePatch, MessageReference, channel_type, message_type,
};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use concord_store::{HistoryAnchor, StoreResult, history};
use serde_json::Value;

use super::cache::{CACHED_PER_CHANNEL, Cached, Serialized};
use super::input::{AllowedMentions, BulkDelete, CreateMessage, EditMessage};
use crate::attachments::metadata::describe_uploads;
use crate::guilds::audit::{Details, action};
use crate::{Caller, ChannelView, FormErrors, Service, ServiceError, ServiceResult, audience_of};

/// Flags a sender may set: SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS.
const SETTABLE_FLAGS: u64 = 4 | 4096;

/// An interaction's deferred response, shown as "thinking" until edited.
pub(crate) const LOADING: u64 = 128;

/// Who a message mentions, as allowed.
struct Mentions {
    users: Vec<Snowflake>,
    roles: Vec<Snowflake>,
    everyone: bool,
}

/// Ids in `<@id>`, `<@!id>` or `<@&id>` markup; `role` picks the last kind.
fn mention_ids(content: &str, role: bool) -> Vec<Snowflake> {
    let mut ids = Vec::new();
    for part in content.split("<@").skip(1) {
        let Some((inner, _)) = part.split_once('>') else {
            continue;
        };
        let id = match (role, inner.strip_prefix('&')) {
            (true, Some(id)) => id,
            (false, None) => inner.strip_prefix('!').unwrap_or(inner),
            _ => continue,
        };
        if let Ok(id) = id.parse()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

fn check_embeds(errors: &mut FormErrors, embeds: &[Value]) {
    if embeds.len() > 10 {
        errors.add(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        );
    }
    for (i, embed) in embeds.iter().enumerate() {
        if !embed.is_object() {
            errors.add(
                &format!("embeds.{i}"),
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            );
        }
    }
}

fn check_content(errors: &mut FormErrors, content: &str) {
    if content.chars().count() > limits::MESSAGE_CONTENT_MAX {
        errors.add(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        );
    }
}

impl Service {
    /// Resolves mentions against `allowed_mentions` (absent: everything).
    async fn mentions(
        &self,
        view: &ChannelView,
        content: &str,
        allowed: Option<&AllowedMentions>,
    ) -> ServiceResult<Mentions> {
        let parse = |kind: &str| {
            allowed.is_none_or(|a| a.parse.as_ref().is_none_or(|p| p.iter().any(|k| k == kind)))
        };
        let explicit_users = allowed.and_then(|a| a.users.as_ref());
        let explicit_roles = allowed.and_then(|a| a.roles.as_ref());
        let mut users = Vec::new();
        for id in mention_ids(content, false) {
            let listed = explicit_users.is_some_and(|u| u.contains(&id));
            if (parse("users") || listed) && self.store.user(id).await?.is_some() {
                users.push(id);
            }
        }
        let may_ping_all = view.permissions.contains(Permissions::MENTION_EVERYONE);
        let roles = mention_ids(content, true)
            .into_iter()
            .filter(|id| parse("roles") || explicit_roles.is_some_and(|r| r.contains(id)))
            .filter(|id| {
                view.guild
                    .iter()
                    .flat_map(|g| &g.roles)
                    .any(|r| r.id == *id && (r.mentionable || may_ping_all))
            })
            .collect();
        let everyone = may_ping_all
            && parse("everyone")
            && (content.contains("@everyone") || content.contains("@here"));
        Ok(Mentions {
            users,
            roles,
            everyone,
        })
    }

    /// A guild text channel the caller may read, or an error.
    pub(crate) async fn text_channel(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<ChannelView> {
        let view = self.channel_view(caller, channel_id).await?;
        if !channel_type::is_text(view.channel.kind) {
            return Err(ServiceError::BadRequest(codes::NON_TEXT_CHANNEL));
        }
        Ok(view)
    }

    pub async fn create_message(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        input: CreateMessage,
    ) -> ServiceResult<wire::Message> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::SEND_MESSAGES)?;
        self.slowmode(&view, caller).await?;
        let view = self.reopen_for_message(view).await?;
        let message = self.compose_message(&view, caller, input).await?;
        self.deliver_message(&view, message, None).await
    }

    /// Checks a new message and resolves what it refers to; stores its
    /// files. Permission to send is the caller's to check. Its id is given
    /// when it is delivered.
    pub(crate) async fn compose_message(
        &self,
        view: &ChannelView,
        caller: Caller,
        mut input: CreateMessage,
    ) -> ServiceResult<Message> {
        let channel_id = view.channel.id;
        let content = input.content.unwrap_or_default();
        self.duplicate_flood(caller, &content).await?;
        let mut embeds = input.embeds.unwrap_or_default();
        embeds.extend(input.embed);
        let mut errors = FormErrors::new();
        check_content(&mut errors, &content);
        check_embeds(&mut errors, &embeds);
        let requests = input.attachments.as_deref().unwrap_or_default();
        describe_uploads(&mut errors, &mut input.uploads, requests);
        let components = input.components.unwrap_or_default();
        super::components::check(&mut errors, "components", &components, false);
        match &input.nonce {
            None => {}
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
            Some(Value::String(s)) if s.chars().count() <= limits::NONCE_MAX => {}
            Some(_) => errors.add(
                "nonce",
                "BASE_TYPE_MAX_LENGTH",
                "Must be a string of 25 or fewer characters, or an integer.",
            ),
        }
        let reference = match &input.message_reference {
            Some(r) if r.channel_id.is_none_or(|c| c == channel_id) => {
                view.require(Permissions::READ_MESSAGE_HISTORY)?;
                let exists = self
                    .store
                    .message(channel_id, r.message_id)
                    .await?
                    .is_some();
                if !exists && r.fail_if_not_exists.unwrap_or(true) {
                    errors.add(
                        "message_reference",
                        "REPLIES_UNKNOWN_MESSAGE",
                        "Unknown message",
                    );
                }
                exists.then_some(MessageReference {
                    message_id: r.message_id,
                    channel_id,
                    guild_id: view.guild_id(),
                })
            }
            Some(_) => {
                errors.add(
                    "message_reference",
                    "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL",
                    "Cannot reply to a message in another channel",
                );
                None
            }
            None => None,
        };
        let poll = self
            .compose_poll(view, input.poll, now_ms(), &mut errors)
            .await?;
        errors.into_result()?;
        let empty = content.trim().is_empty()
            && embeds.is_empty()
            && components.is_empty()
            && input.uploads.is_empty();
        if empty && poll.is_none() {
            return Err(ServiceError::BadRequest(codes::EMPTY_MESSAGE));
        }
        if !input.uploads.is_empty() {
            view.require(Permissions::ATTACH_FILES)?;
        }
        let mentions = self
            .mentions(view, &content, input.allowed_mentions.as_ref())
            .await?;
        let attachments = self.store_uploads(channel_id, input.uploads).await?;
        Ok(Message {
            id: Snowflake(0),
            channel_id,
            guild_id: view.guild_id(),
            author_id: caller.id,
            content,
            kind: if reference.is_some() {
                message_type::REPLY
            } else {
                message_type::DEFAULT
            },
            edited_ms: None,
            tts: input.tts && view.permissions.contains(Permissions::SEND_TTS_MESSAGES),
            mention_everyone: mentions.everyone,
            mentions: mentions.users,
            mention_roles: mentions.roles,
            nonce: input.nonce,
            embeds,
            flags: input.flags.unwrap_or(0) & SETTABLE_FLAGS,
            message_reference: reference,
            pinned: false,
            reactions: Vec::new(),
            attachments,
            webhook: None,
            poll,
            components,
            interaction: None,
        })
    }

    /// Stores a composed message and announces it (in a thread, after
    /// counting it and making its author a member). Its id is `id` (a forum
    /// post's first message has its thread's), or minted now, in the
    /// channel's order: its event waits for those of lower ids.
    pub(crate) async fn deliver_message(
        &self,
        view: &ChannelView,
        mut message: Message,
        id: Option<Snowflake>,
    ) -> ServiceResult<wire::Message> {
        let turn = self
            .messages
            .sequencer
            .enter(view.channel.id, || id.unwrap_or_else(|| self.next_id()));
        message.id = turn.id;
        self.index_mentions(&message).await?;
        self.store.create_message(&message).await?;
        self.messages.cache.created(&message).await;
        metrics::counter!("concord_messages_created_total").increment(1);
        if view.channel.is_thread() {
            self.thread_message_sent(view, &message).await?;
        }
        let out = self.render_message(&message).await?;
        if let Some(event) = self.message_event(
            EventKind::MessageCreate,
            view.audience(),
            &with_author_member(view, &out),
        ) {
            turn.publish(event).await;
        }
        // Pushes are decided and sent off this request: it never waits for them.
        self.notice_message(&view.channel, &message);
        Ok(out)
    }

    /// A system message (pin notice, thread created, member joined) from
    /// `author`.
    pub(crate) async fn post_notice(
        &self,
        channel: &Channel,
        author: Snowflake,
        kind: u8,
        content: &str,
        reference: Option<MessageReference>,
    ) -> ServiceResult<()> {
        let notice = Message {
            guild_id: channel.guild_id,
            kind,
            message_reference: reference,
            ..Message::new(Snowflake(0), channel.id, author, content)
        };
        self.post_system_message(channel, notice).await
    }

    /// Stores and announces a message the server writes (a notice, a
    /// poll's result); its id is minted now, in the channel's order.
    pub(crate) async fn post_system_message(
        &self,
        channel: &Channel,
        mut notice: Message,
    ) -> ServiceResult<()> {
        let turn = self.messages.sequencer.enter(channel.id, || self.next_id());
        notice.id = turn.id;
        self.store.create_message(&notice).await?;
        self.messages.cache.created(&notice).await;
        let out = self.render_message(&notice).await?;
        if let Some(event) =
            self.message_event(EventKind::MessageCreate, audience_of(channel), &out)
        {
            turn.publish(event).await;
        }
        Ok(())
    }

    /// One message per `rate_limit_per_user` seconds, unless the member
    /// manages the channel or its messages, or may bypass slowmode.
    async fn slowmode(&self, view: &ChannelView, caller: Caller) -> ServiceResult<()> {
        let seconds = u64::from(view.channel.rate_limit_per_user);
        let exempt = Permissions::MANAGE_MESSAGES
            | Permissions::MANAGE_CHANNELS
            | Permissions::BYPASS_SLOWMODE;
        if seconds == 0 || view.permissions.0 & exempt.0 != 0 {
            return Ok(());
        }
        let key = format!("slowmode:{}:{}", view.channel.id, caller.id);
        let limit = crate::access::ratelimit::Limit {
            count: 1,
            window_ms: seconds * 1000,
        };
        self.within_limit(&key, limit, codes::SLOWMODE).await
    }

    /// Flood control: the same content from one user, in any channels, at
    /// most so many times per window (when rate limits are on).
    async fn duplicate_flood(&self, caller: Caller, content: &str) -> ServiceResult<()> {
        let limits = &self.config.rate_limits;
        if !limits.enabled || content.trim().is_empty() {
            return Ok(());
        }
        // `DefaultHasher::new` has fixed keys: every node of one build
        // counts the same content under the same key.
        let mut hasher = DefaultHasher::new();
        content.trim().hash(&mut hasher);
        let key = format!("duplicate:{}:{:x}", caller.id, hasher.finish());
        self.within_limit(&key, limits.duplicate, codes::WRITE_RATE_LIMIT)
            .await
    }

    /// TYPING_START to those who can see the channel; lasts 10 s on clients.
    pub async fn typing(&self, caller: Caller, channel_id: Snowflake) -> ServiceResult<()> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::SEND_MESSAGES)?;
        let mut data = view.with_guild_id(serde_json::json!({
            "channel_id": channel_id,
            "user_id": caller.id,
            "timestamp": now_ms() / 1000,
        }));
        if let Some(member) = view.member() {
            let user = self.user_wire(caller.id).await?;
            data["member"] = serde_json::json!(wire::Member::new(member, Some(user)));
        }
        self.publish(EventKind::TypingStart, view.audience(), data)
            .await;
        Ok(())
    }

    /// MESSAGE_CREATE and MESSAGE_UPDATE carry the author's member (without user).
    async fn publish_message(&self, kind: EventKind, view: &ChannelView, message: &wire::Message) {
        self.publish_message_to(kind, view.audience(), &with_author_member(view, message))
            .await;
    }

    /// Whether the caller may read message content: people always, bots
    /// whose application has the MESSAGE_CONTENT intent allowed.
    pub(crate) async fn reads_content(&self, caller: Caller) -> ServiceResult<bool> {
        if !caller.bot {
            return Ok(true);
        }
        let app = self.store.application(caller.id).await?;
        Ok(app.is_none_or(|app| app.allow_message_content))
    }

    /// A bot whose application may not read message content gets it empty,
    /// but where Discord makes an exception ([`wire::Message::shows_content_to`]).
    pub(crate) async fn hide_content_from_bots(
        &self,
        caller: Caller,
        view: &ChannelView,
        messages: &mut [wire::Message],
    ) -> ServiceResult<()> {
        if view.guild.is_none() || self.reads_content(caller).await? {
            return Ok(());
        }
        for message in messages {
            if !message.shows_content_to(caller.id) {
                message.hide_content();
            }
        }
        Ok(())
    }

    /// The newest messages of a channel, through the cache when it can serve them.
    pub(crate) async fn latest_messages(
        &self,
        channel_id: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        if limit > CACHED_PER_CHANNEL {
            return self.store.messages_before(channel_id, None, limit).await;
        }
        let cached = self.latest_cached(channel_id, limit).await?;
        Ok(cached.iter().map(|c| c.message.clone()).collect())
    }

    /// The newest `limit` (at most [`CACHED_PER_CHANNEL`]) messages as the cache holds them.
    async fn latest_cached(
        &self,
        channel_id: Snowflake,
        limit: usize,
    ) -> StoreResult<Vec<Arc<Cached>>> {
        self.caught_up().await;
        let store = &self.store;
        self.messages
            .cache
            .latest(channel_id, limit, || {
                store.messages_before(channel_id, None, CACHED_PER_CHANNEL)
            })
            .await
    }

    /// History with Discord's cursor semantics; `[]` without READ_MESSAGE_HISTORY.
    pub async fn messages(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        anchor: HistoryAnchor,
        limit: usize,
    ) -> ServiceResult<Vec<wire::Message>> {
        let view = self.text_channel(caller, channel_id).await?;
        if !view.permissions.contains(Permissions::READ_MESSAGE_HISTORY) {
            return Ok(Vec::new());
        }
        let page = self.page(channel_id, anchor, limit).await?;
        self.render_for(caller, &view, &page).await
    }

    /// The records of a history page, with Discord's cursor semantics.
    async fn page(
        &self,
        channel_id: Snowflake,
        anchor: HistoryAnchor,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        match anchor {
            HistoryAnchor::Latest => self.latest_messages(channel_id, limit).await,
            other => history(&*self.store, channel_id, other, limit).await,
        }
    }

    /// Messages as `caller` reads them where `view` is theirs.
    async fn render_for(
        &self,
        caller: Caller,
        view: &ChannelView,
        messages: &[Message],
    ) -> ServiceResult<Vec<wire::Message>> {
        let mut page = self.render_messages(messages).await?;
        self.hide_content_from_bots(caller, view, &mut page).await?;
        self.mark_own_reactions(caller.id, &mut page).await?;
        self.mark_own_votes(caller.id, &mut page).await?;
        Ok(page)
    }

    /// [`Service::messages`] as the JSON array clients get. The newest page
    /// comes from the cache, where each message that reads the same for
    /// everyone keeps the JSON made at its first reading; the others are
    /// rendered for the caller as always.
    pub async fn messages_json(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        anchor: HistoryAnchor,
        limit: usize,
    ) -> ServiceResult<Vec<u8>> {
        let view = self.text_channel(caller, channel_id).await?;
        if !view.permissions.contains(Permissions::READ_MESSAGE_HISTORY) {
            return Ok(b"[]".to_vec());
        }
        let cacheable = anchor == HistoryAnchor::Latest
            && limit <= CACHED_PER_CHANNEL
            && (view.guild.is_none() || self.reads_content(caller).await?);
        if !cacheable {
            let page = self.page(channel_id, anchor, limit).await?;
            let page = self.render_for(caller, &view, &page).await?;
            return Ok(serde_json::to_vec(&page)?);
        }
        let page = self.latest_cached(channel_id, limit).await?;
        let (shared, own): (Vec<&Arc<Cached>>, Vec<&Arc<Cached>>) =
            page.iter().partition(|c| reads_alike(&c.message));
        let own: Vec<Message> = own.iter().map(|c| c.message.clone()).collect();
        let mut own = self.render_for(caller, &view, &own).await?.into_iter();
        let ids: Vec<Snowflake> = shared
            .iter()
            .flat_map(|c| std::iter::once(&c.message.author_id).chain(&c.message.mentions))
            .copied()
            .collect();
        let users = self.users_wire(&ids).await?;
        let mut out = Vec::with_capacity(page.len() * 512);
        out.push(b'[');
        for (i, cached) in page.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if reads_alike(&cached.message) {
                out.extend_from_slice(&message_json(cached, &users)?.json);
            } else if let Some(message) = own.next() {
                serde_json::to_writer(&mut out, &message)?;
            }
        }
        out.push(b']');
        Ok(out)
    }

    pub(crate) async fn message_record(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<Message> {
        self.store
            .message(channel_id, id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MESSAGE))
    }

    pub async fn message(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<wire::Message> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::READ_MESSAGE_HISTORY)?;
        let message = self.message_record(channel_id, id).await?;
        let mut rendered = [self.render_message(&message).await?];
        self.hide_content_from_bots(caller, &view, &mut rendered)
            .await?;
        self.mark_own_reactions(caller.id, &mut rendered).await?;
        self.mark_own_votes(caller.id, &mut rendered).await?;
        let [rendered] = rendered;
        Ok(rendered)
    }

    /// Only the author edits content; only the changed columns are written.
    pub async fn edit_message(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        id: Snowflake,
        input: EditMessage,
    ) -> ServiceResult<wire::Message> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require_unarchived()?;
        let message = self.message_record(channel_id, id).await?;
        if message.author_id != caller.id {
            return Err(ServiceError::Forbidden(codes::CANNOT_EDIT_OTHERS_MESSAGE));
        }
        if !message_type::is_editable(message.kind) {
            return Err(ServiceError::Forbidden(codes::SYSTEM_MESSAGE));
        }
        self.apply_message_edit(&view, &message, input).await
    }

    /// The columns an edit changes, checked: what its author may send. An
    /// edit of a response still loading (an interaction's deferred
    /// answer) ends its loading: it is its first content, not shown as
    /// edited.
    pub(crate) async fn edit_patch(
        &self,
        view: &ChannelView,
        message: &Message,
        mut input: EditMessage,
    ) -> ServiceResult<MessagePatch> {
        if message.poll.is_some() {
            return Err(ServiceError::BadRequest(codes::POLL_NOT_EDITABLE));
        }
        let mut patch = MessagePatch {
            edited_ms: Some(now_ms()),
            ..MessagePatch::default()
        };
        let mut errors = FormErrors::new();
        if let Some(content) = input.content {
            let content = content.unwrap_or_default();
            check_content(&mut errors, &content);
            let mentions = self
                .mentions(view, &content, input.allowed_mentions.as_ref())
                .await?;
            patch.mentions = Some(mentions.users);
            patch.mention_roles = Some(mentions.roles);
            patch.mention_everyone = Some(mentions.everyone);
            patch.content = Some(content);
        }
        if let Some(embeds) = input.embeds {
            let embeds = embeds.unwrap_or_default();
            check_embeds(&mut errors, &embeds);
            patch.embeds = Some(embeds);
        }
        if let Some(components) = input.components {
            let components = components.unwrap_or_default();
            super::components::check(&mut errors, "components", &components, false);
            patch.components = Some(components);
        }
        if let Some(flags) = input.flags {
            patch.flags =
                Some((message.flags & !SETTABLE_FLAGS) | (flags.unwrap_or(0) & SETTABLE_FLAGS));
        }
        // A list keeps the files it names (and no list, every file).
        let kept: Vec<_> = match &input.attachments {
            Some(list) => (message.attachments.iter())
                .filter(|a| list.iter().any(|r| r.names(a.id)))
                .cloned()
                .collect(),
            None => message.attachments.clone(),
        };
        let requests = input.attachments.as_deref().unwrap_or_default();
        describe_uploads(&mut errors, &mut input.uploads, requests);
        if !input.uploads.is_empty() {
            view.require(Permissions::ATTACH_FILES)?;
            if kept.len() + input.uploads.len() > limits::ATTACHMENTS_MAX {
                let most = limits::ATTACHMENTS_MAX;
                errors.add(
                    "attachments",
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {most} or fewer in length."),
                );
            }
        }
        errors.into_result()?;
        if input.attachments.is_some() || !input.uploads.is_empty() {
            let added = self
                .store_uploads(message.channel_id, input.uploads)
                .await?;
            let mut files = kept;
            files.extend(added);
            patch.attachments = Some(files);
        }
        let content = patch.content.as_ref().unwrap_or(&message.content);
        let embeds = patch.embeds.as_ref().unwrap_or(&message.embeds);
        let components = patch.components.as_ref().unwrap_or(&message.components);
        let files = patch.attachments.as_ref().unwrap_or(&message.attachments);
        if content.trim().is_empty()
            && embeds.is_empty()
            && components.is_empty()
            && files.is_empty()
        {
            return Err(ServiceError::BadRequest(codes::EMPTY_MESSAGE));
        }
        let flags = patch.flags.unwrap_or(message.flags);
        if flags & LOADING != 0 {
            patch.flags = Some(flags & !LOADING);
            patch.edited_ms = None;
        }
        Ok(patch)
    }

    /// Checks and writes an edit its author may make, and announces it.
    pub(crate) async fn apply_message_edit(
        &self,
        view: &ChannelView,
        message: &Message,
        input: EditMessage,
    ) -> ServiceResult<wire::Message> {
        let (channel_id, id) = (message.channel_id, message.id);
        let patch = self.edit_patch(view, message, input).await?;
        if patch.mentions.is_some() {
            let mut after = message.clone();
            patch.apply(&mut after);
            self.index_mentions(&after).await?;
        }
        let edited = self
            .store
            .update_message(channel_id, id, &patch)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MESSAGE))?;
        self.release_dropped(message, &patch).await?;
        self.messages.cache.updated(&edited).await;
        let out = self.render_message(&edited).await?;
        self.publish_message(EventKind::MessageUpdate, view, &out)
            .await;
        Ok(out)
    }

    /// The author, or a member with MANAGE_MESSAGES, deletes.
    pub async fn delete_message(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.text_channel(caller, channel_id).await?;
        let message = self.message_record(channel_id, id).await?;
        if message.author_id != caller.id {
            view.require(Permissions::MANAGE_MESSAGES)?;
        }
        self.remove_message(&view, id).await?;
        match view.guild_id() {
            // A moderator's deletion is on the record; an author's own is not.
            Some(guild_id) if message.author_id != caller.id => {
                let details = Details {
                    options: Some(serde_json::json!({ "channel_id": channel_id, "count": "1" })),
                    ..Details::on(message.author_id)
                };
                self.audit(guild_id, caller, action::MESSAGE_DELETE, details)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Deletes one message of the viewed channel (if it is still there)
    /// with its files, and announces it; who may is the caller's to check.
    pub(crate) async fn remove_message(
        &self,
        view: &ChannelView,
        id: Snowflake,
    ) -> ServiceResult<()> {
        let channel_id = view.channel.id;
        let deleted = self.store.delete_messages(channel_id, &[id]).await?;
        self.messages.cache.deleted(channel_id, &[id]).await;
        self.forget_mentions(&deleted).await;
        self.release_attachments(&deleted).await?;
        if view.channel.is_thread() {
            self.thread_messages_deleted(channel_id, deleted.len())
                .await?;
        }
        let data = view.with_guild_id(serde_json::json!({ "id": id, "channel_id": channel_id }));
        self.publish(EventKind::MessageDelete, view.audience(), data)
            .await;
        Ok(())
    }

    /// Deletes 2 to 100 messages, none older than two weeks.
    pub async fn bulk_delete(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        input: BulkDelete,
    ) -> ServiceResult<()> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::MANAGE_MESSAGES)?;
        let ids = input.messages;
        if !(limits::BULK_DELETE_MIN..=limits::BULK_DELETE_MAX).contains(&ids.len()) {
            return Err(ServiceError::BadRequest(codes::BULK_DELETE_COUNT));
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != ids.len() {
            return FormErrors::single(
                "messages",
                "BASE_TYPE_DUPLICATES",
                "Duplicate message ids.",
            )
            .into_result();
        }
        let oldest_allowed = now_ms().saturating_sub(limits::BULK_DELETE_MAX_AGE_MS);
        if ids.iter().any(|id| id.timestamp_ms() < oldest_allowed) {
            return Err(ServiceError::BadRequest(codes::BULK_DELETE_TOO_OLD));
        }
        let removed = self.store.delete_messages(channel_id, &ids).await?;
        self.forget_mentions(&removed).await;
        self.release_attachments(&removed).await?;
        if view.channel.is_thread() {
            self.thread_messages_deleted(channel_id, removed.len())
                .await?;
        }
        let deleted: Vec<Snowflake> = removed.iter().map(|m| m.id).collect();
        self.messages.cache.deleted(channel_id, &deleted).await;
        if !deleted.is_empty() {
            let data =
                view.with_guild_id(serde_json::json!({ "ids": deleted, "channel_id": channel_id }));
            self.publish(EventKind::MessageDeleteBulk, view.audience(), data)
                .await;
            if let Some(guild_id) = view.guild_id() {
                let details = Details {
                    options: Some(serde_json::json!({ "count": deleted.len().to_string() })),
                    ..Details::on(channel_id)
                };
                self.audit(guild_id, caller, action::MESSAGE_BULK_DELETE, details)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The message as its events carry it: with its author's member (without
/// user), when the author is a member of the channel's guild.
fn with_author_member(view: &ChannelView, message: &wire::Message) -> wire::Message {
    let mut event = message.clone();
    if let Some(member) = view.member().filter(|m| m.user_id == event.author.id) {
        event.member = Some(wire::Member::new(member, None));
    }
    event
}

/// Whether a message reads the same for every reader who may read its
/// content, given its author and mentioned users: nothing in it is signed
/// per reading (attachments), counted per reader (reactions, poll votes)
/// or read from another record (a replied-to message, a thread, an
/// interaction's invoker).
fn reads_alike(m: &Message) -> bool {
    m.attachments.is_empty()
        && m.reactions.is_empty()
        && m.poll.is_none()
        && m.interaction.is_none()
        && m.webhook.is_none()
        && m.flags & crate::threads::HAS_THREAD == 0
        && !(m.kind == message_type::REPLY && m.message_reference.is_some())
}

/// The JSON of a message that [`reads_alike`]: kept from an earlier reading
/// while its users are unchanged, else made now and kept in its place.
fn message_json(
    cached: &Cached,
    users: &HashMap<Snowflake, wire::User>,
) -> ServiceResult<Arc<Serialized>> {
    let m = &cached.message;
    let named = || {
        std::iter::once(&m.author_id)
            .chain(&m.mentions)
            .map(|id| &users[id])
    };
    let kept = cached
        .json
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let Some(kept) = kept
        && kept.users.iter().eq(named())
    {
        return Ok(kept);
    }
    let mentions = m.mentions.iter().map(|id| users[id].clone()).collect();
    let author = users[&m.author_id].clone();
    let json = serde_json::to_vec(&wire::Message::new(m, author, mentions))?;
    let made = Arc::new(Serialized {
        users: named().cloned().collect(),
        json: json.into_boxed_slice(),
    });
    *cached.json.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&made));
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_markup() {
        let text = "hi <@1> and <@!2>, <@&3>, <@1> again, <@x> <@";
        assert_eq!(mention_ids(text, false), [Snowflake(1), Snowflake(2)]);
        assert_eq!(mention_ids(text, true), [Snowflake(3)]);
    }
}

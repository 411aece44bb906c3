//! Threads: conversations branched off a channel (or a forum's posts).
//!
//! A thread is a channel record with a [`ThreadState`]; the store lists
//! threads apart from a guild's other channels. It takes its permissions
//! from its parent (see [`crate::access::permissions::MemberContext::in_thread`]),
//! and its members are those who follow it. Starting, editing and
//! deleting threads live here, with who follows them (`members`), the
//! lists of threads (`lists`), auto-archiving (`archive`) and the request
//! body that starts one (`input`).
//!
//! Depends on access (a thread's permissions, through its parent), on
//! guilds (the audit log, channel edits' request bodies, a channel's wire
//! shape), on messages (a forum post's first message, a thread's notice)
//! and on attachments (sweeping a deleted thread's files).

use concord_model::event::{Audience, EventKind};
use concord_model::records::{
    Channel, Message, MessagePatch, MessageReference, ThreadMember, ThreadState, channel_type,
    message_type,
};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use concord_store::{ThreadEdit, ThreadUpdate};

use crate::error::{check_length, check_slowmode};
use crate::guilds::ChannelInput;
use crate::guilds::audit::{Details, action, change};
use crate::{Caller, ChannelView, FormErrors, Service, ServiceError, ServiceResult, to_channel};

mod archive;
pub mod input;
mod lists;
mod members;
pub mod tags;

pub use archive::{ARCHIVE_LEASE, auto_archive};
pub use input::StartThread;
pub use lists::{Archived, ThreadList};

/// The inactivity periods (minutes) a thread may archive itself after.
const ARCHIVE_DURATIONS: [u32; 4] = [60, 1440, 4320, 10080];

/// Message flag: a thread was started from this message.
pub const HAS_THREAD: u64 = 32;

fn check_duration(errors: &mut FormErrors, minutes: u32) {
    if !ARCHIVE_DURATIONS.contains(&minutes) {
        errors.add(
            "auto_archive_duration",
            "BASE_TYPE_CHOICES",
            "Value must be one of (60, 1440, 4320, 10080).",
        );
    }
}

fn state(thread: &Channel) -> ServiceResult<&ThreadState> {
    thread
        .thread
        .as_ref()
        .ok_or(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID))
}

impl Service {
    /// `POST /channels/{c}/messages/{m}/threads`: a public thread whose id
    /// is the message's; the message then carries it.
    pub async fn start_thread_from_message(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        input: StartThread,
    ) -> ServiceResult<wire::Channel> {
        let parent = self.channel_view(caller, channel_id).await?;
        let kind = match parent.channel.kind {
            channel_type::GUILD_ANNOUNCEMENT => channel_type::ANNOUNCEMENT_THREAD,
            channel_type::GUILD_TEXT => channel_type::PUBLIC_THREAD,
            _ => return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID)),
        };
        parent.require(Permissions::CREATE_PUBLIC_THREADS | Permissions::READ_MESSAGE_HISTORY)?;
        let message = self
            .store
            .message(channel_id, message_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MESSAGE))?;
        if self.store.channel(message_id).await?.is_some() {
            return Err(ServiceError::BadRequest(codes::THREAD_ALREADY_CREATED));
        }
        // Two requests for one message at once: the store creates the
        // thread once, and the other is refused in `open_thread`.
        let thread = self
            .open_thread(caller, &parent, message_id, kind, &input)
            .await?;
        let patch = MessagePatch {
            flags: Some(message.flags | HAS_THREAD),
            ..MessagePatch::default()
        };
        if let Some(updated) = self
            .store
            .update_message(channel_id, message_id, &patch)
            .await?
        {
            self.messages.cache.updated(&updated).await;
            let out = self.render_message(&updated).await?;
            self.publish_message_to(EventKind::MessageUpdate, parent.audience(), &out)
                .await;
        }
        Ok(thread)
    }

    /// `POST /channels/{c}/threads`: a thread on its own, or a forum post
    /// with its first message (whose id is the thread's).
    pub async fn start_thread(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        mut input: StartThread,
    ) -> ServiceResult<serde_json::Value> {
        let parent = self.channel_view(caller, channel_id).await?;
        let forum = parent.channel.kind == channel_type::GUILD_FORUM;
        let kind = if forum {
            parent.require(Permissions::SEND_MESSAGES)?;
            channel_type::PUBLIC_THREAD
        } else {
            let kind = input.kind.unwrap_or(channel_type::PRIVATE_THREAD);
            let expected = match parent.channel.kind {
                channel_type::GUILD_TEXT => channel_type::PUBLIC_THREAD,
                channel_type::GUILD_ANNOUNCEMENT => channel_type::ANNOUNCEMENT_THREAD,
                _ => return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID)),
            };
            if kind != expected && kind != channel_type::PRIVATE_THREAD {
                return Err(ServiceError::InvalidForm(FormErrors::single(
                    "type",
                    "BASE_TYPE_CHOICES",
                    format!("Value must be one of ({expected}, 12)."),
                )));
            }
            parent.require(if kind == channel_type::PRIVATE_THREAD {
                Permissions::CREATE_PRIVATE_THREADS
            } else {
                Permissions::CREATE_PUBLIC_THREADS
            })?;
            kind
        };
        let first = input.message.take();
        if forum && first.is_none() {
            return Err(ServiceError::InvalidForm(FormErrors::single(
                "message",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            )));
        }
        let id = self.next_id();
        let thread = self.open_thread(caller, &parent, id, kind, &input).await?;
        let Some(first) = first.filter(|_| forum) else {
            if kind != channel_type::PRIVATE_THREAD {
                let reference = MessageReference {
                    message_id: id,
                    channel_id: id,
                    guild_id: parent.guild_id(),
                };
                let name = &thread.name;
                self.post_notice(
                    &parent.channel,
                    caller.id,
                    message_type::THREAD_CREATED,
                    name,
                    Some(reference),
                )
                .await?;
            }
            return Ok(serde_json::to_value(&thread).unwrap_or_default());
        };
        let view = self.channel_view(caller, id).await?;
        let composed = self.compose_message(&view, caller, first).await;
        let message = self.first_post_message(&parent, &view, composed).await?;
        let mut out =
            serde_json::to_value(self.thread_wire(id, caller.id).await?).unwrap_or_default();
        out["message"] = serde_json::to_value(message).unwrap_or_default();
        Ok(out)
    }

    /// Delivers a forum post's first message (its id the post's), or, if
    /// it was refused, takes the post back: a post without its first
    /// message is no post.
    pub(crate) async fn first_post_message(
        &self,
        parent: &ChannelView,
        view: &ChannelView,
        composed: ServiceResult<Message>,
    ) -> ServiceResult<wire::Message> {
        let id = view.channel.id;
        let posted = match composed {
            Ok(message) => self.deliver_message(view, message, Some(id)).await,
            Err(e) => Err(e),
        };
        if posted.is_err() {
            self.store.delete_channel(id).await?;
            self.purge_soon();
            self.publish(
                EventKind::ThreadDelete,
                parent.audience(),
                deleted(&view.channel),
            )
            .await;
        }
        posted
    }

    /// A forum post a webhook starts (`thread_name`): owned by the
    /// webhook, which joins it no more than any thread it posts in.
    pub(crate) async fn open_webhook_post(
        &self,
        webhook: Caller,
        forum: &ChannelView,
        name: String,
        applied_tags: Option<Vec<Snowflake>>,
    ) -> ServiceResult<Channel> {
        let input = StartThread {
            name: Some(name),
            applied_tags,
            ..StartThread::default()
        };
        let id = self.next_id();
        self.open_thread(webhook, forum, id, channel_type::PUBLIC_THREAD, &input)
            .await?;
        self.store
            .channel(id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))
    }

    /// Creates the thread record (unless one has its id: 160004), makes
    /// the caller its first member (unless a poster that is no member
    /// opens it: a webhook's forum post) and announces it.
    async fn open_thread(
        &self,
        caller: Caller,
        parent: &ChannelView,
        id: Snowflake,
        kind: u8,
        input: &StartThread,
    ) -> ServiceResult<wire::Channel> {
        let guild = parent.guild()?;
        let mut errors = FormErrors::new();
        let name = input.name.as_deref().unwrap_or("").trim();
        match input.name {
            None => errors.add("name", "BASE_TYPE_REQUIRED", "This field is required"),
            Some(_) => {
                let (min, max) = limits::CHANNEL_NAME;
                check_length(&mut errors, "name", name, min, max);
            }
        }
        let duration = input.auto_archive_duration.unwrap_or(1440);
        check_duration(&mut errors, duration);
        let slowmode = input.rate_limit_per_user.unwrap_or(0);
        check_slowmode(&mut errors, slowmode);
        let forum = &parent.channel;
        let in_forum = forum.kind == channel_type::GUILD_FORUM;
        let asked = input.applied_tags.as_deref().unwrap_or_default();
        let applied = match in_forum {
            true => tags::applied_tags(forum, &[], asked, parent.permissions, &mut errors)?,
            false => Vec::new(),
        };
        errors.into_result()?;
        if in_forum {
            tags::check_required(forum, &applied, parent.permissions)?;
        }
        let now = now_ms();
        let mut state = ThreadState::new(duration, now);
        state.invitable = input.invitable.unwrap_or(true);
        state.applied_tags = applied;
        let thread = Channel {
            parent_id: Some(parent.channel.id),
            owner_id: Some(caller.id),
            rate_limit_per_user: slowmode,
            nsfw: parent.channel.nsfw,
            thread: Some(state),
            ..Channel::new(id, kind, guild.guild.id, name)
        };
        if !self.store.create_channel(&thread).await? {
            return Err(ServiceError::BadRequest(codes::THREAD_ALREADY_CREATED));
        }
        let creator = ThreadMember {
            thread_id: id,
            user_id: caller.id,
            join_ms: now,
            flags: 0,
        };
        let joins = guild.member.user_id == caller.id;
        let thread = match joins {
            true => self
                .store
                .add_thread_member(&creator)
                .await?
                .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?,
            false => thread,
        };
        let out = wire::Channel::new(&thread, None);
        let mut created = serde_json::to_value(&out).unwrap_or_default();
        created["newly_created"] = true.into();
        self.publish(EventKind::ThreadCreate, thread_audience(&thread), created)
            .await;
        if joins {
            self.announce_members(&thread, Some(&creator), None).await?;
        }
        let mut details = Details::on(id);
        details
            .changes
            .push(change("name", None::<()>, &thread.name));
        self.audit(guild.guild.id, caller, action::THREAD_CREATE, details)
            .await?;
        let mut out = out;
        out.set_thread_member(joins.then(|| wire::ThreadMember::new(&creator)));
        Ok(out)
    }

    /// A thread as `viewer` gets it from a route: with their membership.
    pub(crate) async fn thread_wire(
        &self,
        thread_id: Snowflake,
        viewer: Snowflake,
    ) -> ServiceResult<wire::Channel> {
        let thread = self
            .store
            .channel(thread_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
        let mut out = self.channel_wire(&thread).await?;
        let joined = self.store.thread_member(thread_id, viewer).await?;
        out.set_thread_member(joined.as_ref().map(wire::ThreadMember::new));
        Ok(out)
    }

    /// A thread the caller sees, or 10003 if the channel is not a thread.
    async fn thread_view(
        &self,
        caller: Caller,
        thread_id: Snowflake,
    ) -> ServiceResult<ChannelView> {
        let view = self.channel_view(caller, thread_id).await?;
        if !view.channel.is_thread() {
            return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID));
        }
        Ok(view)
    }

    /// A thread the caller sees whose members may change: 50083 if it is
    /// archived.
    async fn active_thread_view(
        &self,
        caller: Caller,
        thread_id: Snowflake,
    ) -> ServiceResult<ChannelView> {
        let view = self.thread_view(caller, thread_id).await?;
        view.require_unarchived()?;
        Ok(view)
    }

    /// `PATCH /channels/{t}` on a thread: its owner renames, archives and
    /// sets the archive delay; MANAGE_THREADS does everything, including
    /// locking, slowmode, `invitable` and unarchiving a locked thread.
    pub(crate) async fn patch_thread(
        &self,
        caller: Caller,
        view: &ChannelView,
        input: ChannelInput,
    ) -> ServiceResult<wire::Channel> {
        let moderator = view.permissions.contains(Permissions::MANAGE_THREADS);
        let owner = view.channel.owner_id == Some(caller.id);
        let moderated = input.locked.is_some()
            || input.invitable.is_some()
            || input.rate_limit_per_user.is_some();
        if !moderator && (!owner || moderated) {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        if state(&view.channel)?.locked && !moderator && input.archived == Some(false) {
            return Err(ServiceError::Forbidden(codes::THREAD_LOCKED));
        }
        let mut errors = FormErrors::new();
        let name = input.name.as_deref().map(str::trim);
        if let Some(name) = name {
            let (min, max) = limits::CHANNEL_NAME;
            check_length(&mut errors, "name", name, min, max);
        }
        if let Some(seconds) = input.rate_limit_per_user {
            check_slowmode(&mut errors, seconds);
        }
        if let Some(minutes) = input.auto_archive_duration {
            check_duration(&mut errors, minutes);
        }
        let applied_tags = match input.applied_tags {
            Some(asked) => Some(self.retag(view, &asked, &mut errors).await?),
            None => None,
        };
        errors.into_result()?;
        let edit = ThreadEdit {
            name: name.map(str::to_owned),
            rate_limit_per_user: input.rate_limit_per_user,
            auto_archive_duration: input.auto_archive_duration,
            locked: input.locked,
            invitable: input.invitable,
            archived: input.archived,
            applied_tags,
            at_ms: now_ms(),
            // Locked meanwhile: still only a moderator unarchives it.
            unless_locked: !moderator,
        };
        // One store operation: an edit never loses a counter update made
        // meanwhile, and never recreates a thread deleted meanwhile.
        let Some(thread) = self
            .store
            .update_thread(view.channel.id, &ThreadUpdate::Edit(edit))
            .await?
        else {
            return Err(match self.store.channel(view.channel.id).await? {
                Some(_) => ServiceError::Forbidden(codes::THREAD_LOCKED),
                None => ServiceError::NotFound(codes::UNKNOWN_CHANNEL),
            });
        };
        let out = self.channel_wire(&thread).await?;
        self.publish(EventKind::ThreadUpdate, thread_audience(&thread), &out)
            .await;
        let mut details = Details::on(thread.id);
        if view.channel.name != thread.name {
            details
                .changes
                .push(change("name", &view.channel.name, &thread.name));
        }
        let guild_id = view.guild()?.guild.id;
        self.audit(guild_id, caller, action::THREAD_UPDATE, details)
            .await?;
        Ok(out)
    }

    /// A post's tags as an edit asks them, checked against its forum's;
    /// a thread outside a forum has none to set (nothing changes).
    async fn retag(
        &self,
        view: &ChannelView,
        asked: &[Snowflake],
        errors: &mut FormErrors,
    ) -> ServiceResult<Vec<Snowflake>> {
        let before = &state(&view.channel)?.applied_tags;
        let parent = view.channel.parent_id;
        let forum = match parent {
            Some(id) => self.store.channel(id).await?,
            None => None,
        };
        match forum.filter(|f| f.kind == channel_type::GUILD_FORUM) {
            Some(forum) => tags::applied_tags(&forum, before, asked, view.permissions, errors),
            None => Ok(before.clone()),
        }
    }

    /// `DELETE /channels/{t}` on a thread: MANAGE_THREADS.
    pub(crate) async fn delete_thread(
        &self,
        caller: Caller,
        view: &ChannelView,
    ) -> ServiceResult<wire::Channel> {
        view.require(Permissions::MANAGE_THREADS)?;
        let out = self.channel_wire(&view.channel).await?;
        self.drop_thread(&view.channel).await?;
        let mut details = Details::on(view.channel.id);
        details
            .changes
            .push(change("name", &view.channel.name, None::<()>));
        let guild_id = view.guild()?.guild.id;
        self.audit(guild_id, caller, action::THREAD_DELETE, details)
            .await?;
        Ok(out)
    }

    /// Removes a thread with its messages and members, and says so to
    /// those who saw it: a private thread's members and moderators, or the
    /// parent's viewers. Thread updates never recreate a thread, so one
    /// racing the deletion leaves it deleted.
    pub(crate) async fn drop_thread(&self, thread: &Channel) -> ServiceResult<()> {
        let (Some(guild_id), Some(parent)) = (thread.guild_id, thread.parent_id) else {
            return Ok(());
        };
        let mut members = Vec::new();
        if thread.kind == channel_type::PRIVATE_THREAD {
            let mut after = Snowflake(0);
            loop {
                let page = self.store.thread_members(thread.id, after, 1000).await?;
                let Some(last) = page.last() else { break };
                after = last.user_id;
                members.extend(page.iter().map(|m| m.user_id));
            }
        }
        self.store.delete_channel(thread.id).await?;
        self.messages.cache.forget(thread.id);
        self.purge_soon();
        let data = deleted(thread);
        if thread.kind == channel_type::PRIVATE_THREAD {
            let moderators = Audience::Guild {
                guild_id,
                channel_id: Some(parent),
                required: Permissions::MANAGE_THREADS,
            };
            self.publish(EventKind::ThreadDelete, moderators, &data)
                .await;
            self.publish(EventKind::ThreadDelete, Audience::Users(members), &data)
                .await;
        } else {
            self.publish(EventKind::ThreadDelete, to_channel(guild_id, parent), &data)
                .await;
        }
        Ok(())
    }

    /// Before a message is sent to an archived thread: a locked one stays
    /// shut (but to moderators); any other wakes up.
    pub(crate) async fn reopen_for_message(&self, view: ChannelView) -> ServiceResult<ChannelView> {
        let Some(s) = view.channel.thread.as_ref() else {
            return Ok(view);
        };
        if s.locked && !view.permissions.contains(Permissions::MANAGE_THREADS) {
            return Err(match s.archived {
                true => ServiceError::BadRequest(codes::THREAD_ARCHIVED),
                false => ServiceError::Forbidden(codes::THREAD_LOCKED),
            });
        }
        if !s.archived {
            return Ok(view);
        }
        let unarchive = ThreadUpdate::Unarchive { at_ms: now_ms() };
        let thread = match self
            .store
            .update_thread(view.channel.id, &unarchive)
            .await?
        {
            Some(thread) => {
                let out = self.channel_wire(&thread).await?;
                self.publish(EventKind::ThreadUpdate, thread_audience(&thread), out)
                    .await;
                thread
            }
            // Another message woke it first (and said so), or it is gone.
            None => self
                .store
                .channel(view.channel.id)
                .await?
                .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?,
        };
        Ok(ChannelView {
            channel: thread,
            ..view
        })
    }

    /// After a message lands in a thread: counts it (a forum post's first
    /// message excepted) and makes its author a member.
    pub(crate) async fn thread_message_sent(
        &self,
        view: &ChannelView,
        message: &concord_model::records::Message,
    ) -> ServiceResult<()> {
        let sent = ThreadUpdate::MessageSent {
            counted: message.id != view.channel.id,
            at_ms: now_ms(),
        };
        self.store
            .update_thread(view.channel.id, &sent)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
        if message.webhook.is_some() {
            // A webhook posts without joining: it is no member of anything.
            return Ok(());
        }
        self.add_to_thread(view, message.author_id).await
    }

    /// After messages are deleted from a thread (one deleted meanwhile has
    /// nothing left to count).
    pub(crate) async fn thread_messages_deleted(
        &self,
        thread_id: Snowflake,
        count: usize,
    ) -> ServiceResult<()> {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let deleted = ThreadUpdate::MessagesDeleted { count };
        self.store.update_thread(thread_id, &deleted).await?;
        Ok(())
    }

    /// Deletes the threads of a channel being deleted.
    pub(crate) async fn drop_threads_of(&self, channel: &Channel) -> ServiceResult<()> {
        let Some(guild_id) = channel.guild_id else {
            return Ok(());
        };
        for thread in self.store.guild_threads(guild_id).await? {
            if thread.parent_id == Some(channel.id) {
                self.drop_thread(&thread).await?;
            }
        }
        Ok(())
    }
}

/// Who hears about a thread: those who can see it.
fn thread_audience(thread: &Channel) -> concord_model::event::Audience {
    to_channel(thread.guild_id.unwrap_or_default(), thread.id)
}

/// THREAD_DELETE's data.
fn deleted(thread: &Channel) -> serde_json::Value {
    serde_json::json!({
        "id": thread.id,
        "guild_id": thread.guild_id,
        "parent_id": thread.parent_id,
        "type": thread.kind,
    })
}

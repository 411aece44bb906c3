//! Threads: conversations branched off a channel (or a forum's posts).
//!
//! A thread is a channel record with a [`ThreadState`]; the store lists
//! threads apart from a guild's other channels. It takes its permissions
//! from its parent (see [`crate::permissions::MemberContext::in_thread`]),
//! and its members are those who follow it.

use std::collections::HashMap;

use concord_model::event::EventKind;
use concord_model::records::{
    Channel, MessagePatch, MessageReference, ThreadMember, ThreadState, channel_type, message_type,
};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use serde::Serialize;

use crate::error::check_length;
use crate::input::{ChannelInput, StartThread};
use crate::permissions::MemberContext;
use crate::pins::time_cursor;
use crate::{
    Caller, ChannelView, FormErrors, GuildView, Service, ServiceError, ServiceResult, to_channel,
};

/// The inactivity periods (minutes) a thread may archive itself after.
const ARCHIVE_DURATIONS: [u32; 4] = [60, 1440, 4320, 10080];

/// Message flag: a thread was started from this message.
pub const HAS_THREAD: u64 = 32;

/// Threads with the caller's memberships among them, as the list routes answer.
#[derive(Debug, Serialize)]
pub struct ThreadList {
    pub threads: Vec<wire::Channel>,
    pub members: Vec<wire::ThreadMember>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// Which archived threads of a channel to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archived {
    Public,
    Private,
    /// Private ones the caller is a member of.
    JoinedPrivate,
}

fn check_duration(errors: &mut FormErrors, minutes: u32) {
    if !ARCHIVE_DURATIONS.contains(&minutes) {
        errors.add(
            "auto_archive_duration",
            "BASE_TYPE_CHOICES",
            "Value must be one of (60, 1440, 4320, 10080).",
        );
    }
}

fn check_slowmode(errors: &mut FormErrors, seconds: u32) {
    if seconds > 21_600 {
        errors.add(
            "rate_limit_per_user",
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 21600.",
        );
    }
}

fn state(thread: &Channel) -> ServiceResult<&ThreadState> {
    thread
        .thread
        .as_ref()
        .ok_or(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID))
}

fn state_mut(thread: &mut Channel) -> ServiceResult<&mut ThreadState> {
    thread
        .thread
        .as_mut()
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
            self.cache.updated(&updated).await;
            let out = self.render_message(&updated).await?;
            self.publish(EventKind::MessageUpdate, parent.audience(), out);
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
                    &parent,
                    caller.id,
                    message_type::THREAD_CREATED,
                    name,
                    reference,
                )
                .await?;
            }
            return Ok(serde_json::to_value(&thread).unwrap_or_default());
        };
        let view = self.channel_view(caller, id).await?;
        let posted = match self.compose_message(&view, caller, first, id).await {
            Ok(message) => self.deliver_message(&view, message).await,
            Err(e) => Err(e),
        };
        let message = match posted {
            Ok(message) => message,
            Err(e) => {
                // A post without its first message is no post: take it back.
                self.store.delete_channel(id).await?;
                self.publish(
                    EventKind::ThreadDelete,
                    parent.audience(),
                    deleted(&view.channel),
                );
                return Err(e);
            }
        };
        let mut out =
            serde_json::to_value(self.thread_wire(id, caller.id).await?).unwrap_or_default();
        out["message"] = serde_json::to_value(message).unwrap_or_default();
        Ok(out)
    }

    /// Creates the thread record, makes the caller its first member and
    /// announces it.
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
        errors.into_result()?;
        let now = now_ms();
        let mut state = ThreadState::new(duration, now);
        state.invitable = input.invitable.unwrap_or(true);
        state.member_count = 1;
        let thread = Channel {
            parent_id: Some(parent.channel.id),
            owner_id: Some(caller.id),
            rate_limit_per_user: slowmode,
            nsfw: parent.channel.nsfw,
            thread: Some(state),
            ..Channel::new(id, kind, guild.guild.id, name)
        };
        self.store.put_channel(&thread).await?;
        let creator = ThreadMember {
            thread_id: id,
            user_id: caller.id,
            join_ms: now,
            flags: 0,
        };
        self.store.put_thread_member(&creator).await?;
        let out = wire::Channel::new(&thread, None);
        let mut created = serde_json::to_value(&out).unwrap_or_default();
        created["newly_created"] = true.into();
        self.publish(EventKind::ThreadCreate, thread_audience(&thread), created);
        self.announce_members(&thread, Some(&creator), None).await?;
        let mut out = out;
        out.set_thread_member(Some(wire::ThreadMember::nested(&creator)));
        Ok(out)
    }

    /// THREAD_MEMBERS_UPDATE (one member added or removed) to those who
    /// see the thread, and THREAD_MEMBER_UPDATE to one who joined.
    async fn announce_members(
        &self,
        thread: &Channel,
        added: Option<&ThreadMember>,
        removed: Option<Snowflake>,
    ) -> ServiceResult<()> {
        let guild_id = thread.guild_id.unwrap_or_default();
        let mut data = serde_json::json!({
            "id": thread.id,
            "guild_id": guild_id,
            "member_count": thread.thread.as_ref().map_or(0, |t| t.member_count),
        });
        if let Some(added) = added {
            let mut entry =
                serde_json::to_value(wire::ThreadMember::new(added)).unwrap_or_default();
            if let Some(member) = self.store.member(guild_id, added.user_id).await? {
                entry["member"] =
                    serde_json::to_value(self.member_wire(&member).await?).unwrap_or_default();
            }
            entry["presence"] = serde_json::Value::Null;
            data["added_members"] = serde_json::json!([entry]);
            let mut own = serde_json::to_value(wire::ThreadMember::new(added)).unwrap_or_default();
            own["guild_id"] = serde_json::json!(guild_id);
            self.publish(
                EventKind::ThreadMemberUpdate,
                concord_model::event::Audience::Users(vec![added.user_id]),
                own,
            );
        }
        if let Some(removed) = removed {
            data["removed_member_ids"] = serde_json::json!([removed]);
        }
        self.publish(
            EventKind::ThreadMembersUpdate,
            thread_audience(thread),
            data,
        );
        Ok(())
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
        out.set_thread_member(joined.as_ref().map(wire::ThreadMember::nested));
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

    /// 50083 if the thread is archived: members change only in active threads.
    fn require_active(view: &ChannelView) -> ServiceResult<()> {
        if state(&view.channel)?.archived {
            return Err(ServiceError::BadRequest(codes::THREAD_ARCHIVED));
        }
        Ok(())
    }

    /// `PUT /channels/{t}/thread-members/@me`.
    pub async fn join_thread(&self, caller: Caller, thread_id: Snowflake) -> ServiceResult<()> {
        let view = self.thread_view(caller, thread_id).await?;
        Self::require_active(&view)?;
        self.add_to_thread(&view, caller.id).await
    }

    /// `PUT /channels/{t}/thread-members/{u}`: whoever may send there adds
    /// others; in a private thread that is not invitable, only moderators.
    pub async fn add_thread_member(
        &self,
        caller: Caller,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.thread_view(caller, thread_id).await?;
        Self::require_active(&view)?;
        view.require(Permissions::SEND_MESSAGES)?;
        let thread = &view.channel;
        let moderator = view.permissions.contains(Permissions::MANAGE_THREADS);
        if thread.kind == channel_type::PRIVATE_THREAD && !state(thread)?.invitable && !moderator {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        let guild_id = view.guild()?.guild.id;
        if self.store.member(guild_id, user_id).await?.is_none() {
            return Err(ServiceError::NotFound(codes::UNKNOWN_MEMBER));
        }
        let parent_id = thread.parent_id.unwrap_or_default();
        let parent_perms = self
            .channel_permissions(user_id, guild_id, parent_id)
            .await?;
        if !parent_perms.contains(Permissions::VIEW_CHANNEL) {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        self.add_to_thread(&view, user_id).await
    }

    async fn add_to_thread(&self, view: &ChannelView, user_id: Snowflake) -> ServiceResult<()> {
        let _serial = self.thread_lock.lock().await;
        if self
            .store
            .thread_member(view.channel.id, user_id)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let member = ThreadMember {
            thread_id: view.channel.id,
            user_id,
            join_ms: now_ms(),
            flags: 0,
        };
        self.store.put_thread_member(&member).await?;
        let thread = self
            .update_thread(view.channel.id, |t| t.member_count += 1)
            .await?;
        let newcomer_was_blind = thread.kind == channel_type::PRIVATE_THREAD
            && view.member().is_none_or(|m| m.user_id != user_id);
        if newcomer_was_blind {
            // Someone added to a private thread learns of it now.
            let mut out =
                serde_json::to_value(wire::Channel::new(&thread, None)).unwrap_or_default();
            out["member"] =
                serde_json::to_value(wire::ThreadMember::nested(&member)).unwrap_or_default();
            self.publish(
                EventKind::ThreadCreate,
                concord_model::event::Audience::Users(vec![user_id]),
                out,
            );
        }
        self.announce_members(&thread, Some(&member), None).await
    }

    /// `DELETE /channels/{t}/thread-members/@me`.
    pub async fn leave_thread(&self, caller: Caller, thread_id: Snowflake) -> ServiceResult<()> {
        let view = self.thread_view(caller, thread_id).await?;
        Self::require_active(&view)?;
        self.remove_from_thread(&view, caller.id).await
    }

    /// `DELETE /channels/{t}/thread-members/{u}`: MANAGE_THREADS, or the
    /// owner of a private thread.
    pub async fn remove_thread_member(
        &self,
        caller: Caller,
        thread_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.thread_view(caller, thread_id).await?;
        Self::require_active(&view)?;
        let thread = &view.channel;
        let private_owner =
            thread.kind == channel_type::PRIVATE_THREAD && thread.owner_id == Some(caller.id);
        if !private_owner {
            view.require(Permissions::MANAGE_THREADS)?;
        }
        self.remove_from_thread(&view, user_id).await
    }

    async fn remove_from_thread(
        &self,
        view: &ChannelView,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let _serial = self.thread_lock.lock().await;
        if !self
            .store
            .delete_thread_member(view.channel.id, user_id)
            .await?
        {
            return Err(ServiceError::NotFound(codes::UNKNOWN_MEMBER));
        }
        let thread = self
            .update_thread(view.channel.id, |t| {
                t.member_count = t.member_count.saturating_sub(1)
            })
            .await?;
        self.announce_members(&thread, None, Some(user_id)).await
    }

    /// `GET /channels/{t}/thread-members/{u}`.
    pub async fn thread_member(
        &self,
        caller: Caller,
        thread_id: Snowflake,
        user_id: Snowflake,
        with_member: bool,
    ) -> ServiceResult<wire::ThreadMember> {
        let view = self.thread_view(caller, thread_id).await?;
        let member = self
            .store
            .thread_member(thread_id, user_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MEMBER))?;
        let mut out = self
            .thread_members_wire(&view, &[member], with_member)
            .await?;
        Ok(out.remove(0))
    }

    /// `GET /channels/{t}/thread-members`, by user id after `after`.
    pub async fn thread_members(
        &self,
        caller: Caller,
        thread_id: Snowflake,
        after: Snowflake,
        limit: usize,
        with_member: bool,
    ) -> ServiceResult<Vec<wire::ThreadMember>> {
        let view = self.thread_view(caller, thread_id).await?;
        let members = self.store.thread_members(thread_id, after, limit).await?;
        self.thread_members_wire(&view, &members, with_member).await
    }

    async fn thread_members_wire(
        &self,
        view: &ChannelView,
        members: &[ThreadMember],
        with_member: bool,
    ) -> ServiceResult<Vec<wire::ThreadMember>> {
        let guild_id = view.guild()?.guild.id;
        let mut out = Vec::new();
        for m in members {
            let mut entry = wire::ThreadMember::new(m);
            if with_member && let Some(member) = self.store.member(guild_id, m.user_id).await? {
                entry.member = Some(self.member_wire(&member).await?);
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// The guild's threads the member can see, with their memberships,
    /// parents looked up once.
    pub(crate) async fn visible_threads(
        &self,
        guild: &GuildView,
        keep: impl Fn(&Channel) -> bool,
    ) -> ServiceResult<Vec<(Channel, Option<ThreadMember>)>> {
        let parents: HashMap<Snowflake, Channel> = self
            .store
            .guild_channels(guild.guild.id)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let user = guild.member.user_id;
        let ctx = guild.context();
        let mut out = Vec::new();
        for thread in self.store.guild_threads(guild.guild.id).await? {
            let Some(parent) = thread.parent_id.and_then(|p| parents.get(&p)) else {
                continue;
            };
            if !keep(&thread) {
                continue;
            }
            let joined = self.store.thread_member(thread.id, user).await?;
            let private = thread.kind == channel_type::PRIVATE_THREAD;
            if ctx
                .in_thread(parent, private, joined.is_some())
                .contains(Permissions::VIEW_CHANNEL)
            {
                out.push((thread, joined));
            }
        }
        Ok(out)
    }

    async fn thread_list(
        &self,
        threads: Vec<(Channel, Option<ThreadMember>)>,
        has_more: Option<bool>,
    ) -> ServiceResult<ThreadList> {
        let mut list = ThreadList {
            threads: Vec::new(),
            members: Vec::new(),
            has_more,
        };
        for (thread, joined) in threads {
            list.threads.push(self.channel_wire(&thread).await?);
            list.members
                .extend(joined.as_ref().map(wire::ThreadMember::new));
        }
        Ok(list)
    }

    /// `GET /guilds/{g}/threads/active`.
    pub async fn active_threads(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<ThreadList> {
        let guild = self.guild_view(caller, guild_id).await?;
        let threads = self
            .visible_threads(&guild, |t| t.thread.as_ref().is_some_and(|s| !s.archived))
            .await?;
        self.thread_list(threads, None).await
    }

    /// The archived-thread lists of a channel, newest archived first,
    /// before `before` (an ISO 8601 time; for [`Archived::JoinedPrivate`]
    /// a thread id).
    pub async fn archived_threads(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        which: Archived,
        before: Option<&str>,
        limit: usize,
    ) -> ServiceResult<ThreadList> {
        let parent = self.channel_view(caller, channel_id).await?;
        let guild = parent.guild()?;
        let needed = match which {
            Archived::Private => Permissions::READ_MESSAGE_HISTORY | Permissions::MANAGE_THREADS,
            _ => Permissions::READ_MESSAGE_HISTORY,
        };
        parent.require(needed)?;
        let (before_ms, before_id) = match which {
            Archived::JoinedPrivate => {
                let id = before
                    .map(|b| {
                        b.parse::<Snowflake>().map_err(|_| {
                            ServiceError::InvalidForm(FormErrors::single(
                                "before",
                                "NUMBER_TYPE_COERCE",
                                format!("Value \"{b}\" is not snowflake."),
                            ))
                        })
                    })
                    .transpose()?;
                (None, id)
            }
            _ => (time_cursor(before)?, None),
        };
        let private = which != Archived::Public;
        let mut threads = self
            .visible_threads(guild, |t| {
                let Some(s) = &t.thread else { return false };
                s.archived
                    && t.parent_id == Some(channel_id)
                    && (t.kind == channel_type::PRIVATE_THREAD) == private
                    && before_ms.is_none_or(|b| s.archive_ms < b)
                    && before_id.is_none_or(|b| t.id < b)
            })
            .await?;
        if which == Archived::JoinedPrivate {
            threads.retain(|(_, joined)| joined.is_some());
            threads.sort_by_key(|(t, _)| std::cmp::Reverse(t.id));
        } else {
            threads
                .sort_by_key(|(t, _)| std::cmp::Reverse(t.thread.as_ref().map(|s| s.archive_ms)));
        }
        let has_more = threads.len() > limit;
        threads.truncate(limit);
        self.thread_list(threads, Some(has_more)).await
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
        let _serial = self.thread_lock.lock().await;
        let mut thread = self
            .store
            .channel(view.channel.id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
        let was = state(&thread)?.clone();
        if was.locked && !moderator && input.archived == Some(false) {
            return Err(ServiceError::Forbidden(codes::THREAD_LOCKED));
        }
        let mut errors = FormErrors::new();
        if let Some(name) = &input.name {
            let (min, max) = limits::CHANNEL_NAME;
            check_length(&mut errors, "name", name.trim(), min, max);
            thread.name = name.trim().to_owned();
        }
        if let Some(seconds) = input.rate_limit_per_user {
            check_slowmode(&mut errors, seconds);
            thread.rate_limit_per_user = seconds;
        }
        let now = now_ms();
        let s = state_mut(&mut thread)?;
        if let Some(minutes) = input.auto_archive_duration {
            check_duration(&mut errors, minutes);
            s.auto_archive_duration = minutes;
        }
        if let Some(locked) = input.locked {
            s.locked = locked;
        }
        if let Some(invitable) = input.invitable {
            s.invitable = invitable;
        }
        if let Some(archived) = input.archived
            && archived != s.archived
        {
            s.archived = archived;
            s.archive_ms = now;
            s.last_activity_ms = now;
        }
        errors.into_result()?;
        self.store.put_channel(&thread).await?;
        let out = self.channel_wire(&thread).await?;
        self.publish(EventKind::ThreadUpdate, thread_audience(&thread), &out);
        Ok(out)
    }

    /// `DELETE /channels/{t}` on a thread: MANAGE_THREADS.
    pub(crate) async fn delete_thread(&self, view: &ChannelView) -> ServiceResult<wire::Channel> {
        view.require(Permissions::MANAGE_THREADS)?;
        let out = self.channel_wire(&view.channel).await?;
        self.drop_thread(&view.channel).await?;
        Ok(out)
    }

    /// Removes a thread with its messages and members, and says so to
    /// those who see its parent.
    pub(crate) async fn drop_thread(&self, thread: &Channel) -> ServiceResult<()> {
        self.store.delete_channel(thread.id).await?;
        self.cache.forget(thread.id);
        if let (Some(guild_id), Some(parent)) = (thread.guild_id, thread.parent_id) {
            self.publish(
                EventKind::ThreadDelete,
                to_channel(guild_id, parent),
                deleted(thread),
            );
        }
        Ok(())
    }

    /// Before a message is sent to an archived thread: a locked one stays
    /// shut (but to moderators); any other wakes up.
    pub(crate) async fn reopen_for_message(&self, view: ChannelView) -> ServiceResult<ChannelView> {
        let Some(s) = view.channel.thread.as_ref().filter(|s| s.archived) else {
            return Ok(view);
        };
        if s.locked && !view.permissions.contains(Permissions::MANAGE_THREADS) {
            return Err(ServiceError::Forbidden(codes::THREAD_ARCHIVED));
        }
        let now = now_ms();
        let thread = {
            let _serial = self.thread_lock.lock().await;
            self.update_thread(view.channel.id, |t| {
                t.archived = false;
                t.archive_ms = now;
                t.last_activity_ms = now;
            })
            .await?
        };
        let out = self.channel_wire(&thread).await?;
        self.publish(EventKind::ThreadUpdate, thread_audience(&thread), out);
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
        let starter = message.id == view.channel.id;
        {
            let _serial = self.thread_lock.lock().await;
            self.update_thread(view.channel.id, |t| {
                if !starter {
                    t.message_count += 1;
                    t.total_message_sent += 1;
                }
                t.last_activity_ms = now_ms();
            })
            .await?;
        }
        self.add_to_thread(view, message.author_id).await
    }

    /// After messages are deleted from a thread.
    pub(crate) async fn thread_messages_deleted(
        &self,
        thread_id: Snowflake,
        count: usize,
    ) -> ServiceResult<()> {
        let _serial = self.thread_lock.lock().await;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        self.update_thread(thread_id, |t| {
            t.message_count = t.message_count.saturating_sub(count)
        })
        .await
        .map(drop)
    }

    /// Reads, changes and writes a thread's state; callers hold `thread_lock`.
    async fn update_thread(
        &self,
        thread_id: Snowflake,
        change: impl FnOnce(&mut ThreadState),
    ) -> ServiceResult<Channel> {
        let mut thread = self
            .store
            .channel(thread_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
        change(state_mut(&mut thread)?);
        self.store.put_channel(&thread).await?;
        Ok(thread)
    }

    /// Archives every active thread idle past its `auto_archive_duration`
    /// at `now`; returns how many. The server runs this every minute.
    pub async fn archive_idle_threads(&self, now: u64) -> ServiceResult<usize> {
        let mut archived = 0;
        let mut after = Snowflake(0);
        loop {
            let guilds = self.store.guilds_after(after, 100).await?;
            let Some(last) = guilds.last() else {
                return Ok(archived);
            };
            after = last.id;
            for guild in guilds {
                for thread in self.store.guild_threads(guild.id).await? {
                    let due = thread
                        .thread
                        .as_ref()
                        .is_some_and(|s| !s.archived && s.archive_due_ms() <= now);
                    if due {
                        self.archive_idle(thread.id, now).await?;
                        archived += 1;
                    }
                }
            }
        }
    }

    async fn archive_idle(&self, thread_id: Snowflake, now: u64) -> ServiceResult<()> {
        let thread = {
            let _serial = self.thread_lock.lock().await;
            self.update_thread(thread_id, |t| {
                // Re-checked under the lock: a message may just have arrived.
                if t.archive_due_ms() <= now {
                    t.archived = true;
                    t.archive_ms = now;
                }
            })
            .await?
        };
        if thread.thread.as_ref().is_some_and(|s| s.archived) {
            let out = self.channel_wire(&thread).await?;
            self.publish(EventKind::ThreadUpdate, thread_audience(&thread), out);
        }
        Ok(())
    }

    /// THREAD_LIST_SYNC for a channel whose viewers may have changed: its
    /// active threads, to everyone who now sees it.
    pub(crate) async fn sync_thread_list(&self, channel: &Channel) -> ServiceResult<()> {
        let Some(guild_id) = channel.guild_id else {
            return Ok(());
        };
        let mut threads = Vec::new();
        for t in self.store.guild_threads(guild_id).await? {
            let active = t.thread.as_ref().is_some_and(|s| !s.archived);
            if active && t.parent_id == Some(channel.id) && t.kind != channel_type::PRIVATE_THREAD {
                threads.push(self.channel_wire(&t).await?);
            }
        }
        if threads.is_empty() {
            return Ok(());
        }
        let data = serde_json::json!({
            "guild_id": guild_id,
            "channel_ids": [channel.id],
            "threads": threads,
            "members": [],
        });
        self.publish(
            EventKind::ThreadListSync,
            to_channel(guild_id, channel.id),
            data,
        );
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

    /// The member's permissions in `channel`; a thread's through its parent.
    pub(crate) async fn permissions_in(
        &self,
        ctx: &MemberContext<'_>,
        channel: &Channel,
    ) -> ServiceResult<Permissions> {
        if !channel.is_thread() {
            return Ok(ctx.in_channel(channel));
        }
        let parent = match channel.parent_id {
            Some(id) => self.store.channel(id).await?,
            None => None,
        };
        let Some(parent) = parent else {
            return Ok(Permissions::NONE);
        };
        let private = channel.kind == channel_type::PRIVATE_THREAD;
        let joined = private
            && self
                .store
                .thread_member(channel.id, ctx.member.user_id)
                .await?
                .is_some();
        Ok(ctx.in_thread(&parent, private, joined))
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

/// Archives idle threads once a minute, for as long as the service lives.
pub async fn auto_archive(service: std::sync::Weak<Service>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        match service.archive_idle_threads(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(threads = n, "archived idle threads"),
            Err(e) => tracing::warn!(error = %e, "auto-archiving threads failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use concord_bus::{EventBus, LocalBus};
    use concord_config::{Config, Settings};
    use concord_model::event::EventKind;
    use concord_model::records::{Guild, Member, Role, User};
    use concord_store::memory::MemoryStore;
    use concord_store::{DEFAULT_BUCKET_MS, GuildStore, NewGuild, UserStore};

    use super::*;
    use crate::ServiceConfig;

    const OWNER: Snowflake = Snowflake(10);
    const GUILD: Snowflake = Snowflake(1);
    const TEXT: Snowflake = Snowflake(2);

    async fn service() -> (Service, concord_bus::Subscription) {
        let store = Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS));
        store.create_user(&User::new(OWNER, "owner")).await.unwrap();
        let guild = NewGuild {
            guild: Guild::new(GUILD, "g", OWNER),
            roles: vec![Role::everyone(GUILD)],
            channels: vec![Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")],
            owner: Member::new(GUILD, OWNER, 0),
        };
        store.create_guild(&guild).await.unwrap();
        let bus = Arc::new(LocalBus::new(64));
        let events = bus.subscribe();
        let config = Config::from_settings(Settings::defaults()).unwrap();
        let config = ServiceConfig {
            worker_id: 0,
            process_id: 0,
            rate_limits: config.rate_limits,
            registration: config.registration,
            public_base: String::new(),
            attachment_max_bytes: config.attachment_max_bytes,
        };
        (Service::open(store, bus, config).await.unwrap(), events)
    }

    #[tokio::test]
    async fn idle_threads_archive_themselves_after_their_duration() {
        let (service, mut events) = service().await;
        let caller = Caller {
            id: OWNER,
            bot: false,
        };
        let input = StartThread {
            name: Some("idle".into()),
            kind: Some(channel_type::PUBLIC_THREAD),
            auto_archive_duration: Some(60),
            ..StartThread::default()
        };
        let started = service.start_thread(caller, TEXT, input).await.unwrap();
        let id: Snowflake = started["id"].as_str().unwrap().parse().unwrap();
        let thread = service.store.channel(id).await.unwrap().unwrap();
        let due = thread.thread.as_ref().unwrap().archive_due_ms();

        assert_eq!(service.archive_idle_threads(due - 1).await.unwrap(), 0);
        assert_eq!(service.archive_idle_threads(due).await.unwrap(), 1);
        let state = service
            .store
            .channel(id)
            .await
            .unwrap()
            .unwrap()
            .thread
            .unwrap();
        assert!(state.archived);
        assert_eq!(state.archive_ms, due);
        assert_eq!(
            service.archive_idle_threads(due + 1).await.unwrap(),
            0,
            "an archived thread is left alone"
        );

        let mut updates = Vec::new();
        while let Ok(event) = events.try_recv() {
            if event.kind == EventKind::ThreadUpdate {
                updates.push(serde_json::from_str::<serde_json::Value>(&event.data).unwrap());
            }
        }
        assert_eq!(updates.len(), 1, "one THREAD_UPDATE, for the archiving");
        assert_eq!(updates[0]["thread_metadata"]["archived"], true);
    }
}

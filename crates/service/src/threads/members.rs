//! Who follows a thread: joining, leaving, adding, removing, listing.

use concord_model::event::{Audience, EventKind};
use concord_model::records::{Channel, ThreadMember, channel_type};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, wire};

use super::{state, thread_audience};
use crate::{Caller, ChannelView, Service, ServiceError, ServiceResult};

impl Service {
    /// THREAD_MEMBERS_UPDATE (one member added or removed) to those who
    /// see the thread, and THREAD_MEMBER_UPDATE to one who joined.
    pub(super) async fn announce_members(
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
                Audience::Users(vec![added.user_id]),
                own,
            )
            .await;
        }
        if let Some(removed) = removed {
            data["removed_member_ids"] = serde_json::json!([removed]);
        }
        self.publish(
            EventKind::ThreadMembersUpdate,
            thread_audience(thread),
            data,
        )
        .await;
        Ok(())
    }

    /// `PUT /channels/{t}/thread-members/@me`.
    pub async fn join_thread(&self, caller: Caller, thread_id: Snowflake) -> ServiceResult<()> {
        let view = self.active_thread_view(caller, thread_id).await?;
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
        let view = self.active_thread_view(caller, thread_id).await?;
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

    pub(super) async fn add_to_thread(
        &self,
        view: &ChannelView,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let member = ThreadMember {
            thread_id: view.channel.id,
            user_id,
            join_ms: now_ms(),
            flags: 0,
        };
        // Added and counted as one store operation; nothing to say if they
        // already follow it (or it is gone).
        let Some(thread) = self.store.add_thread_member(&member).await? else {
            return Ok(());
        };
        let newcomer_was_blind = thread.kind == channel_type::PRIVATE_THREAD
            && view.member().is_none_or(|m| m.user_id != user_id);
        if newcomer_was_blind {
            // Someone added to a private thread learns of it now.
            let mut out =
                serde_json::to_value(wire::Channel::new(&thread, None)).unwrap_or_default();
            out["member"] =
                serde_json::to_value(wire::ThreadMember::new(&member)).unwrap_or_default();
            self.publish(EventKind::ThreadCreate, Audience::Users(vec![user_id]), out)
                .await;
        }
        self.announce_members(&thread, Some(&member), None).await
    }

    /// `DELETE /channels/{t}/thread-members/@me`.
    pub async fn leave_thread(&self, caller: Caller, thread_id: Snowflake) -> ServiceResult<()> {
        let view = self.active_thread_view(caller, thread_id).await?;
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
        let view = self.active_thread_view(caller, thread_id).await?;
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
        if self.drop_follower(view.channel.id, user_id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(codes::UNKNOWN_MEMBER))
        }
    }

    /// Removes one member from a thread and says so; false if they were none.
    async fn drop_follower(&self, thread_id: Snowflake, user_id: Snowflake) -> ServiceResult<bool> {
        let Some(thread) = self.store.remove_thread_member(thread_id, user_id).await? else {
            return Ok(false);
        };
        self.announce_members(&thread, None, Some(user_id)).await?;
        Ok(true)
    }

    /// Someone who leaves a guild (or is kicked or banned) leaves its
    /// threads too, so coming back does not reopen private ones.
    pub(crate) async fn leave_guild_threads(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        for thread in self.store.guild_threads(guild_id).await? {
            self.drop_follower(thread.id, user_id).await?;
        }
        Ok(())
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
        let mut out: Vec<wire::ThreadMember> =
            members.iter().map(wire::ThreadMember::new).collect();
        if !with_member {
            return Ok(out);
        }
        let ids: Vec<Snowflake> = members.iter().map(|m| m.user_id).collect();
        let guild_members = self.store.members_by_ids(guild_id, &ids).await?;
        let mut rendered: std::collections::HashMap<Snowflake, wire::Member> = self
            .members_wire(&guild_members)
            .await?
            .into_iter()
            .zip(&guild_members)
            .map(|(wire, m)| (m.user_id, wire))
            .collect();
        for (entry, m) in out.iter_mut().zip(members) {
            entry.member = rendered.remove(&m.user_id);
        }
        Ok(out)
    }
}

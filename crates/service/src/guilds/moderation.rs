//! Guild moderation: kicks and bans. Both respect the role hierarchy:
//! nobody acts on a member at or above their own highest role; the owner
//! is exempt.

use concord_model::event::{Audience, EventKind};
use concord_model::records::Ban;
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use serde_json::json;

use super::audit::{Details, action, current_reason};
use super::input::CreateBan;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

/// The most history a ban may delete: 7 days.
const MAX_BAN_DELETE_SECONDS: u64 = 604_800;

impl Service {
    /// Removes a member below the caller (KICK_MEMBERS).
    pub async fn kick(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::KICK_MEMBERS)?;
        let member = self.member_record(guild_id, user_id).await?;
        view.require_above(&member)?;
        self.remove_member(guild_id, user_id).await?;
        self.audit(guild_id, caller, action::MEMBER_KICK, Details::on(user_id))
            .await
    }

    /// Bans a user (a member below the caller, or anyone not in the guild),
    /// removing them and up to a week of their messages.
    pub async fn ban(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
        input: CreateBan,
    ) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::BAN_MEMBERS)?;
        let user = self.user_wire_known(user_id).await?;
        let member = self.store.member(guild_id, user_id).await?;
        if let Some(member) = &member {
            view.require_above(member)?;
        }
        let seconds = input
            .delete_message_seconds
            .or(input.delete_message_days.map(|d| d * 86_400))
            .unwrap_or(0);
        if seconds > MAX_BAN_DELETE_SECONDS {
            return FormErrors::single(
                "delete_message_seconds",
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 604800.",
            )
            .into_result();
        }
        let ban = Ban {
            guild_id,
            user_id,
            reason: current_reason(),
            created_ms: now_ms(),
        };
        self.store.put_ban(&ban).await?;
        if member.is_some() {
            self.remove_member(guild_id, user_id).await?;
        }
        self.publish(
            EventKind::GuildBanAdd,
            to_ban_managers(guild_id),
            json!({ "guild_id": guild_id, "user": user }),
        )
        .await;
        if seconds > 0 {
            self.delete_recent_messages(guild_id, user_id, seconds)
                .await?;
        }
        self.audit(
            guild_id,
            caller,
            action::MEMBER_BAN_ADD,
            Details::on(user_id),
        )
        .await
    }

    /// Deletes what `user_id` wrote in the guild in the last `seconds`.
    async fn delete_recent_messages(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        seconds: u64,
    ) -> ServiceResult<()> {
        let since = Snowflake::from_timestamp_ms(now_ms().saturating_sub(seconds * 1000));
        let mut channels = self.store.guild_channels(guild_id).await?;
        channels.extend(self.store.guild_threads(guild_id).await?);
        for channel in channels {
            let mut after = since;
            let mut doomed = Vec::new();
            loop {
                let page = self.store.messages_after(channel.id, after, 100).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                doomed.extend(page.iter().filter(|m| m.author_id == user_id).map(|m| m.id));
            }
            for chunk in doomed.chunks(limits::BULK_DELETE_MAX) {
                let deleted: Vec<Snowflake> = self
                    .store
                    .delete_messages(channel.id, chunk)
                    .await?
                    .iter()
                    .map(|m| m.id)
                    .collect();
                self.messages.cache.deleted(channel.id, &deleted).await;
                if channel.is_thread() {
                    self.thread_messages_deleted(channel.id, deleted.len())
                        .await?;
                }
                let data =
                    json!({ "ids": deleted, "channel_id": channel.id, "guild_id": guild_id });
                self.publish(
                    EventKind::MessageDeleteBulk,
                    crate::to_channel(guild_id, channel.id),
                    data,
                )
                .await;
            }
        }
        Ok(())
    }

    pub async fn unban(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::BAN_MEMBERS)?;
        self.store
            .ban(guild_id, user_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_BAN))?;
        self.store.delete_ban(guild_id, user_id).await?;
        let user = self.user_wire(user_id).await?;
        self.publish(
            EventKind::GuildBanRemove,
            to_ban_managers(guild_id),
            json!({ "guild_id": guild_id, "user": user }),
        )
        .await;
        self.audit(
            guild_id,
            caller,
            action::MEMBER_BAN_REMOVE,
            Details::on(user_id),
        )
        .await
    }

    async fn ban_wire(&self, ban: &Ban) -> ServiceResult<serde_json::Value> {
        Ok(json!({ "reason": ban.reason, "user": self.user_wire(ban.user_id).await? }))
    }

    pub async fn bans(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Vec<serde_json::Value>> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::BAN_MEMBERS)?;
        let bans = self.store.bans(guild_id, after, limit).await?;
        let ids: Vec<Snowflake> = bans.iter().map(|b| b.user_id).collect();
        let users = self.users_wire(&ids).await?;
        Ok(bans
            .iter()
            .map(|ban| json!({ "reason": ban.reason, "user": users.get(&ban.user_id) }))
            .collect())
    }

    pub async fn get_ban(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<serde_json::Value> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::BAN_MEMBERS)?;
        let ban = self
            .store
            .ban(guild_id, user_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_BAN))?;
        self.ban_wire(&ban).await
    }

    /// The user behind an id, or 10013 if there is none.
    async fn user_wire_known(&self, id: Snowflake) -> ServiceResult<wire::User> {
        Ok(wire::User::from(&self.user_record(id).await?))
    }

    /// 40007 if the user is banned from the guild.
    pub(crate) async fn refuse_banned(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        match self.store.ban(guild_id, user_id).await? {
            Some(_) => Err(ServiceError::Forbidden(codes::BANNED)),
            None => Ok(()),
        }
    }
}

/// GUILD_BAN_* go only to members who may ban.
fn to_ban_managers(guild_id: Snowflake) -> Audience {
    Audience::Guild {
        guild_id,
        channel_id: None,
        required: Permissions::BAN_MEMBERS,
    }
}

//! Guild moderation: editing and deleting roles, editing members, kicks
//! and bans. Every action respects the role hierarchy: nobody acts on a
//! role or member at or above their own highest role; the owner is exempt.

use concord_model::event::{Audience, EventKind};
use concord_model::records::{Ban, Member};
use concord_model::snowflake::now_ms;
use concord_model::timestamp::parse_iso8601;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use serde_json::json;

use crate::audit::{Details, action, change, current_reason};
use crate::error::check_length;
use crate::input::{CreateBan, PatchMember, PatchNick, RoleInput};
use crate::{Caller, FormErrors, GuildView, Service, ServiceError, ServiceResult, to_guild};

/// The longest timeout Discord allows: 28 days.
const MAX_TIMEOUT_MS: u64 = 28 * 24 * 60 * 60 * 1000;
/// The most history a ban may delete: 7 days.
const MAX_BAN_DELETE_SECONDS: u64 = 604_800;

impl Service {
    async fn member_record(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<Member> {
        self.store
            .member(guild_id, user_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MEMBER))
    }

    /// Saves a member and tells the guild.
    pub(crate) async fn save_member(&self, member: &Member) -> ServiceResult<wire::Member> {
        self.store.put_member(member).await?;
        let out = self.member_wire(member).await?;
        let mut event =
            serde_json::to_value(&out).map_err(|e| ServiceError::Internal(e.to_string()))?;
        event["guild_id"] = member.guild_id.to_string().into();
        self.publish(
            EventKind::GuildMemberUpdate,
            to_guild(member.guild_id),
            event,
        )
        .await;
        Ok(out)
    }

    /// Edits a role below the caller's highest, granting only bits the caller holds.
    pub async fn edit_role(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        role_id: Snowflake,
        input: RoleInput,
    ) -> ServiceResult<wire::Role> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_ROLES)?;
        let mut role = view
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .cloned()
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_ROLE))?;
        if !view.is_owner() && role.position >= view.rank() {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        let mut errors = FormErrors::new();
        if let Some(name) = input.name {
            check_length(&mut errors, "name", &name, 1, limits::ROLE_NAME_MAX);
            role.name = name;
        }
        if let Some(permissions) = input.permissions {
            // Only what is added must be held: a role may keep bits its
            // editor lacks, and losing bits grants nothing.
            if !view.base().contains(permissions.remove(role.permissions)) {
                return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
            }
            role.permissions = permissions;
        }
        role.color = input.color.unwrap_or(role.color);
        role.hoist = input.hoist.unwrap_or(role.hoist);
        role.mentionable = input.mentionable.unwrap_or(role.mentionable);
        errors.into_result()?;
        self.store.put_role(&role).await?;
        let out = wire::Role::from(&role);
        self.publish(
            EventKind::GuildRoleUpdate,
            to_guild(guild_id),
            json!({ "guild_id": guild_id, "role": &out }),
        )
        .await;
        self.audit(guild_id, caller, action::ROLE_UPDATE, Details::on(role_id))
            .await?;
        Ok(out)
    }

    /// Deletes a role (never @everyone) and takes it from every member.
    pub async fn delete_role(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        role_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_ROLES)?;
        let role = view
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_ROLE))?;
        if role_id == guild_id {
            return Err(ServiceError::BadRequest(codes::INVALID_ROLE));
        }
        if !view.is_owner() && role.position >= view.rank() {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        self.store.delete_role(guild_id, role_id).await?;
        let mut after = Snowflake(0);
        loop {
            let page = self.store.members(guild_id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.user_id;
            for mut member in page.into_iter().filter(|m| m.roles.contains(&role_id)) {
                member.roles.retain(|r| *r != role_id);
                self.store.put_member(&member).await?;
            }
        }
        self.publish(
            EventKind::GuildRoleDelete,
            to_guild(guild_id),
            json!({ "guild_id": guild_id, "role_id": role_id }),
        )
        .await;
        self.audit(guild_id, caller, action::ROLE_DELETE, Details::on(role_id))
            .await
    }

    /// Nick (MANAGE_NICKNAMES), roles (MANAGE_ROLES, each below the caller),
    /// mute and deafen, and timeouts (MODERATE_MEMBERS), on a member below the caller.
    pub async fn edit_member(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
        input: PatchMember,
    ) -> ServiceResult<wire::Member> {
        let view = self.guild_view(caller, guild_id).await?;
        let mut member = self.member_record(guild_id, user_id).await?;
        let before = member.clone();
        let mut errors = FormErrors::new();
        if let Some(nick) = input.nick {
            if user_id == caller.id {
                view.require(Permissions::CHANGE_NICKNAME)?;
            } else {
                view.require(Permissions::MANAGE_NICKNAMES)?;
                view.require_above(&member)?;
            }
            if let Some(n) = &nick {
                check_length(&mut errors, "nick", n, 1, 32);
            }
            member.nick = nick.filter(|n| !n.is_empty());
        }
        if let Some(roles) = input.roles {
            view.require(Permissions::MANAGE_ROLES)?;
            let changed = roles
                .iter()
                .filter(|r| !member.roles.contains(r))
                .chain(member.roles.iter().filter(|r| !roles.contains(r)));
            for role_id in changed {
                let role = view
                    .roles
                    .iter()
                    .find(|r| r.id == *role_id && r.id != guild_id);
                let Some(role) = role else {
                    errors.add(
                        "roles",
                        "ROLE_INVALID",
                        format!("Role {role_id} is not in this guild."),
                    );
                    continue;
                };
                if !view.may_assign(role) {
                    return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
                }
            }
            member.roles = roles;
            member.roles.dedup();
        }
        for (value, bit, slot) in [
            (input.mute, Permissions::MUTE_MEMBERS, &mut member.mute),
            (input.deaf, Permissions::DEAFEN_MEMBERS, &mut member.deaf),
        ] {
            if let Some(value) = value {
                view.require(bit)?;
                *slot = value;
            }
        }
        if let Some(until) = input.communication_disabled_until {
            view.require(Permissions::MODERATE_MEMBERS)?;
            view.require_above(&member)?;
            let target = member.clone();
            let admin = {
                let ctx = GuildView {
                    member: target,
                    ..view.clone()
                };
                ctx.base().contains(Permissions::ADMINISTRATOR)
            };
            if admin {
                return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
            }
            member.communication_disabled_until_ms = match until.as_deref().map(parse_iso8601) {
                None => None,
                Some(Some(ms)) if ms <= now_ms() + MAX_TIMEOUT_MS => Some(ms),
                Some(_) => {
                    errors.add(
                        "communication_disabled_until",
                        "DATE_INVALID",
                        "Must be a time within 28 days.",
                    );
                    None
                }
            };
        }
        errors.into_result()?;
        let out = self.save_member(&member).await?;
        if before.roles != member.roles {
            self.sync_threads_for(guild_id, user_id).await?;
        }
        let mut details = Details::on(user_id);
        let kind = if before.roles != member.roles {
            action::MEMBER_ROLE_UPDATE
        } else {
            action::MEMBER_UPDATE
        };
        if before.nick != member.nick {
            details
                .changes
                .push(change("nick", &before.nick, &member.nick));
        }
        self.audit(guild_id, caller, kind, details).await?;
        Ok(out)
    }

    /// The caller's own nickname (CHANGE_NICKNAME).
    pub async fn edit_own_nick(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        input: PatchNick,
    ) -> ServiceResult<wire::Member> {
        let patch = PatchMember {
            nick: input.nick,
            ..PatchMember::default()
        };
        self.edit_member(caller, guild_id, caller.id, patch).await
    }

    /// Members whose username, display name or nick starts with `query`.
    pub async fn search_members(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        query: &str,
        limit: usize,
    ) -> ServiceResult<Vec<wire::Member>> {
        self.guild_view(caller, guild_id).await?;
        self.request_members(caller, guild_id, Some(query), limit, &[])
            .await
    }

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
                self.cache.deleted(channel.id, &deleted).await;
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

//! A guild's members: listing and searching them, joining and leaving,
//! and editing one (nick, roles, mute and deafen, timeouts), each below
//! the editor in the role hierarchy.

use concord_model::event::{Audience, EventKind};
use concord_model::records::Member;
use concord_model::snowflake::now_ms;
use concord_model::timestamp::parse_iso8601;
use concord_model::{Permissions, Snowflake, codes, wire};

use super::audit::{Details, action, change};
use super::input::{PatchMember, PatchNick};
use concord_store::name_key;

use crate::error::check_length;
use crate::{Caller, FormErrors, GuildView, Service, ServiceError, ServiceResult, to_guild};

/// The longest timeout Discord allows: 28 days.
const MAX_TIMEOUT_MS: u64 = 28 * 24 * 60 * 60 * 1000;

impl Service {
    pub async fn members(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Vec<wire::Member>> {
        self.guild_view(caller, guild_id).await?;
        let members = self.store.members(guild_id, after, limit).await?;
        self.members_wire(&members).await
    }

    pub async fn member(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<wire::Member> {
        self.guild_view(caller, guild_id).await?;
        let member = self
            .store
            .member(guild_id, user_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MEMBER))?;
        self.member_wire(&member).await
    }
    pub(crate) async fn member_record(
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
        // Only a move or disconnect leaves the member record alone.
        let edits_member = input.nick.is_some()
            || input.roles.is_some()
            || input.mute.is_some()
            || input.deaf.is_some()
            || input.communication_disabled_until.is_some();
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
        let voice = self
            .plan_voice_edit(&view, &before, (input.mute, input.deaf), input.channel_id)
            .await?;
        if !edits_member {
            let out = self.member_wire(&member).await?;
            if let Some(edit) = voice {
                self.apply_voice_edit(caller, &member, edit).await?;
            }
            return Ok(out);
        }
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
        for (key, old, new) in [
            ("mute", before.mute, member.mute),
            ("deaf", before.deaf, member.deaf),
        ] {
            if old != new {
                details.changes.push(change(key, old, new));
            }
        }
        self.audit(guild_id, caller, kind, details).await?;
        if let Some(edit) = voice {
            self.apply_voice_edit(caller, &member, edit).await?;
        }
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
    /// Stores a new member, tells the guild, and gives the member the guild.
    pub(crate) async fn add_member(&self, member: &Member) -> ServiceResult<()> {
        self.store.put_member(member).await?;
        let mut added = serde_json::to_value(self.member_wire(member).await?)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        added["guild_id"] = member.guild_id.to_string().into();
        self.publish(EventKind::GuildMemberAdd, to_guild(member.guild_id), added)
            .await;
        if let Some(full) = self
            .guild_create(member.guild_id, member.user_id, 250, true)
            .await?
        {
            self.publish(
                EventKind::GuildCreate,
                Audience::Users(vec![member.user_id]),
                full,
            )
            .await;
        }
        Ok(())
    }
    /// Leaves a guild; the owner cannot.
    pub async fn leave_guild(&self, caller: Caller, guild_id: Snowflake) -> ServiceResult<()> {
        let view = match self.guild_view(caller, guild_id).await {
            Err(ServiceError::Forbidden(_)) => {
                return Err(ServiceError::NotFound(codes::UNKNOWN_GUILD));
            }
            other => other?,
        };
        if view.is_owner() {
            return Err(ServiceError::BadRequest(codes::INVALID_GUILD));
        }
        self.remove_member(guild_id, caller.id).await
    }

    /// Removes a member and tells the guild and the member.
    pub(crate) async fn remove_member(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        self.store.delete_member(guild_id, user_id).await?;
        self.disconnect(guild_id, user_id, None).await;
        self.leave_guild_threads(guild_id, user_id).await?;
        let user = self.user_wire(user_id).await?;
        let removed = serde_json::json!({ "guild_id": guild_id, "user": user });
        self.publish(EventKind::GuildMemberRemove, to_guild(guild_id), removed)
            .await;
        let gone = serde_json::json!({ "id": guild_id });
        self.publish(EventKind::GuildDelete, Audience::Users(vec![user_id]), gone)
            .await;
        Ok(())
    }
    /// Members for a gateway member request: by ids, or by name prefix
    /// (an empty prefix is everyone, up to `limit`, 0 meaning no limit).
    pub async fn request_members(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        query: Option<&str>,
        limit: usize,
        user_ids: &[Snowflake],
    ) -> ServiceResult<Vec<wire::Member>> {
        if self.store.member(guild_id, caller.id).await?.is_none() {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        if !user_ids.is_empty() {
            let asked = &user_ids[..user_ids.len().min(100)];
            let members = self.store.members_by_ids(guild_id, asked).await?;
            return self.members_wire(&members).await;
        }
        let limit = if limit == 0 { usize::MAX } else { limit };
        let prefix = name_key(query.unwrap_or(""));
        if !prefix.is_empty() {
            // From the store's name index: as costly as the names that
            // match, however large the guild.
            let members = self.store.members_by_name(guild_id, &prefix, limit).await?;
            return self.members_wire(&members).await;
        }
        let mut out = Vec::new();
        let mut after = Snowflake(0);
        while out.len() < limit {
            let page = self.store.members(guild_id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.user_id;
            let wanted = (limit - out.len()).min(page.len());
            out.extend(self.members_wire(&page[..wanted]).await?);
        }
        Ok(out)
    }
}

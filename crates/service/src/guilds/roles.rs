//! A guild's roles: listing, creating, editing and deleting them, and
//! giving or taking one. A role edit may add only bits its editor holds,
//! and nobody acts on a role at or above their own highest.

use concord_model::event::EventKind;
use concord_model::records::Role;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use serde_json::json;

use super::audit::{Details, action, change};
use super::input::RoleInput;
use crate::access::permissions::Rank;
use crate::error::{check_length, check_range};
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult, to_guild};

impl Service {
    pub async fn roles(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Role>> {
        let view = self.guild_view(caller, guild_id).await?;
        Ok(view.roles.iter().map(wire::Role::from).collect())
    }

    /// A new role below every other: MANAGE_ROLES, and only bits the caller holds.
    pub async fn create_role(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        input: RoleInput,
    ) -> ServiceResult<wire::Role> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_ROLES)?;
        if view.roles.len() >= limits::ROLES_PER_GUILD {
            return Err(ServiceError::LimitReached(codes::MAX_ROLES));
        }
        let permissions = input.permissions.unwrap_or(Permissions::NONE);
        if !view.base().contains(permissions) {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        let name = input.name.unwrap_or_else(|| "new role".into());
        let mut errors = FormErrors::new();
        check_length(&mut errors, "name", &name, 1, limits::ROLE_NAME_MAX);
        check_color(&mut errors, input.color);
        errors.into_result()?;
        let role = Role {
            id: self.next_id(),
            guild_id,
            name,
            permissions,
            position: 1,
            color: input.color.unwrap_or(0),
            hoist: input.hoist.unwrap_or(false),
            mentionable: input.mentionable.unwrap_or(false),
            bot_id: None,
        };
        self.store.put_role(&role).await?;
        let out = wire::Role::from(&role);
        self.publish(
            EventKind::GuildRoleCreate,
            to_guild(guild_id),
            serde_json::json!({ "guild_id": guild_id, "role": &out }),
        )
        .await;
        let mut details = Details::on(role.id);
        details.changes.push(change("name", None::<()>, &role.name));
        self.audit(guild_id, caller, action::ROLE_CREATE, details)
            .await?;
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
        if !view.is_owner() && Rank::of(&role) >= view.rank() {
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
        check_color(&mut errors, input.color);
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
        if !view.is_owner() && Rank::of(role) >= view.rank() {
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
    /// Gives or takes a role: MANAGE_ROLES and [`crate::GuildView::may_assign`].
    pub async fn set_member_role(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        user_id: Snowflake,
        role_id: Snowflake,
        give: bool,
    ) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_ROLES)?;
        let role = view
            .roles
            .iter()
            .find(|r| r.id == role_id && r.id != guild_id)
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_ROLE))?;
        if !view.may_assign(role) {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        let mut member = self
            .store
            .member(guild_id, user_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MEMBER))?;
        let had = member.roles.contains(&role_id);
        if had == give {
            return Ok(());
        }
        if give {
            member.roles.push(role_id);
        } else {
            member.roles.retain(|r| *r != role_id);
        }
        self.save_member(&member).await?;
        self.sync_threads_for(guild_id, user_id).await?;
        let key = if give { "$add" } else { "$remove" };
        let role = serde_json::json!([{ "id": role_id, "name": role.name }]);
        let mut details = Details::on(user_id);
        details
            .changes
            .push(serde_json::json!({ "key": key, "new_value": role }));
        self.audit(guild_id, caller, action::MEMBER_ROLE_UPDATE, details)
            .await
    }
}

/// A role's color is an RGB value: at most 0xFFFFFF.
fn check_color(errors: &mut FormErrors, color: Option<u32>) {
    if let Some(color) = color {
        check_range(errors, "color", i64::from(color), 0, 0xFF_FFFF);
    }
}

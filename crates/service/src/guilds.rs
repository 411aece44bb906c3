//! Guilds, their members and roles.

use concord_model::event::EventKind;
use concord_model::records::{Channel, Guild, Member, Role, channel_type};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use concord_store::NewGuild;

use crate::audit::{Details, action, change};
use crate::error::check_length;
use crate::input::{CreateGuild, PatchGuild, RoleInput};
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult, to_guild};

/// How many guilds a user may own or join.
const GUILDS_PER_USER: usize = 200;

fn new_channel(
    id: Snowflake,
    guild_id: Snowflake,
    kind: u8,
    name: &str,
    parent: Option<Snowflake>,
) -> Channel {
    Channel {
        parent_id: parent,
        ..Channel::new(id, kind, guild_id, name)
    }
}

impl Service {
    /// A new guild with `@everyone`, a "Text Channels" category and `#general`.
    pub async fn create_guild(
        &self,
        caller: Caller,
        input: CreateGuild,
    ) -> ServiceResult<wire::GuildCreate> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let mut errors = FormErrors::new();
        let (min, max) = limits::GUILD_NAME;
        check_length(&mut errors, "name", input.name.trim(), min, max);
        errors.into_result()?;
        if self.store.user_guild_ids(caller.id).await?.len() >= GUILDS_PER_USER {
            return Err(ServiceError::LimitReached(codes::MAX_GUILDS));
        }
        let id = self.next_id();
        let category = self.next_id();
        let general = self.next_id();
        let new = NewGuild {
            guild: Guild {
                icon: input.icon,
                system_channel_id: Some(general),
                ..Guild::new(id, input.name.trim(), caller.id)
            },
            roles: vec![Role::everyone(id)],
            channels: vec![
                new_channel(
                    category,
                    id,
                    channel_type::GUILD_CATEGORY,
                    "Text Channels",
                    None,
                ),
                new_channel(
                    general,
                    id,
                    channel_type::GUILD_TEXT,
                    "general",
                    Some(category),
                ),
            ],
            owner: Member::new(id, caller.id, now_ms()),
        };
        self.store.create_guild(&new).await?;
        let full = self
            .guild_create(id, caller.id, 250, true)
            .await?
            .ok_or_else(|| ServiceError::Internal("guild vanished after create".into()))?;
        self.publish(
            EventKind::GuildCreate,
            concord_model::event::Audience::Users(vec![caller.id]),
            &full,
        )
        .await;
        Ok(full)
    }

    pub async fn guild(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        with_counts: bool,
    ) -> ServiceResult<wire::Guild> {
        let view = self.guild_view(caller, guild_id).await?;
        let mut guild = wire::Guild::new(&view.guild, &view.roles);
        guild.emojis = self.emoji_list(guild_id).await?;
        if with_counts {
            guild.approximate_member_count = Some(self.store.member_count(guild_id).await?);
        }
        Ok(guild)
    }

    pub async fn patch_guild(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        input: PatchGuild,
    ) -> ServiceResult<wire::Guild> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_GUILD)?;
        let mut guild = view.guild.clone();
        let mut errors = FormErrors::new();
        if let Some(owner) = input.owner_id {
            if !view.is_owner() {
                return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
            }
            if self.store.member(guild_id, owner).await?.is_none() {
                errors.add(
                    "owner_id",
                    "GUILD_OWNER_INVALID",
                    "The new owner must be a member.",
                );
            }
            guild.owner_id = owner;
        }
        if let Some(name) = input.name {
            let (min, max) = limits::GUILD_NAME;
            check_length(&mut errors, "name", name.trim(), min, max);
            guild.name = name.trim().to_owned();
        }
        if let Some(description) = input.description {
            guild.description = description;
        }
        if let Some(icon) = input.icon {
            guild.icon = icon;
        }
        if let Some(system_channel) = input.system_channel_id {
            if let Some(id) = system_channel {
                let found = self.store.channel(id).await?;
                if found.is_none_or(|c| c.guild_id != Some(guild_id)) {
                    errors.add("system_channel_id", "CHANNEL_INVALID", "Invalid channel");
                }
            }
            guild.system_channel_id = system_channel;
        }
        for (path, value, slot) in [
            (
                "verification_level",
                input.verification_level,
                &mut guild.verification_level,
            ),
            (
                "default_message_notifications",
                input.default_message_notifications,
                &mut guild.default_message_notifications,
            ),
            (
                "explicit_content_filter",
                input.explicit_content_filter,
                &mut guild.explicit_content_filter,
            ),
        ] {
            if let Some(v) = value {
                if v > 4 {
                    errors.add(
                        path,
                        "BASE_TYPE_CHOICES",
                        "Value must be one of the allowed choices.",
                    );
                }
                *slot = v;
            }
        }
        errors.into_result()?;
        self.store.update_guild(&guild).await?;
        let out = wire::Guild::new(&guild, &view.roles);
        self.publish(EventKind::GuildUpdate, to_guild(guild_id), &out)
            .await;
        self.audit(
            guild_id,
            caller,
            action::GUILD_UPDATE,
            Details::on(guild_id),
        )
        .await?;
        Ok(out)
    }

    /// Only the owner may delete a guild.
    pub async fn delete_guild(&self, caller: Caller, guild_id: Snowflake) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        if !view.is_owner() {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        self.remove_guild(guild_id).await
    }

    /// Deletes the guild with everything in it and tells its members.
    pub(crate) async fn remove_guild(&self, guild_id: Snowflake) -> ServiceResult<()> {
        for channel in self.store.guild_channels(guild_id).await? {
            self.cache.forget(channel.id);
        }
        self.store.delete_guild(guild_id).await?;
        self.sweep_blobs().await?;
        self.publish(
            EventKind::GuildDelete,
            to_guild(guild_id),
            serde_json::json!({ "id": guild_id }),
        )
        .await;
        Ok(())
    }

    /// The guilds of the caller, by id, with the caller's permissions in each.
    pub async fn my_guilds(
        &self,
        caller: Caller,
        before: Option<Snowflake>,
        after: Option<Snowflake>,
        limit: usize,
    ) -> ServiceResult<Vec<wire::PartialGuild>> {
        let ids = self.store.user_guild_ids(caller.id).await?;
        let mut out = Vec::new();
        let wanted = ids
            .into_iter()
            .filter(|id| before.is_none_or(|b| *id < b) && after.is_none_or(|a| *id > a));
        for id in wanted.take(limit) {
            let Ok(view) = self.guild_view(caller, id).await else {
                continue;
            };
            out.push(wire::PartialGuild {
                id,
                name: view.guild.name.clone(),
                icon: view.guild.icon.clone(),
                banner: None,
                owner: view.is_owner(),
                permissions: view.base(),
                features: vec![],
            });
        }
        Ok(out)
    }

    pub async fn members(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Vec<wire::Member>> {
        self.guild_view(caller, guild_id).await?;
        let mut out = Vec::new();
        for m in self.store.members(guild_id, after, limit).await? {
            out.push(self.member_wire(&m).await?);
        }
        Ok(out)
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

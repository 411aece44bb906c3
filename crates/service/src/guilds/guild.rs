//! A guild itself: creating, reading, editing and deleting it, and the
//! guilds of a user.

use concord_model::event::EventKind;
use concord_model::records::{Channel, Guild, Member, Role, channel_type};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use concord_store::NewGuild;

use super::audit::{Details, action, change};
use super::input::{CreateGuild, PatchGuild};
use crate::attachments::images::image_edit;
use crate::error::check_length;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult, to_guild};

/// How many guilds a user may own or join.
pub(crate) const GUILDS_PER_USER: usize = 200;

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
        let icon = image_edit("icon", input.icon.map(Some), &mut errors);
        errors.into_result()?;
        if self.store.user_guild_ids(caller.id).await?.len() >= GUILDS_PER_USER {
            return Err(ServiceError::LimitReached(codes::MAX_GUILDS));
        }
        let icon = self.stage_image(icon).await?;
        let id = self.next_id();
        let category = self.next_id();
        let general = self.next_id();
        let mut guild = Guild {
            system_channel_id: Some(general),
            ..Guild::new(id, input.name.trim(), caller.id)
        };
        if let Some(staged) = &icon {
            staged.apply(&mut guild.icon, &mut guild.icon_blob);
        }
        let new = NewGuild {
            guild,
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
        self.settle_image(icon, None).await?;
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
            if let Some(text) = &description {
                check_length(
                    &mut errors,
                    "description",
                    text,
                    0,
                    limits::GUILD_DESCRIPTION_MAX,
                );
            }
            guild.description = description;
        }
        let icon = image_edit("icon", input.icon, &mut errors);
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
        let icon = self.stage_image(icon).await?;
        if let Some(staged) = &icon {
            staged.apply(&mut guild.icon, &mut guild.icon_blob);
        }
        self.store.update_guild(&guild).await?;
        self.settle_image(icon, view.guild.icon_blob.as_deref())
            .await?;
        let out = wire::Guild::new(&guild, &view.roles);
        self.publish(EventKind::GuildUpdate, to_guild(guild_id), &out)
            .await;
        let mut details = Details::on(guild_id);
        if guild.icon != view.guild.icon {
            let icon = change("icon_hash", &view.guild.icon, &guild.icon);
            details.changes.push(icon);
        }
        self.audit(guild_id, caller, action::GUILD_UPDATE, details)
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
            self.messages.cache.forget(channel.id);
        }
        self.store.delete_guild(guild_id).await?;
        self.purge_soon();
        self.disconnect_guild(guild_id).await;
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
}

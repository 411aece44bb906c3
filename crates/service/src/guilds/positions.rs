//! Reordering roles and channels in bulk, as Discord's clients drag them.

use concord_model::event::EventKind;
use concord_model::records::channel_type;
use concord_model::{Permissions, Snowflake, codes, wire};

use super::input::Position;
use crate::access::permissions::Rank;
use crate::error::check_position;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult, to_guild};

impl Service {
    /// Moves roles below the caller's highest, never to or above it; returns every role.
    pub async fn reorder_roles(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        moves: Vec<Position>,
    ) -> ServiceResult<Vec<wire::Role>> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_ROLES)?;
        let mut roles = view.roles.clone();
        for (i, entry) in moves.iter().enumerate() {
            let Some(role) = roles
                .iter_mut()
                .find(|r| r.id == entry.id && r.id != guild_id)
            else {
                let unknown =
                    FormErrors::single(&format!("{i}.id"), "ROLE_INVALID", "Unknown role.");
                return Err(ServiceError::InvalidForm(unknown));
            };
            let Some(Some(position)) = entry.position else {
                continue;
            };
            let mut errors = FormErrors::new();
            check_position(&mut errors, &format!("{i}.position"), position);
            errors.into_result()?;
            let allowed = view.is_owner()
                || (Rank::of(role) < view.rank() && Rank::at(role, position) < view.rank());
            if !allowed || position < 1 {
                return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
            }
            if role.position != position {
                role.position = position;
                self.store.put_role(role).await?;
                let out = wire::Role::from(&*role);
                self.publish(
                    EventKind::GuildRoleUpdate,
                    to_guild(guild_id),
                    serde_json::json!({ "guild_id": guild_id, "role": out }),
                )
                .await;
            }
        }
        Ok(roles.iter().map(wire::Role::from).collect())
    }

    /// Moves channels (and their parents); `lock_permissions` copies the new
    /// parent's overwrites. A channel or category the caller cannot see is
    /// unknown to them, and syncing overwrites passes the same rule as
    /// editing them ([`crate::GuildView::authorize_overwrites`]).
    pub async fn reorder_channels(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        moves: Vec<Position>,
    ) -> ServiceResult<()> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_CHANNELS)?;
        let channels = self.store.guild_channels(guild_id).await?;
        let find = |id: Snowflake| {
            channels
                .iter()
                .find(|c| c.id == id && view.in_channel(c).contains(Permissions::VIEW_CHANNEL))
                .cloned()
        };
        let mut errors = FormErrors::new();
        let mut changed = Vec::new();
        for (i, entry) in moves.iter().enumerate() {
            let Some(mut channel) = find(entry.id) else {
                errors.add(&format!("{i}.id"), "CHANNEL_INVALID", "Unknown channel.");
                continue;
            };
            if let Some(Some(position)) = entry.position {
                check_position(&mut errors, &format!("{i}.position"), position);
                channel.position = position;
            }
            let mut synced = false;
            if let Some(parent) = entry.parent_id {
                let parent_channel = parent.and_then(find);
                let valid = parent.is_none()
                    || parent_channel.as_ref().is_some_and(|p| {
                        p.kind == channel_type::GUILD_CATEGORY
                            && channel.kind != channel_type::GUILD_CATEGORY
                    });
                if !valid {
                    errors.add(
                        &format!("{i}.parent_id"),
                        "CHANNEL_PARENT_INVALID",
                        "Invalid parent channel.",
                    );
                }
                channel.parent_id = parent;
                if entry.lock_permissions
                    && let Some(p) = parent_channel
                {
                    view.authorize_overwrites(
                        view.in_channel(&channel),
                        &channel.permission_overwrites,
                        &p.permission_overwrites,
                    )?;
                    synced = channel.permission_overwrites != p.permission_overwrites;
                    channel.permission_overwrites = p.permission_overwrites;
                }
            }
            changed.push((channel, synced));
        }
        errors.into_result()?;
        for (channel, synced) in changed {
            if !self.store.update_channel(&channel).await? {
                // Deleted meanwhile: nothing left to move.
                continue;
            }
            let out = self.channel_wire(&channel).await?;
            self.publish(EventKind::ChannelUpdate, to_guild(guild_id), out)
                .await;
            if synced {
                // Who sees its threads follows who sees it.
                self.sync_thread_list(&channel).await?;
            }
        }
        Ok(())
    }
}

//! Guild channels and their permission overwrites.

use concord_model::event::EventKind;
use concord_model::records::{Channel, Overwrite, channel_type};
use concord_model::{Permissions, Snowflake, codes, limits, wire};

use super::audit::{Details, action, change};
use super::input::{ChannelInput, PutOverwrite};
use crate::error::{check_length, check_position, check_slowmode};
use crate::threads::tags;
use crate::{
    Caller, ChannelView, FormErrors, GuildView, Service, ServiceError, ServiceResult, to_guild,
};

const CREATABLE: [u8; 5] = [
    channel_type::GUILD_TEXT,
    channel_type::GUILD_VOICE,
    channel_type::GUILD_CATEGORY,
    channel_type::GUILD_ANNOUNCEMENT,
    channel_type::GUILD_FORUM,
];

/// Threads take their parent's overwrites and have none of their own.
fn refuse_thread(view: &ChannelView) -> ServiceResult<()> {
    if view.channel.is_thread() {
        return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID));
    }
    Ok(())
}

/// Text channel names are lowercase with dashes, as Discord makes them.
fn normalize_name(kind: u8, name: &str) -> String {
    let name = name.trim();
    if matches!(
        kind,
        channel_type::GUILD_TEXT | channel_type::GUILD_ANNOUNCEMENT
    ) {
        name.split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
            .to_lowercase()
    } else {
        name.to_owned()
    }
}

impl Service {
    pub async fn guild_channels(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Channel>> {
        let view = self.guild_view(caller, guild_id).await?;
        let mut out = Vec::new();
        for c in self.store.guild_channels(guild_id).await? {
            if view.in_channel(&c).contains(Permissions::VIEW_CHANNEL) {
                out.push(self.channel_wire(&c).await?);
            }
        }
        Ok(out)
    }

    /// Checks and applies channel fields; shared by create and edit.
    async fn apply_channel_input(
        &self,
        view: &GuildView,
        channel: &mut Channel,
        input: ChannelInput,
        errors: &mut FormErrors,
    ) -> ServiceResult<()> {
        let held = view.in_channel(channel);
        if let Some(name) = input.name {
            let (min, max) = limits::CHANNEL_NAME;
            check_length(errors, "name", name.trim(), min, max);
            channel.name = normalize_name(channel.kind, &name);
        }
        if let Some(topic) = input.topic {
            if topic.as_ref().is_some_and(|t| t.chars().count() > 1024) {
                errors.add(
                    "topic",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 1024 or fewer in length.",
                );
            }
            channel.topic = topic;
        }
        if let Some(position) = input.position {
            check_position(errors, "position", position);
            channel.position = position;
        }
        if let Some(nsfw) = input.nsfw {
            channel.nsfw = nsfw;
        }
        if let Some(slowmode) = input.rate_limit_per_user {
            check_slowmode(errors, slowmode);
            channel.rate_limit_per_user = slowmode;
        }
        if channel.kind == channel_type::GUILD_VOICE {
            if let Some(bitrate) = input.bitrate {
                if !(8_000..=384_000).contains(&bitrate) {
                    errors.add(
                        "bitrate",
                        "NUMBER_TYPE_MIN",
                        "Bitrate must be between 8000 and 384000.",
                    );
                }
                channel.bitrate = Some(bitrate);
            }
            if let Some(limit) = input.user_limit {
                if limit > 99 {
                    errors.add(
                        "user_limit",
                        "NUMBER_TYPE_MAX",
                        "int value should be less than or equal to 99.",
                    );
                }
                channel.user_limit = Some(limit);
            }
            if let Some(region) = input.rtc_region {
                if region
                    .as_deref()
                    .is_some_and(|r| !crate::voice::is_region(r))
                {
                    errors.add(
                        "rtc_region",
                        "BASE_TYPE_CHOICES",
                        "Value must be one of the voice regions.",
                    );
                }
                channel.rtc_region = region;
            }
        }
        if channel.kind == channel_type::GUILD_FORUM {
            if let Some(tags) = input.available_tags {
                channel.available_tags = self.edit_available_tags(channel, tags, errors)?;
            }
            if let Some(flags) = input.flags {
                channel.flags = tags::forum_flags(flags);
            }
        }
        if let Some(parent) = input.parent_id {
            if let Some(parent_id) = parent {
                let parent = self.store.channel(parent_id).await?;
                // A category the caller cannot see is as good as unknown.
                let is_category = parent.is_some_and(|p| {
                    p.kind == channel_type::GUILD_CATEGORY
                        && p.guild_id == Some(view.guild.id)
                        && view.in_channel(&p).contains(Permissions::VIEW_CHANNEL)
                });
                if !is_category || channel.kind == channel_type::GUILD_CATEGORY {
                    errors.add(
                        "parent_id",
                        "CHANNEL_PARENT_INVALID",
                        "Invalid parent channel.",
                    );
                }
            }
            channel.parent_id = parent;
        }
        if let Some(overwrites) = input.permission_overwrites {
            for (i, o) in overwrites.iter().enumerate() {
                if o.kind > 1 {
                    errors.add(
                        &format!("permission_overwrites.{i}.type"),
                        "BASE_TYPE_CHOICES",
                        "Value must be one of (0, 1).",
                    );
                }
            }
            // One overwrite per target: a later entry replaces an earlier one.
            let mut records: Vec<Overwrite> = Vec::with_capacity(overwrites.len());
            for o in overwrites.iter().map(|o| o.record()) {
                records.retain(|r| r.id != o.id);
                records.push(o);
            }
            view.authorize_overwrites(held, &channel.permission_overwrites, &records)?;
            channel.permission_overwrites = records;
        }
        Ok(())
    }

    pub async fn create_channel(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        input: ChannelInput,
    ) -> ServiceResult<wire::Channel> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_CHANNELS)?;
        let kind = input.kind.unwrap_or(channel_type::GUILD_TEXT);
        let mut errors = FormErrors::new();
        if !CREATABLE.contains(&kind) {
            errors.add(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of (0, 2, 4, 5, 15).",
            );
        }
        if input.name.is_none() {
            errors.add("name", "BASE_TYPE_REQUIRED", "This field is required");
        }
        if self.store.guild_channels(guild_id).await?.len() >= limits::CHANNELS_PER_GUILD {
            return Err(ServiceError::LimitReached(codes::MAX_CHANNELS));
        }
        let mut channel = Channel::new(self.next_id(), kind, guild_id, "");
        self.apply_channel_input(&view, &mut channel, input, &mut errors)
            .await?;
        errors.into_result()?;
        self.store.put_channel(&channel).await?;
        let out = wire::Channel::new(&channel, None);
        self.publish(EventKind::ChannelCreate, to_guild(guild_id), &out)
            .await;
        let mut details = Details::on(channel.id);
        details
            .changes
            .push(change("name", None::<()>, &channel.name));
        self.audit(guild_id, caller, action::CHANNEL_CREATE, details)
            .await?;
        Ok(out)
    }

    pub async fn channel(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<wire::Channel> {
        let view = self.channel_view(caller, channel_id).await?;
        match view.guild {
            Some(_) if view.channel.is_thread() => self.thread_wire(channel_id, caller.id).await,
            Some(_) => self.channel_wire(&view.channel).await,
            None => self.private_channel_wire(&view.channel, caller.id).await,
        }
    }

    pub async fn patch_channel(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        input: ChannelInput,
    ) -> ServiceResult<wire::Channel> {
        let view = self.channel_view(caller, channel_id).await?;
        if view.guild.is_none() {
            return self.patch_group_dm(caller, &view.channel, input).await;
        }
        let guild = view.guild()?;
        if view.channel.is_thread() {
            return self.patch_thread(caller, &view, input).await;
        }
        view.require(Permissions::MANAGE_CHANNELS)?;
        let mut channel = view.channel.clone();
        let mut errors = FormErrors::new();
        let overwrites_changed = input.permission_overwrites.is_some();
        if input.kind.is_some_and(|k| k != channel.kind) {
            errors.add(
                "type",
                "CHANNEL_TYPE_INVALID",
                "Channel type cannot be changed.",
            );
        }
        self.apply_channel_input(guild, &mut channel, input, &mut errors)
            .await?;
        errors.into_result()?;
        let out = self.save_channel(&view, &channel).await?;
        if overwrites_changed {
            self.sync_thread_list(&channel).await?;
        }
        let mut details = Details::on(channel_id);
        if view.channel.name != channel.name {
            details
                .changes
                .push(change("name", &view.channel.name, &channel.name));
        }
        self.audit(guild.guild.id, caller, action::CHANNEL_UPDATE, details)
            .await?;
        Ok(out)
    }

    /// Writes an edit of a channel that must still exist: one deleted
    /// meanwhile is unknown, never recreated.
    pub(crate) async fn update_channel(&self, channel: &Channel) -> ServiceResult<()> {
        match self.store.update_channel(channel).await? {
            true => Ok(()),
            false => Err(ServiceError::NotFound(codes::UNKNOWN_CHANNEL)),
        }
    }

    async fn save_channel(
        &self,
        view: &ChannelView,
        channel: &Channel,
    ) -> ServiceResult<wire::Channel> {
        let guild_id = view.guild()?.guild.id;
        self.update_channel(channel).await?;
        let out = self.channel_wire(channel).await?;
        self.publish(EventKind::ChannelUpdate, to_guild(guild_id), &out)
            .await;
        Ok(out)
    }

    /// Deletes a channel and its messages; its children lose their parent.
    pub async fn delete_channel(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<wire::Channel> {
        let view = self.channel_view(caller, channel_id).await?;
        let Some(guild_id) = view.guild_id() else {
            // Closing a DM only hides it on the client; it stays open.
            return self.private_channel_wire(&view.channel, caller.id).await;
        };
        if view.channel.is_thread() {
            return self.delete_thread(caller, &view).await;
        }
        view.require(Permissions::MANAGE_CHANNELS)?;
        let out = self.channel_wire(&view.channel).await?;
        self.drop_threads_of(&view.channel).await?;
        for mut child in self.store.guild_channels(guild_id).await? {
            if child.parent_id == Some(channel_id) {
                child.parent_id = None;
                if !self.store.update_channel(&child).await? {
                    continue;
                }
                self.publish(
                    EventKind::ChannelUpdate,
                    to_guild(guild_id),
                    wire::Channel::new(&child, None),
                )
                .await;
            }
        }
        self.store.delete_channel(channel_id).await?;
        self.purge_soon();
        self.messages.cache.forget(channel_id);
        self.disconnect_channel(guild_id, channel_id).await;
        self.publish(EventKind::ChannelDelete, to_guild(guild_id), &out)
            .await;
        let mut details = Details::on(channel_id);
        details
            .changes
            .push(change("name", &view.channel.name, None::<()>));
        self.audit(guild_id, caller, action::CHANNEL_DELETE, details)
            .await?;
        Ok(out)
    }

    /// Sets one overwrite: MANAGE_ROLES, and [`GuildView::authorize_overwrites`].
    pub async fn put_overwrite(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        target: Snowflake,
        input: PutOverwrite,
    ) -> ServiceResult<()> {
        let view = self.channel_view(caller, channel_id).await?;
        let guild = view.guild()?;
        refuse_thread(&view)?;
        view.require(Permissions::MANAGE_ROLES)?;
        if input.kind > 1 {
            return FormErrors::single("type", "BASE_TYPE_CHOICES", "Value must be one of (0, 1).")
                .into_result();
        }
        let overwrite = Overwrite {
            id: target,
            kind: input.kind,
            allow: input.allow.unwrap_or_default(),
            deny: input.deny.unwrap_or_default(),
        };
        let mut channel = view.channel.clone();
        channel.permission_overwrites.retain(|o| o.id != target);
        channel.permission_overwrites.push(overwrite);
        guild.authorize_overwrites(
            view.permissions,
            &view.channel.permission_overwrites,
            &channel.permission_overwrites,
        )?;
        self.save_channel(&view, &channel).await?;
        self.sync_thread_list(&channel).await?;
        let details = Details {
            options: Some(serde_json::json!({ "id": target, "type": input.kind.to_string() })),
            ..Details::on(channel_id)
        };
        self.audit(
            guild.guild.id,
            caller,
            action::CHANNEL_OVERWRITE_UPDATE,
            details,
        )
        .await
    }

    pub async fn delete_overwrite(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        target: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.channel_view(caller, channel_id).await?;
        let guild = view.guild()?;
        refuse_thread(&view)?;
        view.require(Permissions::MANAGE_ROLES)?;
        let mut channel = view.channel.clone();
        let before = channel.permission_overwrites.len();
        channel.permission_overwrites.retain(|o| o.id != target);
        if channel.permission_overwrites.len() == before {
            return Err(ServiceError::NotFound(codes::UNKNOWN_OVERWRITE));
        }
        guild.authorize_overwrites(
            view.permissions,
            &view.channel.permission_overwrites,
            &channel.permission_overwrites,
        )?;
        self.save_channel(&view, &channel).await?;
        self.sync_thread_list(&channel).await?;
        let details = Details {
            options: Some(serde_json::json!({ "id": target })),
            ..Details::on(channel_id)
        };
        let guild_id = view.guild()?.guild.id;
        self.audit(guild_id, caller, action::CHANNEL_OVERWRITE_DELETE, details)
            .await
    }

    /// A channel with its newest message id.
    pub(crate) async fn channel_wire(&self, c: &Channel) -> ServiceResult<wire::Channel> {
        let last = if channel_type::is_text(c.kind) {
            self.latest_messages(c.id, 1).await?.first().map(|m| m.id)
        } else {
            None
        };
        Ok(wire::Channel::new(c, last))
    }
}

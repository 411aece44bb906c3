//! Private channels: DMs and group DMs, channels without a guild, seen by
//! their participants only. A DM between two users is one channel, reused
//! whoever opens it.
//!
//! Depends on access (a private channel's view) and on guilds (a
//! channel's wire shape); messages in them go through messages like any
//! other channel's.

pub mod input;

pub use input::OpenPrivateChannel;

use concord_model::event::{Audience, EventKind};
use concord_model::records::{Channel, channel_type};
use concord_model::{Snowflake, codes, limits, wire};

use crate::attachments::images::image_edit;
use crate::error::check_length;
use crate::guilds::input::ChannelInput;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

/// Participants of a group DM, its owner included.
pub const GROUP_DM_MAX_RECIPIENTS: usize = 10;

impl Service {
    /// A private channel as `viewer` sees it: `recipients` are the others.
    pub(crate) async fn private_channel_wire(
        &self,
        channel: &Channel,
        viewer: Snowflake,
    ) -> ServiceResult<wire::Channel> {
        let mut out = self
            .private_channels_wire(std::slice::from_ref(channel), viewer)
            .await?;
        Ok(out.remove(0))
    }

    /// Private channels as `viewer` sees them, with every recipient read
    /// from the store at once.
    async fn private_channels_wire(
        &self,
        channels: &[Channel],
        viewer: Snowflake,
    ) -> ServiceResult<Vec<wire::Channel>> {
        let others = |c: &Channel| {
            let ids = c.recipients.iter().copied();
            ids.filter(|id| *id != viewer).collect::<Vec<_>>()
        };
        let ids: Vec<Snowflake> = channels.iter().flat_map(others).collect();
        let users = self.users_wire(&ids).await?;
        let mut out = Vec::with_capacity(channels.len());
        for channel in channels {
            let mut wire = self.channel_wire(channel).await?;
            let recipients = others(channel).into_iter();
            wire.recipients = Some(
                recipients
                    .filter_map(|id| users.get(&id).cloned())
                    .collect(),
            );
            out.push(wire);
        }
        Ok(out)
    }

    /// The caller's DMs and group DMs.
    pub async fn private_channels(&self, caller: Caller) -> ServiceResult<Vec<wire::Channel>> {
        let channels = self.store.private_channels(caller.id).await?;
        self.private_channels_wire(&channels, caller.id).await
    }

    pub async fn open_private_channel(
        &self,
        caller: Caller,
        input: OpenPrivateChannel,
    ) -> ServiceResult<wire::Channel> {
        match (input.recipient_id, input.recipients) {
            (Some(user), _) => self.open_dm(caller, user).await,
            (None, Some(users)) => self.open_group_dm(caller, users).await,
            (None, None) => Err(ServiceError::InvalidForm(FormErrors::single(
                "recipient_id",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ))),
        }
    }

    /// The DM between the caller and `user`, created on first use.
    async fn open_dm(&self, caller: Caller, user: Snowflake) -> ServiceResult<wire::Channel> {
        if user == caller.id {
            return Err(ServiceError::Forbidden(codes::CANNOT_DM_USER));
        }
        if self.store.user(user).await?.is_none() {
            return Err(ServiceError::NotFound(codes::UNKNOWN_USER));
        }
        let existing = match self.store.dm_between(caller.id, user).await? {
            Some(id) => self.store.channel(id).await?,
            None => None,
        };
        let channel = match existing {
            Some(channel) => channel,
            None => {
                let channel =
                    Channel::private(self.next_id(), channel_type::DM, vec![caller.id, user]);
                self.store.create_private_channel(&channel).await?;
                channel
            }
        };
        self.private_channel_wire(&channel, caller.id).await
    }

    /// A new group DM owned by the caller; every participant is told.
    async fn open_group_dm(
        &self,
        caller: Caller,
        users: Vec<Snowflake>,
    ) -> ServiceResult<wire::Channel> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let mut recipients = vec![caller.id];
        for user in users {
            if !recipients.contains(&user) {
                recipients.push(user);
            }
        }
        if recipients.len() > GROUP_DM_MAX_RECIPIENTS {
            let message = format!(
                "Must be {} or fewer in length.",
                GROUP_DM_MAX_RECIPIENTS - 1
            );
            let error = FormErrors::single("recipients", "BASE_TYPE_MAX_LENGTH", message);
            return Err(ServiceError::InvalidForm(error));
        }
        for user in &recipients {
            if self.store.user(*user).await?.is_none() {
                return Err(ServiceError::NotFound(codes::UNKNOWN_USER));
            }
        }
        let channel = Channel {
            owner_id: Some(caller.id),
            ..Channel::private(self.next_id(), channel_type::GROUP_DM, recipients)
        };
        self.store.create_private_channel(&channel).await?;
        for user in &channel.recipients {
            let view = self.private_channel_wire(&channel, *user).await?;
            self.publish(
                EventKind::ChannelCreate,
                Audience::Users(vec![*user]),
                &view,
            )
            .await;
        }
        self.private_channel_wire(&channel, caller.id).await
    }
}

impl Service {
    /// A group DM the caller is in, for a change of recipients; 50003 for
    /// a guild channel, 50035 for a one-to-one DM.
    async fn group_view(&self, caller: Caller, channel_id: Snowflake) -> ServiceResult<Channel> {
        let view = self.channel_view(caller, channel_id).await?;
        if view.guild.is_some() {
            return Err(ServiceError::Forbidden(codes::DM_CHANNEL));
        }
        if view.channel.kind != channel_type::GROUP_DM {
            let error = FormErrors::single("channel_id", "CHANNEL_TYPE_INVALID", "Not a group DM.");
            return Err(ServiceError::InvalidForm(error));
        }
        Ok(view.channel)
    }

    /// `PATCH /channels/{id}` on a group DM: any participant renames it or
    /// sets its icon, as on Discord; a one-to-one DM has neither (50003).
    pub(crate) async fn patch_group_dm(
        &self,
        caller: Caller,
        channel: &Channel,
        input: ChannelInput,
    ) -> ServiceResult<wire::Channel> {
        if channel.kind != channel_type::GROUP_DM {
            return Err(ServiceError::Forbidden(codes::DM_CHANNEL));
        }
        let mut changed = channel.clone();
        let mut errors = FormErrors::new();
        if let Some(name) = input.name {
            let (_, max) = limits::CHANNEL_NAME;
            check_length(&mut errors, "name", &name, 0, max);
            changed.name = name;
        }
        let icon = image_edit("icon", input.icon, &mut errors);
        errors.into_result()?;
        let icon = self.stage_image(icon).await?;
        if let Some(staged) = &icon {
            staged.apply(&mut changed.icon, &mut changed.icon_blob);
        }
        self.update_channel(&changed).await?;
        self.settle_image(icon, channel.icon_blob.as_deref())
            .await?;
        for user in &changed.recipients {
            let view = self.private_channel_wire(&changed, *user).await?;
            self.publish(
                EventKind::ChannelUpdate,
                Audience::Users(vec![*user]),
                &view,
            )
            .await;
        }
        self.private_channel_wire(&changed, caller.id).await
    }

    /// Tells every participant (and `also`) that `user` joined or left.
    async fn recipients_changed(
        &self,
        kind: EventKind,
        channel: &Channel,
        user: Snowflake,
        also: Option<Snowflake>,
    ) -> ServiceResult<()> {
        let data = serde_json::json!({
            "channel_id": channel.id,
            "user": self.user_wire(user).await?,
        });
        let mut audience = channel.recipients.clone();
        audience.extend(also);
        self.publish(kind, Audience::Users(audience), data).await;
        Ok(())
    }

    /// Any participant adds a user to a group DM of at most ten.
    pub async fn add_recipient(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        user: Snowflake,
    ) -> ServiceResult<()> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let mut channel = self.group_view(caller, channel_id).await?;
        if self.store.user(user).await?.is_none() {
            return Err(ServiceError::NotFound(codes::UNKNOWN_USER));
        }
        if channel.recipients.contains(&user) {
            return Ok(());
        }
        if channel.recipients.len() >= GROUP_DM_MAX_RECIPIENTS {
            let message = format!("Must be {GROUP_DM_MAX_RECIPIENTS} or fewer in length.");
            let error = FormErrors::single("recipients", "BASE_TYPE_MAX_LENGTH", message);
            return Err(ServiceError::InvalidForm(error));
        }
        channel.recipients.push(user);
        self.store.update_private_channel(&channel, &[]).await?;
        let view = self.private_channel_wire(&channel, user).await?;
        self.publish(EventKind::ChannelCreate, Audience::Users(vec![user]), &view)
            .await;
        self.recipients_changed(EventKind::ChannelRecipientAdd, &channel, user, None)
            .await
    }

    /// The owner removes anyone; others may only leave.
    pub async fn remove_recipient(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        user: Snowflake,
    ) -> ServiceResult<()> {
        let mut channel = self.group_view(caller, channel_id).await?;
        if user != caller.id && channel.owner_id != Some(caller.id) {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        if !channel.recipients.contains(&user) {
            return Err(ServiceError::NotFound(codes::UNKNOWN_USER));
        }
        channel.recipients.retain(|r| *r != user);
        if channel.owner_id == Some(user) {
            // The group passes to whoever has been in it longest.
            channel.owner_id = channel.recipients.first().copied();
        }
        self.store.update_private_channel(&channel, &[user]).await?;
        let gone = self.private_channel_wire(&channel, user).await?;
        self.publish(EventKind::ChannelDelete, Audience::Users(vec![user]), &gone)
            .await;
        self.recipients_changed(
            EventKind::ChannelRecipientRemove,
            &channel,
            user,
            Some(user),
        )
        .await
    }
}

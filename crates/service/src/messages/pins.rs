//! Pinned messages: at most 250 a channel, newest pin first.

use concord_model::event::EventKind;
use concord_model::records::{MessagePatch, MessageReference, message_type};
use concord_model::snowflake::now_ms;
use concord_model::timestamp::{iso8601, parse_iso8601};
use concord_model::{Permissions, Snowflake, codes, wire};
use serde::Serialize;
use serde_json::json;

use crate::guilds::audit::{Details, action};
use crate::{Caller, ChannelView, Service, ServiceError, ServiceResult};

/// Discord's cap on pins per channel.
const MAX_PINS: usize = 250;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PinnedMessage {
    pub pinned_at: String,
    pub message: wire::Message,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PinPage {
    pub items: Vec<PinnedMessage>,
    pub has_more: bool,
}

impl Service {
    /// PIN_MESSAGES, or MANAGE_MESSAGES as before that bit existed.
    async fn pin_view(&self, caller: Caller, channel_id: Snowflake) -> ServiceResult<ChannelView> {
        let view = self.channel_view(caller, channel_id).await?;
        if !view.permissions.contains(Permissions::PIN_MESSAGES) {
            view.require(Permissions::MANAGE_MESSAGES)?;
        }
        Ok(view)
    }

    /// Pins a message: MESSAGE_UPDATE, CHANNEL_PINS_UPDATE and a pin notice.
    pub async fn pin(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.pin_view(caller, channel_id).await?;
        let message = self
            .store
            .message(channel_id, message_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MESSAGE))?;
        if message.pinned {
            return Ok(());
        }
        if self.store.pin_count(channel_id).await? >= MAX_PINS {
            return Err(ServiceError::LimitReached(codes::MAX_PINS));
        }
        let pinned_at = now_ms();
        self.store
            .put_pin(channel_id, message_id, pinned_at)
            .await?;
        self.set_pinned(&view, message_id, true).await?;
        self.pins_changed(&view, Some(pinned_at)).await;
        let reference = MessageReference {
            message_id,
            channel_id,
            guild_id: view.guild_id(),
        };
        self.post_notice(
            &view.channel,
            caller.id,
            message_type::CHANNEL_PINNED_MESSAGE,
            "",
            Some(reference),
        )
        .await?;
        let target = Some(message.author_id);
        self.audit_pin(&view, caller, message_id, target, action::MESSAGE_PIN)
            .await
    }

    pub async fn unpin(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> ServiceResult<()> {
        let view = self.pin_view(caller, channel_id).await?;
        if !self.store.delete_pin(channel_id, message_id).await? {
            return Err(ServiceError::NotFound(codes::UNKNOWN_MESSAGE));
        }
        self.set_pinned(&view, message_id, false).await?;
        let latest = self
            .store
            .pins(channel_id, None, 1)
            .await?
            .first()
            .map(|(_, at)| *at);
        self.pins_changed(&view, latest).await;
        self.audit_pin(&view, caller, message_id, None, action::MESSAGE_UNPIN)
            .await
    }

    async fn set_pinned(
        &self,
        view: &ChannelView,
        message_id: Snowflake,
        pinned: bool,
    ) -> ServiceResult<()> {
        let patch = MessagePatch {
            pinned: Some(pinned),
            ..MessagePatch::default()
        };
        if let Some(message) = self
            .store
            .update_message(view.channel.id, message_id, &patch)
            .await?
        {
            self.messages.cache.updated(&message).await;
            let out = self.render_message(&message).await?;
            self.publish_message_to(EventKind::MessageUpdate, view.audience(), &out)
                .await;
        }
        Ok(())
    }

    /// Pins in guild channels are on the audit log.
    async fn audit_pin(
        &self,
        view: &ChannelView,
        caller: Caller,
        message_id: Snowflake,
        author: Option<Snowflake>,
        kind: u16,
    ) -> ServiceResult<()> {
        let Some(guild_id) = view.guild_id() else {
            return Ok(());
        };
        let options = json!({ "channel_id": view.channel.id, "message_id": message_id });
        let details = Details {
            target: author,
            options: Some(options),
            ..Details::default()
        };
        self.audit(guild_id, caller, kind, details).await
    }

    async fn pins_changed(&self, view: &ChannelView, last_pin_ms: Option<u64>) {
        let data = view.with_guild_id(json!({
            "channel_id": view.channel.id,
            "last_pin_timestamp": last_pin_ms.map(iso8601),
        }));
        self.publish(EventKind::ChannelPinsUpdate, view.audience(), data)
            .await;
    }

    /// Pins before `before` (an ISO 8601 time), newest first; empty without
    /// READ_MESSAGE_HISTORY.
    pub async fn pins(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        before: Option<&str>,
        limit: usize,
    ) -> ServiceResult<PinPage> {
        let view = self.channel_view(caller, channel_id).await?;
        if !view.permissions.contains(Permissions::READ_MESSAGE_HISTORY) {
            return Ok(PinPage {
                items: Vec::new(),
                has_more: false,
            });
        }
        let before_ms = time_cursor(before)?;
        let mut pins = self.store.pins(channel_id, before_ms, limit + 1).await?;
        let has_more = pins.len() > limit;
        pins.truncate(limit);
        let mut items = Vec::new();
        for (message_id, pinned_at) in pins {
            if let Some(message) = self.store.message(channel_id, message_id).await? {
                items.push(PinnedMessage {
                    pinned_at: iso8601(pinned_at),
                    message: self.render_message(&message).await?,
                });
            }
        }
        Ok(PinPage { items, has_more })
    }
}

/// A `before` cursor given as an ISO 8601 time, in unix milliseconds.
pub(crate) fn time_cursor(before: Option<&str>) -> ServiceResult<Option<u64>> {
    before
        .map(|text| {
            parse_iso8601(text).ok_or_else(|| {
                ServiceError::InvalidForm(crate::FormErrors::single(
                    "before",
                    "DATE_INVALID",
                    "Not a valid ISO 8601 time.",
                ))
            })
        })
        .transpose()
}

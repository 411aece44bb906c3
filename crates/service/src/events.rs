//! Announcing writes: every write publishes one event after it is
//! persisted, its route typed and its payload serialized once, and says
//! who hears it (an [`Audience`]).

use concord_bus::EventBus;
use concord_model::event::{Audience, Event, EventKind};
use concord_model::records::Channel;
use concord_model::{Permissions, Snowflake};
use serde::Serialize;

use crate::Service;

impl Service {
    /// Publishes one event, its route read from `data` and its payload
    /// serialized once. Call it after the write it announces is persisted.
    pub(crate) async fn publish(&self, kind: EventKind, audience: Audience, data: impl Serialize) {
        let data = match serde_json::to_value(&data) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(error = %e, kind = kind.name(), "event not serializable");
                return;
            }
        };
        self.send(Event::new(kind, audience, self.node, &data))
            .await;
    }

    /// A message event, its payload serialized twice here, once whole and
    /// once as readers without the MESSAGE_CONTENT intent get it, so the
    /// gateway never parses it back.
    pub(crate) async fn publish_message_to(
        &self,
        kind: EventKind,
        audience: Audience,
        message: &concord_model::wire::Message,
    ) {
        if let Some(event) = self.message_event(kind, audience, message) {
            self.send(event).await;
        }
    }

    /// The event [`publish_message_to`](Self::publish_message_to) sends,
    /// for a caller that publishes it in its turn; `None` (logged) if the
    /// message cannot be serialized.
    pub(crate) fn message_event(
        &self,
        kind: EventKind,
        audience: Audience,
        message: &concord_model::wire::Message,
    ) -> Option<Event> {
        let mut hidden = message.clone();
        hidden.hide_content();
        let serialized = Event::message(kind, audience, self.node, message)
            .and_then(|event| Ok((event, serde_json::to_string(&hidden)?)));
        match serialized {
            Ok((mut event, hidden)) => {
                event.hidden = Some(hidden);
                Some(event)
            }
            Err(e) => {
                tracing::error!(error = %e, kind = kind.name(), "event not serializable");
                None
            }
        }
    }

    async fn send(&self, event: Event) {
        announce(&*self.bus, event).await;
    }
}

/// Publishes `event` on `bus`. A publish that fails is logged and counted:
/// the write it announces is committed, and subscribers miss its event as
/// if they had lagged.
pub(crate) async fn announce(bus: &dyn EventBus, event: Event) {
    let kind = event.kind;
    match bus.publish(event).await {
        Ok(_) => metrics::counter!("concord_events_published_total").increment(1),
        Err(e) => {
            tracing::error!(error = %e, kind = kind.name(), "event not published");
            metrics::counter!("concord_events_unpublished_total").increment(1);
        }
    }
}

/// Who hears about a channel's messages: those who see a guild channel,
/// the participants of a private one.
pub(crate) fn audience_of(channel: &Channel) -> Audience {
    match channel.guild_id {
        Some(guild_id) => to_channel(guild_id, channel.id),
        None => Audience::Private {
            channel_id: channel.id,
            recipients: channel.recipients.clone(),
        },
    }
}

/// An event for every member of a guild.
pub(crate) fn to_guild(guild_id: Snowflake) -> Audience {
    Audience::Guild {
        guild_id,
        channel_id: None,
        required: Permissions::NONE,
    }
}

/// An event for the members who can see a channel.
pub(crate) fn to_channel(guild_id: Snowflake, channel_id: Snowflake) -> Audience {
    Audience::Guild {
        guild_id,
        channel_id: Some(channel_id),
        required: Permissions::NONE,
    }
}

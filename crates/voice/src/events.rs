//! The main gateway's VOICE_STATE_UPDATE events, followed on the bus for the
//! guilds this node holds connections in (the SFU adds and removes them as
//! its connections come and go).

use std::sync::Arc;

use concord_bus::{Delivery, Subscription};
use concord_model::Snowflake;
use concord_model::event::{Event, EventKind};
use serde::Deserialize;
use tokio::sync::watch;

use crate::sfu::{Flags, Sfu};

/// The parts of a voice state the SFU acts on.
#[derive(Deserialize)]
struct VoiceState {
    #[serde(default)]
    guild_id: Option<Snowflake>,
    channel_id: Option<Snowflake>,
    user_id: Snowflake,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    mute: bool,
    #[serde(default)]
    deaf: bool,
    #[serde(default)]
    self_mute: bool,
    #[serde(default)]
    self_deaf: bool,
    #[serde(default)]
    suppress: bool,
}

pub(crate) async fn run(
    mut subscription: Subscription,
    sfu: Arc<Sfu>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let delivery = tokio::select! {
            delivery = subscription.next() => delivery,
            _ = stop.changed() => return,
        };
        match delivery {
            Some(Delivery::Event(event)) => apply(&sfu, &event),
            // What the lost events said is unknown: ask again about everyone.
            Some(Delivery::Gap { .. }) => sfu.readmit_all().await,
            None => return,
        }
    }
}

fn apply(sfu: &Sfu, event: &Event) {
    if event.kind != EventKind::VoiceStateUpdate {
        return;
    }
    let state: VoiceState = match serde_json::from_str(&event.data) {
        Ok(state) => state,
        Err(error) => {
            tracing::warn!(%error, "unreadable voice state on the bus");
            return;
        }
    };
    let Some(guild_id) = state.guild_id.or(event.route.guild_id) else {
        return;
    };
    sfu.voice_state(
        guild_id,
        state.user_id,
        state.channel_id,
        state.session_id.as_deref(),
        Flags {
            mute: state.mute,
            deaf: state.deaf,
            self_mute: state.self_mute,
            self_deaf: state.self_deaf,
            suppress: state.suppress,
        },
    );
}

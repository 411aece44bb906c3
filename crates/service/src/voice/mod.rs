//! Voice: members in voice channels, as the main gateway sees them.
//!
//! A gateway session joins, moves, mutes itself and leaves with op 4
//! ([`Service::update_voice_state`]); the guild hears VOICE_STATE_UPDATE
//! and the session VOICE_SERVER_UPDATE (a new token on every channel
//! change) naming the guild's voice endpoint. The guild's moderators mute,
//! deafen, move and disconnect through `PATCH /guilds/{g}/members/{u}`
//! (`moderation`). States live in the realtime seam (`realtime::voice`),
//! shared by every node; each event is published once, by the node whose
//! change the backend accepted. The voice server admits a connection by
//! its token ([`Service::voice_admission`]) and follows later changes on
//! the bus.
//!
//! A state belongs to a gateway session: it goes when the session ends
//! ([`Service::end_voice`]), and the node holding the session renews it
//! ([`Service::renew_voice`]); a node that dies stops renewing, and the
//! node holding [`SWEEP_LEASE`] removes its states once they expire
//! ([`voice_sweep`]). Deleting a channel or removing a member disconnects
//! them. A guild whose voice server stops moves to a live one (`servers`).
//!
//! Depends on access (permissions, `access::voice`), guilds (members,
//! channels, the audit log) and the realtime seam.

mod moderation;
mod regions;
mod servers;

use std::time::Duration;

use concord_model::event::{Audience, Event, EventKind};
use concord_model::voice::VoiceAdmission;
use concord_model::{Snowflake, wire};
use concord_realtime::voice::{Held, Joined, VoiceState};
use serde_json::json;

use crate::access::voice::{is_voice, join_limit, speech};
use crate::{Caller, Service, ServiceError, ServiceResult, to_guild};

pub use regions::{VoiceRegion, is_region, regions};
pub use servers::{SERVER_RENEW_EVERY, voice_server_lease};

/// How long a state lives past its last renewal. Its node renews it every
/// few seconds; a node that dies takes its members out of voice about
/// this long later.
pub const VOICE_TTL: Duration = Duration::from_secs(20);
/// How often the sweeper looks for expired states.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// The lease that makes one node of a cluster the voice sweeper.
pub const SWEEP_LEASE: &str = "voice-sweep";
/// States removed per sweep round trip.
const SWEEP_BATCH: usize = 200;

/// What a session asks with op 4 (Update Voice State).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceRequest {
    pub guild_id: Snowflake,
    /// `None` leaves.
    pub channel_id: Option<Snowflake>,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub self_video: bool,
    pub self_stream: bool,
}

fn unavailable(e: concord_realtime::RealtimeError) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

/// A fresh voice token: what the voice server checks a connection by.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A state as Discord's voice state object; `channel_id` `None` for a
/// leave.
fn to_wire(state: &VoiceState, channel_id: Option<Snowflake>) -> wire::VoiceState {
    wire::VoiceState {
        guild_id: Some(state.guild_id),
        channel_id,
        user_id: state.user_id,
        member: None,
        session_id: state.session_id.clone(),
        deaf: state.deaf,
        mute: state.mute,
        self_deaf: state.self_deaf,
        self_mute: state.self_mute,
        self_stream: state.self_stream,
        self_video: state.self_video,
        suppress: state.suppress,
        request_to_speak_timestamp: None,
    }
}

impl Service {
    /// Op 4: joins, moves, changes self mute and deafen, or leaves
    /// (`channel_id` null). A join into a channel the member may not
    /// connect to, or that is full, changes nothing, as on Discord; so
    /// does any join while this node has no voice endpoint.
    pub async fn update_voice_state(
        &self,
        caller: Caller,
        session_id: &str,
        request: VoiceRequest,
    ) -> ServiceResult<()> {
        let Some(endpoint) = self.config.voice_endpoint.as_deref() else {
            return Ok(());
        };
        let guild_id = request.guild_id;
        let view = self.guild_view(caller, guild_id).await?;
        let Some(channel_id) = request.channel_id else {
            let left = self.realtime.voice.leave(guild_id, caller.id, None).await;
            if let Some(state) = left.map_err(unavailable)? {
                self.announce_voice(&state, None).await;
            }
            return Ok(());
        };
        let channel = self.store.channel(channel_id).await?;
        let Some(channel) = channel.filter(|c| c.guild_id == Some(guild_id) && is_voice(c)) else {
            return Ok(());
        };
        let Some(limit) = join_limit(view.in_channel(&channel), &channel) else {
            return Ok(());
        };
        let state = VoiceState {
            guild_id,
            channel_id,
            user_id: caller.id,
            session_id: session_id.to_owned(),
            token: new_token(),
            deaf: view.member.deaf,
            mute: view.member.mute,
            self_deaf: request.self_deaf,
            self_mute: request.self_mute,
            self_stream: request.self_stream,
            self_video: request.self_video,
            suppress: false,
        };
        let joined = self.realtime.voice.join(state, limit, endpoint, VOICE_TTL);
        let Joined::Set {
            before,
            after,
            endpoint,
        } = joined.await.map_err(unavailable)?
        else {
            return Ok(());
        };
        // A delete of the channel between the read above and the join
        // found nobody there to disconnect; the joiner, looking again after
        // its write, sees the delete and leaves.
        if self.store.channel(channel_id).await?.is_none() {
            self.disconnect(guild_id, caller.id, Some(session_id)).await;
            return Ok(());
        }
        if before.as_ref() != Some(&after) {
            self.announce_voice(&after, Some(after.channel_id)).await;
        }
        if Joined::connected(&before, &after) {
            self.announce_server(&after, &endpoint).await;
        }
        Ok(())
    }

    /// A gateway session ended: it leaves the voice channels it is in
    /// among `guilds`.
    pub async fn end_voice(&self, user_id: Snowflake, session_id: &str, guilds: &[Snowflake]) {
        for guild in guilds {
            match self
                .realtime
                .voice
                .leave(*guild, user_id, Some(session_id))
                .await
            {
                Ok(Some(state)) => self.announce_voice(&state, None).await,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "voice state of an ended session left to expire")
                }
            }
        }
    }

    /// Keeps the voice states of this node's sessions alive; whether each
    /// is still its session's (all of them, as far as the caller knows,
    /// when the backend cannot answer). Guilds whose voice server stopped
    /// move to this node's (`servers`).
    pub async fn renew_voice(&self, held: &[Held]) -> Vec<bool> {
        let kept = match self.realtime.voice.renew(held, VOICE_TTL).await {
            Ok(kept) => kept,
            Err(e) => {
                tracing::warn!(error = %e, "voice states not renewed");
                return vec![true; held.len()];
            }
        };
        self.follow_voice_servers(held).await;
        kept
    }

    /// Removes the states whose node stopped renewing them and tells
    /// their guilds; how many.
    pub async fn sweep_voice(&self) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let swept = self.realtime.voice.sweep(SWEEP_BATCH).await;
            let swept = swept.map_err(unavailable)?;
            for state in &swept {
                self.announce_voice(state, None).await;
            }
            total += swept.len();
            if swept.len() < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }

    /// Whether the voice server admits `token` for the user in the guild:
    /// only the current token of their state there, held by that gateway
    /// session. What they may do in the channel comes with it.
    pub async fn voice_admission(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        session_id: &str,
        token: &str,
    ) -> ServiceResult<Option<VoiceAdmission>> {
        let state = self.realtime.voice.get(guild_id, user_id).await;
        let Some(state) = state.map_err(unavailable)? else {
            return Ok(None);
        };
        if state.session_id != session_id || !constant_time_eq(&state.token, token) {
            return Ok(None);
        }
        let held = self
            .channel_permissions(user_id, guild_id, state.channel_id)
            .await?;
        let speech = speech(held);
        Ok(Some(VoiceAdmission {
            channel_id: state.channel_id,
            mute: state.mute,
            deaf: state.deaf,
            self_mute: state.self_mute,
            self_deaf: state.self_deaf,
            suppress: state.suppress,
            may_speak: speech.may_speak,
            priority: speech.priority,
            may_stream: speech.may_stream,
        }))
    }

    /// The guild's voice states as GUILD_CREATE lists them (without
    /// `guild_id` and `member`). Nothing, rather than a failed GUILD_CREATE,
    /// when the backend cannot answer.
    pub(crate) async fn listed_voice_states(&self, guild_id: Snowflake) -> Vec<wire::VoiceState> {
        match self.realtime.voice.guild(guild_id).await {
            Ok(states) => states
                .iter()
                .map(|s| wire::VoiceState {
                    guild_id: None,
                    ..to_wire(s, Some(s.channel_id))
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "voice states not listed");
                Vec::new()
            }
        }
    }

    /// Disconnects everyone in a channel (it was deleted).
    pub(crate) async fn disconnect_channel(&self, guild_id: Snowflake, channel_id: Snowflake) {
        self.disconnect_where(guild_id, |s| s.channel_id == channel_id)
            .await;
    }

    /// Disconnects everyone in the guild (it was deleted).
    pub(crate) async fn disconnect_guild(&self, guild_id: Snowflake) {
        self.disconnect_where(guild_id, |_| true).await;
    }

    async fn disconnect_where(&self, guild_id: Snowflake, which: impl Fn(&VoiceState) -> bool) {
        let states = match self.realtime.voice.guild(guild_id).await {
            Ok(states) => states,
            Err(e) => {
                tracing::warn!(error = %e, "members of a deleted channel left in voice");
                return;
            }
        };
        for state in states.iter().filter(|s| which(s)) {
            self.disconnect(guild_id, state.user_id, Some(&state.session_id))
                .await;
        }
    }

    /// Disconnects a user from the guild's voice (they left it, or the
    /// session named owns their state).
    pub(crate) async fn disconnect(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        session: Option<&str>,
    ) {
        match self.realtime.voice.leave(guild_id, user_id, session).await {
            Ok(Some(state)) => self.announce_voice(&state, None).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "voice state not removed"),
        }
    }

    /// VOICE_STATE_UPDATE to the guild: `state` in `channel_id`, or leaving
    /// (`None`), with the member when they still are one.
    async fn announce_voice(&self, state: &VoiceState, channel_id: Option<Snowflake>) {
        let mut out = to_wire(state, channel_id);
        if let Ok(Some(member)) = self.store.member(state.guild_id, state.user_id).await {
            out.member = self.member_wire(&member).await.ok();
        }
        self.publish(EventKind::VoiceStateUpdate, to_guild(state.guild_id), out)
            .await;
    }

    /// VOICE_SERVER_UPDATE to the session that owns `state`, wherever it
    /// is connected.
    async fn announce_server(&self, state: &VoiceState, endpoint: &str) {
        let data = json!({
            "token": state.token,
            "guild_id": state.guild_id,
            "endpoint": endpoint,
        });
        let audience = Audience::Users(vec![state.user_id]);
        let mut event = Event::new(EventKind::VoiceServerUpdate, audience, self.node, &data);
        event.route.session_id = Some(state.session_id.clone());
        crate::events::announce(&*self.bus, event).await;
    }
}

/// Compares two tokens in time that depends on their lengths only.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// Removes the voice states of nodes that stopped, every few seconds, for
/// as long as the service lives and while this node (named `holder`)
/// holds the [`SWEEP_LEASE`].
pub async fn voice_sweep(service: std::sync::Weak<Service>, holder: String) {
    let sweep = |service: std::sync::Arc<Service>| async move {
        match service.sweep_voice().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(states = n, "voice states of stopped sessions removed"),
            Err(e) => tracing::warn!(error = %e, "voice sweep failed"),
        }
    };
    crate::cluster::leases::each_turn(service, holder, SWEEP_LEASE, SWEEP_EVERY, sweep).await;
}

#[cfg(test)]
mod tests;

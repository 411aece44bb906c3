//! Which voice server a guild's members talk to, and moving them off one
//! that stopped.
//!
//! A guild's endpoint is its first joiner's node's, and stays while anyone
//! is in voice there. Each node with a voice server holds a lease named
//! after its endpoint ([`voice_server_lease`]); a node that dies stops
//! renewing it. The nodes holding members' sessions look, as they renew
//! those members' states, whether the guild's server still holds its
//! lease; when it does not, one of them makes its own server the guild's
//! (a compare-and-set in the realtime seam) and sends every member there
//! VOICE_SERVER_UPDATE with the new endpoint, as Discord does when a voice
//! server goes away, and clients reconnect to it with their tokens.

use std::collections::BTreeSet;
use std::sync::Weak;
use std::time::Duration;

use concord_model::Snowflake;
use concord_realtime::RealtimeResult;
use concord_realtime::voice::Held;

use super::VOICE_TTL;
use crate::Service;

/// How often a node renews its voice server's lease, which lives
/// [`VOICE_TTL`]: a stopped server's guilds move about that long after.
pub const SERVER_RENEW_EVERY: Duration = Duration::from_secs(5);

/// How long a look at another server's lease holds it, should it be free.
const PROBE_TTL: Duration = Duration::from_secs(1);

/// The lease a voice server's node holds while it runs.
fn server_lease(endpoint: &str) -> String {
    format!("voice-server:{endpoint}")
}

impl Service {
    /// Takes or renews this node's voice server lease under `holder`; a
    /// node without voice holds none.
    pub async fn hold_voice_server(&self, holder: &str) {
        let Some(endpoint) = self.config.voice_endpoint.as_deref() else {
            return;
        };
        let leases = &self.realtime.leases;
        match leases
            .acquire(&server_lease(endpoint), holder, VOICE_TTL)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(endpoint, "another node holds this voice server's lease"),
            Err(e) => tracing::warn!(error = %e, "voice server lease not renewed"),
        }
    }

    /// Moves the guilds of `held` whose voice server stopped to this
    /// node's, telling their members.
    pub(super) async fn follow_voice_servers(&self, held: &[Held]) {
        let Some(mine) = self.config.voice_endpoint.as_deref() else {
            return;
        };
        let guilds: BTreeSet<Snowflake> = held.iter().map(|h| h.guild_id).collect();
        for guild in guilds {
            if let Err(e) = self.follow_voice_server(guild, mine).await {
                tracing::warn!(error = %e, %guild, "voice server not checked");
            }
        }
    }

    async fn follow_voice_server(&self, guild: Snowflake, mine: &str) -> RealtimeResult<()> {
        let voice = &self.realtime.voice;
        let Some(current) = voice.endpoint(guild).await? else {
            return Ok(());
        };
        if current == mine || self.voice_server_runs(&current, mine).await? {
            return Ok(());
        }
        if voice.move_endpoint(guild, &current, mine).await? {
            tracing::info!(%guild, from = current, to = mine, "voice moved off a stopped server");
            for state in voice.guild(guild).await? {
                self.announce_server(&state, mine).await;
            }
        }
        Ok(())
    }

    /// Whether the server at `endpoint` still holds its lease. The look
    /// takes the lease only when it is free, and gives it straight back.
    async fn voice_server_runs(&self, endpoint: &str, mine: &str) -> RealtimeResult<bool> {
        let (lease, probe) = (server_lease(endpoint), format!("probe:{mine}"));
        let leases = &self.realtime.leases;
        if leases.acquire(&lease, &probe, PROBE_TTL).await? {
            leases.release(&lease, &probe).await?;
            return Ok(false);
        }
        Ok(true)
    }
}

/// Holds this node's voice server lease (see [`Service::hold_voice_server`])
/// for as long as the service lives.
pub async fn voice_server_lease(service: Weak<Service>, holder: String) {
    let mut tick = tokio::time::interval(SERVER_RENEW_EVERY);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        service.hold_voice_server(&holder).await;
    }
}

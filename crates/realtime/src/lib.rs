//! The realtime seam: state every node of a cluster must share and that
//! changes too often for the store. Each part is an async, fallible trait
//! with an in-process default, so one node needs nothing else and several
//! nodes share one networked backend.
//!
//! - [`presence`]: who is online, per session, and the transitions others
//!   must be told.
//! - [`limiter`]: rate-limit windows and login failure streaks.
//! - [`leases`]: names one node holds at a time (snowflake ids, singleton
//!   tasks).
//! - [`sessions`]: which node holds each gateway session, and what a
//!   RESUME on any node replays.
//! - [`voice`]: who is in which voice channel, from which session, and the
//!   voice endpoint of each guild.

pub mod bounded;
pub mod conformance;
mod error;
pub mod leases;
pub mod limiter;
pub mod presence;
pub mod sessions;
pub mod voice;

pub use error::{RealtimeError, RealtimeResult};
pub use leases::{Leases, LocalLeases};
pub use limiter::{Decision, Limit, Limiter, LocalLimiter, Streak};
pub use presence::{LocalPresence, Presence, Status, Touched, Transition, UserPresence};
pub use voice::{LocalVoice, VoiceState, VoiceStates};

use std::sync::Arc;

use async_trait::async_trait;

/// The realtime backends a node uses; nodes of one cluster share them.
#[derive(Clone)]
pub struct Realtime {
    pub presence: Arc<dyn Presence>,
    pub limiter: Arc<dyn Limiter>,
    pub leases: Arc<dyn Leases>,
    pub sessions: Arc<dyn sessions::SessionDirectory>,
    pub voice: Arc<dyn VoiceStates>,
    /// The server the parts live on, for readiness; none in this process.
    pub remote: Option<Arc<dyn Remote>>,
}

/// A server behind the realtime seam, as `/readyz` reports it.
#[async_trait]
pub trait Remote: Send + Sync {
    /// What `/readyz` calls it (`redis`).
    fn name(&self) -> &'static str;

    /// Whether it answers now.
    async fn check(&self) -> RealtimeResult<()>;
}

impl Realtime {
    /// Everything in this process: one node, nothing else to run.
    pub fn local() -> Realtime {
        Realtime {
            presence: Arc::new(LocalPresence::new()),
            limiter: Arc::new(LocalLimiter::new()),
            leases: Arc::new(LocalLeases::new()),
            sessions: Arc::new(sessions::LocalSessions::default()),
            voice: Arc::new(LocalVoice::new()),
            remote: None,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every handle is the same in-process state, as for nodes of one test
    /// process.
    async fn open(nodes: usize) -> Option<Vec<super::Realtime>> {
        Some(vec![super::Realtime::local(); nodes])
    }

    crate::realtime_conformance!(open);
}

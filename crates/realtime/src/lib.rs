//! The realtime seam: state every node of a cluster must share and that
//! changes too often for the store. Each part is a trait with an
//! in-process default, so one node needs nothing else and several nodes
//! share one networked backend.
//!
//! - [`presence`]: who is online, per session, and the transitions others
//!   must be told.
//! - [`sessions`]: which node holds each gateway session, and what a
//!   RESUME on any node replays.

pub mod presence;
pub mod sessions;

pub use presence::{LocalPresence, Presence, Status, UserPresence};

use std::sync::Arc;

/// The realtime backends a node uses; nodes of one cluster share them.
#[derive(Clone)]
pub struct Realtime {
    pub presence: Arc<dyn Presence>,
    pub sessions: Arc<dyn sessions::SessionDirectory>,
}

impl Realtime {
    /// Everything in this process: one node, nothing else to run.
    pub fn local() -> Realtime {
        Realtime {
            presence: Arc::new(LocalPresence::new()),
            sessions: Arc::new(sessions::LocalSessions::default()),
        }
    }
}

//! The presence seam: who is online, kept alive by heartbeats. A session
//! refreshes its user's entry on every heartbeat; an entry not refreshed
//! within its lifetime reads as offline, so a crashed node's users fade out
//! on their own. [`LocalPresence`] is the in-process default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use concord_model::Snowflake;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Idle,
    Dnd,
    Offline,
}

pub trait Presence: Send + Sync {
    /// Records `status` for the user until `ttl` passes without a refresh.
    fn set(&self, user: Snowflake, status: Status, ttl: Duration);
    /// The user's status now; `Offline` when unknown or expired.
    fn status(&self, user: Snowflake) -> Status;
    /// Forgets the user (their last session closed cleanly).
    fn clear(&self, user: Snowflake);
}

#[derive(Default)]
pub struct LocalPresence {
    entries: Mutex<HashMap<Snowflake, (Status, Instant)>>,
}

impl LocalPresence {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Presence for LocalPresence {
    fn set(&self, user: Snowflake, status: Status, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        entries.retain(|_, (_, expires)| *expires > now);
        entries.insert(user, (status, now + ttl));
    }

    fn status(&self, user: Snowflake) -> Status {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&user) {
            Some((status, expires)) if *expires > Instant::now() => *status,
            _ => Status::Offline,
        }
    }

    fn clear(&self, user: Snowflake) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_without_heartbeats() {
        let presence = LocalPresence::new();
        let ada = Snowflake(1);
        assert_eq!(presence.status(ada), Status::Offline);
        presence.set(ada, Status::Idle, Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(presence.status(ada), Status::Idle);
        presence.set(ada, Status::Online, Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            presence.status(ada),
            Status::Online,
            "refreshed by the heartbeat"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(presence.status(ada), Status::Offline);
        presence.set(ada, Status::Dnd, Duration::from_secs(60));
        presence.clear(ada);
        assert_eq!(presence.status(ada), Status::Offline);
    }
}

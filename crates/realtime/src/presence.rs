//! The presence seam: who is online, and with what status and activities.
//! Sessions refresh their user's entry on every heartbeat; an entry not
//! refreshed within its lifetime reads as offline, so a crashed node's
//! users fade out on their own. [`LocalPresence`] is the in-process default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use concord_model::Snowflake;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Idle,
    Dnd,
    /// Connected, but shown to others as offline.
    Invisible,
    Offline,
}

impl Status {
    /// What others see.
    pub fn shown(self) -> Status {
        match self {
            Status::Invisible => Status::Offline,
            status => status,
        }
    }
}

/// A user's presence as they set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPresence {
    pub status: Status,
    /// Activities as the client sent them (Discord's activity objects).
    pub activities: Vec<Value>,
}

impl UserPresence {
    pub fn offline() -> UserPresence {
        UserPresence {
            status: Status::Offline,
            activities: Vec::new(),
        }
    }

    /// What others see: nothing of an invisible or offline user.
    pub fn shown(&self) -> UserPresence {
        match self.status.shown() {
            Status::Offline => UserPresence::offline(),
            _ => self.clone(),
        }
    }
}

pub trait Presence: Send + Sync {
    /// Records the user's presence until `ttl` passes without a refresh.
    fn set(&self, user: Snowflake, presence: UserPresence, ttl: Duration);
    /// Keeps the user's entry alive for another `ttl` (a heartbeat).
    fn refresh(&self, user: Snowflake, ttl: Duration);
    /// The user's presence now; offline when unknown or expired.
    fn get(&self, user: Snowflake) -> UserPresence;
    /// Forgets the user (their last session ended); returns what they had
    /// set, expired or not, so that their going offline can be told.
    fn clear(&self, user: Snowflake) -> Option<UserPresence>;
}

/// How long an expired entry is kept for [`Presence::clear`] to find.
const EXPIRED_KEPT: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct LocalPresence {
    entries: Mutex<HashMap<Snowflake, (UserPresence, Instant)>>,
}

impl LocalPresence {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Snowflake, (UserPresence, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Presence for LocalPresence {
    fn set(&self, user: Snowflake, presence: UserPresence, ttl: Duration) {
        let mut entries = self.entries();
        let now = Instant::now();
        entries.retain(|_, (_, expires)| *expires + EXPIRED_KEPT > now);
        entries.insert(user, (presence, now + ttl));
    }

    fn refresh(&self, user: Snowflake, ttl: Duration) {
        if let Some((_, expires)) = self.entries().get_mut(&user) {
            *expires = Instant::now() + ttl;
        }
    }

    fn get(&self, user: Snowflake) -> UserPresence {
        match self.entries().get(&user) {
            Some((presence, expires)) if *expires > Instant::now() => presence.clone(),
            _ => UserPresence::offline(),
        }
    }

    fn clear(&self, user: Snowflake) -> Option<UserPresence> {
        self.entries().remove(&user).map(|(presence, _)| presence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(status: Status) -> UserPresence {
        UserPresence {
            status,
            activities: vec![serde_json::json!({ "name": "chess", "type": 0 })],
        }
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_without_heartbeats() {
        let presence = LocalPresence::new();
        let ada = Snowflake(1);
        let ttl = Duration::from_secs(60);
        assert_eq!(presence.get(ada).status, Status::Offline);
        presence.set(ada, with(Status::Idle), ttl);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(presence.get(ada), with(Status::Idle));
        presence.refresh(ada, ttl);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            presence.get(ada).status,
            Status::Idle,
            "refreshed by the heartbeat"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(presence.get(ada), UserPresence::offline());
        assert_eq!(
            presence.clear(ada),
            Some(with(Status::Idle)),
            "an expired entry is still there to be cleared"
        );
        assert_eq!(presence.clear(ada), None);
        presence.set(ada, with(Status::Dnd), ttl);
        presence.clear(ada);
        assert_eq!(presence.get(ada).status, Status::Offline);
    }

    #[test]
    fn invisible_shows_as_offline_without_activities() {
        assert_eq!(with(Status::Invisible).shown(), UserPresence::offline());
        assert_eq!(with(Status::Dnd).shown(), with(Status::Dnd));
    }
}

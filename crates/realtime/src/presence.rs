//! The presence seam: who is online, and with what status and activities,
//! decided over every session of every node that shares the backend.
//!
//! A user's presence is the combination of their live sessions: the
//! presence most recently set by any of them wins, but for `afk`, which
//! holds only when every live session says it, and they are offline
//! only when none is live. A session lives until its `ttl` passes without
//! a refresh (a heartbeat), so the users of a node that crashed fade out on
//! their own. Each change returns the [`Transition`] others must be told,
//! decided inside the backend in one step (under one lock here, in one
//! script in a networked backend), so two nodes never both announce, or
//! both miss, a user going offline.
//!
//! The backend remembers what others were last told of each user, and a
//! transition goes from that to what they should see now; so whatever
//! happened meanwhile (a session expiring unseen) is told once, by the
//! next change or by [`Presence::sweep`]. [`LocalPresence`] is the
//! in-process default.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::RealtimeResult;

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
    /// The client said `afk: true`: its person is away from it (Discord's
    /// idle desktop), so notifications go to their other devices. Others
    /// are not shown it. A user's combined presence is `afk` only when
    /// every live session of theirs is: one device in use holds pushes back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub afk: bool,
}

impl UserPresence {
    pub fn offline() -> UserPresence {
        UserPresence {
            status: Status::Offline,
            activities: Vec::new(),
            afk: false,
        }
    }

    /// Whether this counts as away: `afk`, and shown (an invisible
    /// session, shown as offline, is not away; it says nothing).
    pub fn is_afk(&self) -> bool {
        self.afk && self.status.shown() != Status::Offline
    }

    /// What others see: nothing of an invisible or offline user.
    pub fn shown(&self) -> UserPresence {
        match self.status.shown() {
            Status::Offline => UserPresence::offline(),
            _ => self.clone(),
        }
    }
}

/// A change in what others see of a user (both sides as shown: an
/// invisible user is offline here).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub before: UserPresence,
    pub after: UserPresence,
}

/// What [`Presence::update`] or [`Presence::refresh`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Touched {
    /// The session is live; what others must be told, if anything.
    Live(Option<Transition>),
    /// The session expired (nothing refreshed it in time) and no longer
    /// counts: connect it again to bring it back.
    Gone,
}

#[async_trait]
pub trait Presence: Send + Sync {
    /// A session of the user starts (IDENTIFY) or comes back (RESUME) with
    /// `presence`; it lives until `ttl` passes without a refresh.
    async fn connect(
        &self,
        user: Snowflake,
        session: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> RealtimeResult<Option<Transition>>;

    /// A live session sets a new presence (op 3); it becomes the user's,
    /// being the most recent.
    async fn update(
        &self,
        user: Snowflake,
        session: &str,
        presence: UserPresence,
    ) -> RealtimeResult<Touched>;

    /// A heartbeat: the session lives another `ttl`.
    async fn refresh(
        &self,
        user: Snowflake,
        session: &str,
        ttl: Duration,
    ) -> RealtimeResult<Touched>;

    /// The session's connection ended; the user is offline once no other
    /// session of theirs, on any node, is live.
    async fn disconnect(
        &self,
        user: Snowflake,
        session: &str,
    ) -> RealtimeResult<Option<Transition>>;

    /// What others see of each of `users` now, in the same order.
    async fn get_many(&self, users: &[Snowflake]) -> RealtimeResult<Vec<UserPresence>>;

    /// Forgets up to `max` sessions that expired and returns the users
    /// whose presence that changed, so others can be told (the users of a
    /// node that stopped without disconnecting them). One node runs it.
    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<(Snowflake, Transition)>>;
}

/// A live session of a user.
struct Live {
    presence: UserPresence,
    /// When its presence was set, in the backend's order of changes.
    set: u64,
    expires: Instant,
}

/// A user with live sessions, or whose going offline is yet to be told.
/// A bot's shards are many sessions of one user: each change costs a few
/// map operations, whatever their number.
struct Entry {
    sessions: HashMap<Arc<str>, Live>,
    /// The sessions by when their presence was set, the newest last.
    by_set: BTreeMap<u64, Arc<str>>,
    /// The sessions by expiry, the soonest first.
    by_expiry: BTreeSet<(Instant, Arc<str>)>,
    /// What others were last told of the user.
    told: UserPresence,
}

impl Entry {
    /// What others should see: the most recently set live session's,
    /// `afk` only when every live session says so.
    fn shown(&self, now: Instant) -> UserPresence {
        let mut shown = self
            .by_set
            .values()
            .rev()
            .filter_map(|id| self.sessions.get(id))
            .find(|live| live.expires > now)
            .map_or_else(UserPresence::offline, |live| live.presence.shown());
        shown.afk = shown.afk
            && self
                .sessions
                .values()
                .filter(|live| live.expires > now)
                .all(|live| live.presence.is_afk());
        shown
    }

    /// The change since others were last told, recorded as told.
    fn transition(&mut self, now: Instant) -> Option<Transition> {
        let after = self.shown(now);
        if after == self.told {
            return None;
        }
        let before = std::mem::replace(&mut self.told, after.clone());
        Some(Transition { before, after })
    }

    /// Sets a session's presence (adding the session, expiring `now`,
    /// if it is new) as the latest change, `set`.
    fn set(&mut self, session: &str, presence: UserPresence, set: u64, now: Instant) {
        match self.sessions.get_mut(session) {
            Some(live) => {
                self.by_set.remove(&live.set);
                live.presence = presence;
                live.set = set;
            }
            None => {
                let id: Arc<str> = session.into();
                self.by_expiry.insert((now, Arc::clone(&id)));
                let expires = now;
                let live = Live {
                    presence,
                    set,
                    expires,
                };
                self.sessions.insert(Arc::clone(&id), live);
            }
        }
        if let Some((id, _)) = self.sessions.get_key_value(session) {
            self.by_set.insert(set, Arc::clone(id));
        }
    }

    /// Removes a session; its id and when it expired.
    fn remove(&mut self, session: &str) -> Option<(Arc<str>, Instant)> {
        let (id, live) = self.sessions.remove_entry(session)?;
        self.by_set.remove(&live.set);
        self.by_expiry.remove(&(live.expires, Arc::clone(&id)));
        Some((id, live.expires))
    }
}

#[derive(Default)]
struct State {
    users: HashMap<Snowflake, Entry>,
    /// Every live session by expiry, for the sweep.
    expiry: BTreeSet<(Instant, Snowflake, Arc<str>)>,
    /// The order of changes.
    clock: u64,
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The user's entry with its expired sessions dropped.
    fn entry(&mut self, user: Snowflake, now: Instant) -> &mut Entry {
        let entry = self.users.entry(user).or_insert_with(|| Entry {
            sessions: HashMap::new(),
            by_set: BTreeMap::new(),
            by_expiry: BTreeSet::new(),
            told: UserPresence::offline(),
        });
        while let Some((expires, id)) = entry.by_expiry.first().cloned()
            && expires <= now
        {
            entry.remove(&id);
            self.expiry.remove(&(expires, user, id));
        }
        entry
    }

    /// Whether `session` of `user` is known and live at `now`.
    fn is_live(&self, user: Snowflake, session: &str, now: Instant) -> bool {
        self.users
            .get(&user)
            .and_then(|e| e.sessions.get(session))
            .is_some_and(|live| live.expires > now)
    }

    /// Tells what changed for `user` and forgets them if nothing is left.
    fn settle(&mut self, user: Snowflake, now: Instant) -> Option<Transition> {
        let entry = self.users.get_mut(&user)?;
        let transition = entry.transition(now);
        if entry.sessions.is_empty() && entry.told.status == Status::Offline {
            self.users.remove(&user);
        }
        transition
    }

    fn set_expiry(&mut self, user: Snowflake, session: &str, expires: Instant) {
        let Some(entry) = self.users.get_mut(&user) else {
            return;
        };
        let Some((id, live)) = entry.sessions.get_key_value(session) else {
            return;
        };
        let (id, before) = (Arc::clone(id), live.expires);
        entry.by_expiry.remove(&(before, Arc::clone(&id)));
        entry.by_expiry.insert((expires, Arc::clone(&id)));
        self.expiry.remove(&(before, user, Arc::clone(&id)));
        self.expiry.insert((expires, user, id));
        if let Some(live) = entry.sessions.get_mut(session) {
            live.expires = expires;
        }
    }
}

/// Presence in this process: one node, or nodes of one test process.
#[derive(Default)]
pub struct LocalPresence {
    state: Mutex<State>,
}

impl LocalPresence {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sessions held, live or expired but not yet swept.
    pub fn sessions(&self) -> usize {
        self.state().expiry.len()
    }
}

#[async_trait]
impl Presence for LocalPresence {
    async fn connect(
        &self,
        user: Snowflake,
        session: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> RealtimeResult<Option<Transition>> {
        let now = Instant::now();
        let mut state = self.state();
        let set = state.tick();
        state.entry(user, now).set(session, presence, set, now);
        state.set_expiry(user, session, now + ttl);
        Ok(state.settle(user, now))
    }

    async fn update(
        &self,
        user: Snowflake,
        session: &str,
        presence: UserPresence,
    ) -> RealtimeResult<Touched> {
        let now = Instant::now();
        let mut state = self.state();
        // Gone changes nothing: the connect that follows tells it all.
        if !state.is_live(user, session, now) {
            return Ok(Touched::Gone);
        }
        let set = state.tick();
        state.entry(user, now).set(session, presence, set, now);
        Ok(Touched::Live(state.settle(user, now)))
    }

    async fn refresh(
        &self,
        user: Snowflake,
        session: &str,
        ttl: Duration,
    ) -> RealtimeResult<Touched> {
        let now = Instant::now();
        let mut state = self.state();
        if !state.is_live(user, session, now) {
            return Ok(Touched::Gone);
        }
        state.entry(user, now);
        state.set_expiry(user, session, now + ttl);
        Ok(Touched::Live(state.settle(user, now)))
    }

    async fn disconnect(
        &self,
        user: Snowflake,
        session: &str,
    ) -> RealtimeResult<Option<Transition>> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some((id, expires)) = state.entry(user, now).remove(session) {
            state.expiry.remove(&(expires, user, id));
        }
        Ok(state.settle(user, now))
    }

    async fn get_many(&self, users: &[Snowflake]) -> RealtimeResult<Vec<UserPresence>> {
        let now = Instant::now();
        let state = self.state();
        Ok(users
            .iter()
            .map(|user| {
                state
                    .users
                    .get(user)
                    .map_or_else(UserPresence::offline, |e| e.shown(now))
            })
            .collect())
    }

    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<(Snowflake, Transition)>> {
        let now = Instant::now();
        let mut state = self.state();
        let mut users = Vec::new();
        while users.len() < max {
            let user = match state.expiry.first() {
                Some((expires, user, _)) if *expires <= now => *user,
                _ => break,
            };
            state.expiry.pop_first();
            // Drops the user's other expired sessions, and their index keys.
            state.entry(user, now);
            users.push(user);
        }
        Ok(users
            .into_iter()
            .filter_map(|user| Some((user, state.settle(user, now)?)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    //! What only the in-process backend shows; the behaviour every
    //! backend shares is in `conformance`.

    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn with(status: Status) -> UserPresence {
        UserPresence {
            status,
            activities: vec![serde_json::json!({ "name": "chess", "type": 0 })],
            afk: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sweeping_leaves_nothing_behind() {
        let presence = LocalPresence::new();
        for user in 0..10 {
            for session in ["x", "y"] {
                let user = Snowflake(user);
                let online = with(Status::Online);
                presence.connect(user, session, online, TTL).await.unwrap();
            }
        }
        tokio::time::advance(TTL).await;
        while !presence.sweep(3).await.unwrap().is_empty() {}
        assert_eq!(presence.sessions(), 0, "nothing left behind");
        assert!(presence.state().users.is_empty());
        let unknown = presence.update(Snowflake(1), "x", with(Status::Idle)).await;
        assert_eq!(unknown.unwrap(), Touched::Gone);
        assert!(
            presence.state().users.is_empty(),
            "a gone session adds nothing"
        );
    }

    #[test]
    fn invisible_shows_as_offline_without_activities() {
        assert_eq!(with(Status::Invisible).shown(), UserPresence::offline());
        assert_eq!(with(Status::Dnd).shown(), with(Status::Dnd));
    }
}

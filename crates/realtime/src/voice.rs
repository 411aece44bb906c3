//! Voice states: who is in which voice channel of each guild, from which
//! gateway session, with which voice token, and the one voice endpoint
//! every participant of a guild is sent to.
//!
//! One user has at most one state per guild. Every change is decided in
//! the backend in one step (under one lock here, one script in a networked
//! backend), so a join checks the channel's user limit against every
//! node's joins at once, and two nodes never both announce one leave.
//!
//! The guild's endpoint is set by its first join (the joining node's) and
//! kept while the guild has states: one voice server per guild, whichever
//! node its participants' gateways are on. It goes with the last state.
//!
//! A state lives for the TTL its session's node last gave it
//! ([`VoiceStates::renew`]), so the states of a node that died without
//! ending its sessions expire and [`VoiceStates::sweep`] removes them.
//! [`LocalVoice`] is the in-process default.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::RealtimeResult;

/// A member's voice state, as the backend keeps it: Discord's voice state
/// object without the member, plus the voice token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceState {
    pub guild_id: Snowflake,
    pub channel_id: Snowflake,
    pub user_id: Snowflake,
    /// The gateway session that owns the state.
    pub session_id: String,
    /// What the voice server checks; new on every channel change.
    pub token: String,
    /// Deafened or muted by the guild.
    pub deaf: bool,
    pub mute: bool,
    pub self_deaf: bool,
    pub self_mute: bool,
    pub self_stream: bool,
    pub self_video: bool,
    pub suppress: bool,
}

/// What the backend answers a join with.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// The state is set: `before` is what it replaced (maybe in another
    /// channel, or from another session), `endpoint` the guild's.
    Set {
        before: Option<VoiceState>,
        after: VoiceState,
        endpoint: String,
    },
    /// The channel is full: nothing changed.
    Full,
}

impl Joined {
    /// Whether the join changed the channel or the session (and so gave a
    /// new token), rather than only the self flags.
    pub fn connected(before: &Option<VoiceState>, after: &VoiceState) -> bool {
        before.as_ref().is_none_or(|b| b.token != after.token)
    }
}

/// A change the guild makes to a member's state (server mute, deafen, a
/// move).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub mute: Option<bool>,
    pub deaf: Option<bool>,
    /// The channel moved to, with the state's new token.
    pub move_to: Option<(Snowflake, String)>,
}

/// A state a node renews for its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub guild_id: Snowflake,
    pub user_id: Snowflake,
    pub session_id: String,
}

#[async_trait]
pub trait VoiceStates: Send + Sync {
    /// Sets `state` (the user joins, moves, or changes their self flags)
    /// for `ttl`. When the user already is in that channel from that
    /// session, only the flags change and the stored token is kept;
    /// otherwise, when `limit` is given, a channel holding that many other
    /// users refuses the join ([`Joined::Full`]). A guild without states
    /// takes `endpoint` as its own.
    async fn join(
        &self,
        state: VoiceState,
        limit: Option<u32>,
        endpoint: &str,
        ttl: Duration,
    ) -> RealtimeResult<Joined>;

    /// Removes the user's state in the guild if it is `session`'s (any
    /// session's when `None`); the state removed.
    async fn leave(
        &self,
        guild: Snowflake,
        user: Snowflake,
        session: Option<&str>,
    ) -> RealtimeResult<Option<VoiceState>>;

    /// Applies `change` to the user's state, if they have one; the state
    /// before and after, and the guild's endpoint.
    async fn change(
        &self,
        guild: Snowflake,
        user: Snowflake,
        change: Change,
    ) -> RealtimeResult<Option<(VoiceState, VoiceState, String)>>;

    /// The user's state in the guild.
    async fn get(&self, guild: Snowflake, user: Snowflake) -> RealtimeResult<Option<VoiceState>>;

    /// Every state in the guild, in no order.
    async fn guild(&self, guild: Snowflake) -> RealtimeResult<Vec<VoiceState>>;

    /// Keeps each of `held` another `ttl` if it is still its session's;
    /// whether it was, in the same order.
    async fn renew(&self, held: &[Held], ttl: Duration) -> RealtimeResult<Vec<bool>>;

    /// The guild's endpoint, while anyone is in voice there.
    async fn endpoint(&self, guild: Snowflake) -> RealtimeResult<Option<String>>;

    /// Makes `to` the guild's endpoint if it still is `from` (the voice
    /// server there stopped); whether this call moved it, so that of the
    /// nodes that notice, one moves the guild and tells its members.
    async fn move_endpoint(&self, guild: Snowflake, from: &str, to: &str) -> RealtimeResult<bool>;

    /// Removes up to `max` states whose TTL passed (their node stopped
    /// renewing them) and returns them, so the guilds can be told. One
    /// node runs it.
    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<VoiceState>>;
}

#[derive(Default)]
struct GuildVoice {
    endpoint: String,
    states: HashMap<Snowflake, (VoiceState, Instant)>,
}

/// Voice states in this process: one node, or nodes of one test process.
#[derive(Default)]
pub struct LocalVoice {
    guilds: Mutex<HashMap<Snowflake, GuildVoice>>,
}

impl LocalVoice {
    pub fn new() -> LocalVoice {
        LocalVoice::default()
    }

    fn guilds(&self) -> MutexGuard<'_, HashMap<Snowflake, GuildVoice>> {
        self.guilds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes the user's state, and the guild with its endpoint when it was
/// the last.
fn remove(
    guilds: &mut HashMap<Snowflake, GuildVoice>,
    guild: Snowflake,
    user: Snowflake,
) -> Option<VoiceState> {
    let entry = guilds.get_mut(&guild)?;
    let (state, _) = entry.states.remove(&user)?;
    if entry.states.is_empty() {
        guilds.remove(&guild);
    }
    Some(state)
}

#[async_trait]
impl VoiceStates for LocalVoice {
    async fn join(
        &self,
        mut state: VoiceState,
        limit: Option<u32>,
        endpoint: &str,
        ttl: Duration,
    ) -> RealtimeResult<Joined> {
        let now = Instant::now();
        let mut guilds = self.guilds();
        let entry = guilds.entry(state.guild_id).or_default();
        let before = entry.states.get(&state.user_id).map(|(s, _)| s.clone());
        let stays = before
            .as_ref()
            .is_some_and(|b| b.channel_id == state.channel_id && b.session_id == state.session_id);
        if stays {
            state.token = before.as_ref().map(|b| b.token.clone()).unwrap_or_default();
        } else if let Some(limit) = limit {
            let entering = before
                .as_ref()
                .is_none_or(|b| b.channel_id != state.channel_id);
            let others = entry
                .states
                .values()
                .filter(|(s, _)| s.channel_id == state.channel_id && s.user_id != state.user_id)
                .count();
            if entering && others >= limit as usize {
                if entry.states.is_empty() {
                    guilds.remove(&state.guild_id);
                }
                return Ok(Joined::Full);
            }
        }
        if entry.states.is_empty() {
            entry.endpoint = endpoint.to_owned();
        }
        entry
            .states
            .insert(state.user_id, (state.clone(), now + ttl));
        Ok(Joined::Set {
            before,
            after: state,
            endpoint: entry.endpoint.clone(),
        })
    }

    async fn leave(
        &self,
        guild: Snowflake,
        user: Snowflake,
        session: Option<&str>,
    ) -> RealtimeResult<Option<VoiceState>> {
        let mut guilds = self.guilds();
        let owned = guilds
            .get(&guild)
            .and_then(|g| g.states.get(&user))
            .is_some_and(|(s, _)| session.is_none_or(|id| s.session_id == id));
        Ok(if owned {
            remove(&mut guilds, guild, user)
        } else {
            None
        })
    }

    async fn change(
        &self,
        guild: Snowflake,
        user: Snowflake,
        change: Change,
    ) -> RealtimeResult<Option<(VoiceState, VoiceState, String)>> {
        let mut guilds = self.guilds();
        let Some(entry) = guilds.get_mut(&guild) else {
            return Ok(None);
        };
        let Some((state, _)) = entry.states.get_mut(&user) else {
            return Ok(None);
        };
        let before = state.clone();
        apply(state, change);
        Ok(Some((before, state.clone(), entry.endpoint.clone())))
    }

    async fn get(&self, guild: Snowflake, user: Snowflake) -> RealtimeResult<Option<VoiceState>> {
        Ok(self
            .guilds()
            .get(&guild)
            .and_then(|g| g.states.get(&user))
            .map(|(s, _)| s.clone()))
    }

    async fn guild(&self, guild: Snowflake) -> RealtimeResult<Vec<VoiceState>> {
        Ok(self.guilds().get(&guild).map_or_else(Vec::new, |g| {
            g.states.values().map(|(s, _)| s.clone()).collect()
        }))
    }

    async fn renew(&self, held: &[Held], ttl: Duration) -> RealtimeResult<Vec<bool>> {
        let until = Instant::now() + ttl;
        let mut guilds = self.guilds();
        Ok(held
            .iter()
            .map(|h| {
                let state = guilds
                    .get_mut(&h.guild_id)
                    .and_then(|g| g.states.get_mut(&h.user_id))
                    .filter(|(s, _)| s.session_id == h.session_id);
                state.map(|(_, expires)| *expires = until).is_some()
            })
            .collect())
    }

    async fn endpoint(&self, guild: Snowflake) -> RealtimeResult<Option<String>> {
        Ok(self.guilds().get(&guild).map(|g| g.endpoint.clone()))
    }

    async fn move_endpoint(&self, guild: Snowflake, from: &str, to: &str) -> RealtimeResult<bool> {
        let mut guilds = self.guilds();
        let entry = guilds.get_mut(&guild).filter(|g| g.endpoint == from);
        Ok(entry.map(|g| g.endpoint = to.to_owned()).is_some())
    }

    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<VoiceState>> {
        let now = Instant::now();
        let mut guilds = self.guilds();
        let due: Vec<(Snowflake, Snowflake)> = guilds
            .iter()
            .flat_map(|(guild, g)| {
                g.states
                    .iter()
                    .filter(|(_, (_, expires))| *expires <= now)
                    .map(|(user, _)| (*guild, *user))
            })
            .take(max)
            .collect();
        Ok(due
            .into_iter()
            .filter_map(|(guild, user)| remove(&mut guilds, guild, user))
            .collect())
    }
}

/// The one rule of a [`Change`], which a networked backend's script
/// repeats.
pub fn apply(state: &mut VoiceState, change: Change) {
    if let Some(mute) = change.mute {
        state.mute = mute;
    }
    if let Some(deaf) = change.deaf {
        state.deaf = deaf;
    }
    if let Some((channel, token)) = change.move_to {
        state.channel_id = channel;
        state.token = token;
    }
}

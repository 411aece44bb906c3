//! The session directory: which node holds each gateway session, what that
//! node needs to rebuild it elsewhere, and the dispatches a RESUME replays.
//! With one directory shared by every node, a RESUME is served by whichever
//! node the client reaches, also after the node that held the session died.
//!
//! Per session a [`SessionRecord`] (holder, user, intents, shard, the
//! gateway's own state, the last sequence and the id of the last bus event
//! its frames reflect) and its last [`FRAMES_KEPT`] [`Frame`]s. A record
//! lives for the TTL its holder last gave it: the holder renews the
//! sessions that have a connection, so one without (or whose node died)
//! expires on its own.
//!
//! Only the holder writes: [`SessionDirectory::append`] refuses a node that
//! no longer holds the session, which is how a node whose session was
//! taken over by a RESUME elsewhere ([`SessionDirectory::resume`]) learns
//! to drop it.
//!
//! Shaped for a networked backend: in Redis a record is a hash and its
//! frames a list, both with the record's TTL; `append`, `resume` and
//! `confirm` are Lua scripts that check the holder (and, for `resume`, the
//! user and the kept frames) before they write, and the batched calls run
//! as one pipeline. [`LocalSessions`] is the in-process default: memory.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use tokio::time::Instant;

/// Dispatches kept per session for RESUME.
pub const FRAMES_KEPT: usize = 1_000;

/// A node, as the bus and the directory tell them apart.
pub use concord_model::event::NodeId;

/// What a node needs to serve a session it did not create.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: Arc<str>,
    pub user_id: Snowflake,
    /// The node holding the session.
    pub node: NodeId,
    pub intents: u64,
    pub shard: [u64; 2],
    /// The gateway's own state of the session (its guilds, what its client
    /// was shown, ...), opaque here.
    pub state: String,
    /// The sequence of the last frame appended.
    pub seq: u64,
    /// The id of the last bus event the appended frames reflect: a new
    /// holder replays the events after it.
    pub last_event: u64,
}

/// One dispatch of a session, numbered for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub seq: u64,
    pub kind: Cow<'static, str>,
    /// The dispatch's `d`, shared with every session that got it.
    pub data: Arc<str>,
}

/// What a holder adds to one session's entry.
#[derive(Debug, Clone, Default)]
pub struct Append {
    pub id: Arc<str>,
    /// In sequence order. A batch that does not follow the last kept frame
    /// (frames were lost on the way) replaces what is kept: a RESUME never
    /// gets a replay with a hole in it.
    pub frames: Vec<Frame>,
    /// The record's new `last_event` (it never moves back).
    pub last_event: u64,
    /// The record's new `state`, when it changed.
    pub state: Option<String>,
    /// Keeps the session alive this long from now (it has a connection).
    pub renew: Option<Duration>,
}

/// A session taken over by [`SessionDirectory::resume`].
#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    /// The record as it was: `node` is the previous holder.
    pub record: SessionRecord,
    /// The frames after the client's sequence.
    pub frames: Vec<Frame>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionsError {
    /// The backend could not be reached or answered nonsense.
    Unavailable(String),
}

impl std::fmt::Display for SessionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionsError::Unavailable(why) => write!(f, "session directory unavailable: {why}"),
        }
    }
}

impl std::error::Error for SessionsError {}

#[async_trait]
pub trait SessionDirectory: Send + Sync {
    /// Registers a new session, held by `record.node`, for `ttl`.
    async fn create(&self, record: SessionRecord, ttl: Duration) -> Result<(), SessionsError>;

    /// Applies each batch to its session if `node` still holds it. Returns
    /// the ids it does not hold (taken over, expired or removed): their
    /// batches were refused, and the node must let them go.
    async fn append(
        &self,
        node: NodeId,
        batches: Vec<Append>,
    ) -> Result<Vec<Arc<str>>, SessionsError>;

    /// The conditional takeover behind RESUME: if the session exists, is
    /// `user`'s, and still keeps every frame after `after`, `node` becomes
    /// its holder for `ttl` and gets the record as it was with those
    /// frames; otherwise nothing changes and the answer is `None`.
    async fn resume(
        &self,
        id: &str,
        user: Snowflake,
        node: NodeId,
        after: u64,
        ttl: Duration,
    ) -> Result<Option<Resumed>, SessionsError>;

    /// The client has every frame up to `seq`: they are freed.
    async fn confirm(&self, id: &str, node: NodeId, seq: u64) -> Result<(), SessionsError>;

    /// Ends sessions `node` holds; the others are left alone.
    async fn remove(&self, node: NodeId, ids: Vec<Arc<str>>) -> Result<(), SessionsError>;
}

struct Entry {
    record: SessionRecord,
    frames: VecDeque<Frame>,
    expires: Instant,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires > now
    }
}

const SHARDS: usize = 32;
/// How often [`LocalSessions`] looks for expired entries.
const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// The in-process directory: entries in memory, in shards so that the
/// nodes' appends rarely meet on one lock. Frames are kept as given (their
/// payloads shared, not copied), so a single node pays a few pointer
/// copies per dispatch for it.
pub struct LocalSessions {
    shards: Vec<Mutex<HashMap<Arc<str>, Entry>>>,
    hasher: RandomState,
    kept: usize,
    next_sweep: Mutex<Instant>,
}

impl Default for LocalSessions {
    fn default() -> Self {
        LocalSessions::new(FRAMES_KEPT)
    }
}

impl LocalSessions {
    /// A directory keeping at most `kept` frames per session.
    pub fn new(kept: usize) -> LocalSessions {
        LocalSessions {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            kept: kept.max(1),
            next_sweep: Mutex::new(Instant::now() + SWEEP_EVERY),
        }
    }

    fn shard(&self, id: &str) -> MutexGuard<'_, HashMap<Arc<str>, Entry>> {
        let index = self.hasher.hash_one(id) as usize % SHARDS;
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops expired entries, at most once per [`SWEEP_EVERY`]; between
    /// sweeps an expired entry is only ignored.
    fn sweep(&self, now: Instant) {
        {
            let mut next = self.next_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if *next > now {
                return;
            }
            *next = now + SWEEP_EVERY;
        }
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|_, entry| entry.live(now));
        }
    }

    /// Entries not yet swept, expired or not (for tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn apply(&self, entry: &mut Entry, batch: Append, now: Instant) {
        if let Some(first) = batch.frames.first()
            && first.seq != entry.record.seq + 1
        {
            entry.frames.clear();
        }
        if let Some(last) = batch.frames.last() {
            entry.record.seq = last.seq;
        }
        entry.frames.extend(batch.frames);
        let excess = entry.frames.len().saturating_sub(self.kept);
        entry.frames.drain(..excess);
        entry.record.last_event = entry.record.last_event.max(batch.last_event);
        if let Some(state) = batch.state {
            entry.record.state = state;
        }
        if let Some(ttl) = batch.renew {
            entry.expires = now + ttl;
        }
    }
}

#[async_trait]
impl SessionDirectory for LocalSessions {
    async fn create(&self, record: SessionRecord, ttl: Duration) -> Result<(), SessionsError> {
        let now = Instant::now();
        self.sweep(now);
        let entry = Entry {
            record,
            frames: VecDeque::new(),
            expires: now + ttl,
        };
        self.shard(&entry.record.id)
            .insert(Arc::clone(&entry.record.id), entry);
        Ok(())
    }

    async fn append(
        &self,
        node: NodeId,
        batches: Vec<Append>,
    ) -> Result<Vec<Arc<str>>, SessionsError> {
        let now = Instant::now();
        let mut refused = Vec::new();
        for batch in batches {
            let mut shard = self.shard(&batch.id);
            match shard.get_mut(&batch.id) {
                Some(entry) if entry.live(now) && entry.record.node == node => {
                    self.apply(entry, batch, now)
                }
                _ => refused.push(batch.id),
            }
        }
        Ok(refused)
    }

    async fn resume(
        &self,
        id: &str,
        user: Snowflake,
        node: NodeId,
        after: u64,
        ttl: Duration,
    ) -> Result<Option<Resumed>, SessionsError> {
        let now = Instant::now();
        let mut shard = self.shard(id);
        let Some(entry) = shard.get_mut(id).filter(|e| e.live(now)) else {
            return Ok(None);
        };
        let seq = entry.record.seq;
        let oldest = entry.frames.front().map_or(seq + 1, |f| f.seq);
        if entry.record.user_id != user || after > seq || after + 1 < oldest {
            return Ok(None);
        }
        let record = entry.record.clone();
        let frames = entry
            .frames
            .iter()
            .skip_while(|f| f.seq <= after)
            .cloned()
            .collect();
        entry.record.node = node;
        entry.expires = now + ttl;
        Ok(Some(Resumed { record, frames }))
    }

    async fn confirm(&self, id: &str, node: NodeId, seq: u64) -> Result<(), SessionsError> {
        let mut shard = self.shard(id);
        if let Some(entry) = shard.get_mut(id).filter(|e| e.record.node == node) {
            while entry.frames.front().is_some_and(|f| f.seq <= seq) {
                entry.frames.pop_front();
            }
            // A session whose client has everything holds no buffer.
            if entry.frames.is_empty() {
                entry.frames = VecDeque::new();
            }
        }
        Ok(())
    }

    async fn remove(&self, node: NodeId, ids: Vec<Arc<str>>) -> Result<(), SessionsError> {
        for id in ids {
            let mut shard = self.shard(&id);
            if shard.get(&id).is_some_and(|e| e.record.node == node) {
                shard.remove(&id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! What only the in-process backend shows; the behaviour every
    //! backend shares is in `conformance`.

    use super::*;

    const TTL: Duration = Duration::from_secs(180);
    const A: NodeId = NodeId(1);
    const USER: Snowflake = Snowflake(7);

    fn record(id: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            user_id: USER,
            node: A,
            intents: 513,
            shard: [0, 1],
            state: "{}".into(),
            seq: 0,
            last_event: 10,
        }
    }

    /// Frames `seqs` for session `s`.
    fn frames(seqs: std::ops::RangeInclusive<u64>) -> Append {
        let frames = seqs
            .map(|seq| Frame {
                seq,
                kind: Cow::Borrowed("MESSAGE_CREATE"),
                data: seq.to_string().into(),
            })
            .collect();
        Append {
            id: "s".into(),
            frames,
            ..Append::default()
        }
    }

    #[tokio::test]
    async fn the_frames_kept_are_bounded_as_asked() {
        let d = LocalSessions::new(4);
        d.create(record("s"), TTL).await.unwrap();
        d.append(A, vec![frames(1..=10)]).await.unwrap();
        assert!(d.resume("s", USER, A, 5, TTL).await.unwrap().is_none());
        let resumed = d.resume("s", USER, A, 6, TTL).await.unwrap().unwrap();
        assert_eq!(resumed.frames.len(), 4);
    }

    /// An idle session whose client confirmed everything holds no frames'
    /// buffer (every idle socket would otherwise keep one).
    #[tokio::test]
    async fn confirming_everything_lets_the_buffer_go() {
        let d = LocalSessions::new(100);
        d.create(record("s"), TTL).await.unwrap();
        d.append(A, vec![frames(1..=3)]).await.unwrap();
        let capacity = |d: &LocalSessions| d.shard("s").get("s").unwrap().frames.capacity();
        d.confirm("s", A, 2).await.unwrap();
        assert!(capacity(&d) > 0, "a frame is still kept");
        d.confirm("s", A, 3).await.unwrap();
        assert_eq!(capacity(&d), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_swept() {
        let d = LocalSessions::default();
        d.create(record("left"), TTL).await.unwrap();
        tokio::time::advance(TTL + SWEEP_EVERY).await;
        d.create(record("new"), TTL).await.unwrap();
        assert_eq!(d.len(), 1, "the expired entry was swept");
    }
}

//! A session: what survives a dropped socket. It numbers dispatches and
//! keeps the last [`RESUME_BUFFER`] of them for RESUME; the socket task of
//! the connection attached to it drains the frames it has not sent yet.
//!
//! Frames hold the event's serialized `d` by reference, shared with every
//! other session that got the same event; only the envelope (`op`, `s`,
//! `t`) is written per session, at send time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use concord_model::Snowflake;
use concord_realtime::UserPresence;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Dispatches kept for RESUME.
pub(crate) const RESUME_BUFFER: usize = 1_000;
/// Unsent dispatches after which a connection is a slow consumer and is
/// dropped (the session stays resumable).
pub(crate) const MAX_UNSENT: u64 = 500;

/// One dispatch, numbered for this session.
#[derive(Clone)]
pub(crate) struct Frame {
    pub(crate) seq: u64,
    pub(crate) kind: &'static str,
    pub(crate) data: Arc<str>,
}

/// The socket currently serving a session.
#[derive(Clone)]
pub(crate) struct Attachment {
    pub(crate) id: u64,
    /// Rung when frames are waiting.
    pub(crate) wake: Arc<Notify>,
    /// Rung to make the connection let go (slow consumer, takeover).
    pub(crate) kick: Arc<Notify>,
}

struct State {
    seq: u64,
    buffer: VecDeque<Frame>,
    /// Highest seq handed to the socket.
    sent: u64,
    attached: Option<Attachment>,
    detached_at: Option<Instant>,
    /// Unsent frames were evicted, or events lost on the bus: a resume
    /// would lose events.
    broken: bool,
    /// The connection is to be told to reconnect (op 7) as it goes.
    reconnect: bool,
    guilds: HashSet<Snowflake>,
    /// A person's view: per guild, the channels their client was told of
    /// (by GUILD_CREATE, then CHANNEL_CREATE/DELETE as the view changes).
    /// Bots see every channel and keep nothing here.
    visible: HashMap<Snowflake, HashSet<Snowflake>>,
    /// Events that arrived before READY was queued, in order.
    pending: Option<Vec<(&'static str, Arc<str>)>>,
    /// What the client last set, restored when it resumes.
    presence: Option<UserPresence>,
}

pub(crate) struct Session {
    pub(crate) id: Arc<str>,
    pub(crate) user_id: Snowflake,
    pub(crate) bot: bool,
    pub(crate) intents: u64,
    pub(crate) shard: [u64; 2],
    pub(crate) large_threshold: u64,
    state: Mutex<State>,
}

/// What pushing a frame found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// The attached connection is too far behind and was told to go.
    Kicked,
}

impl Session {
    pub(crate) fn new(
        id: Arc<str>,
        user_id: Snowflake,
        bot: bool,
        intents: u64,
        shard: [u64; 2],
        large_threshold: u64,
    ) -> Session {
        Session {
            id,
            user_id,
            bot,
            intents,
            shard,
            large_threshold,
            state: Mutex::new(State {
                seq: 0,
                buffer: VecDeque::new(),
                sent: 0,
                attached: None,
                detached_at: None,
                broken: false,
                reconnect: false,
                guilds: HashSet::new(),
                visible: HashMap::new(),
                pending: Some(Vec::new()),
                presence: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers a dispatch, buffers it and wakes the connection.
    pub(crate) fn push(&self, kind: &'static str, data: Arc<str>) -> Pushed {
        let mut s = self.lock();
        if let Some(pending) = &mut s.pending {
            pending.push((kind, data));
            return Pushed::Queued;
        }
        Self::number(&mut s, kind, data)
    }

    /// Queues the opening frames (READY first), then whatever arrived
    /// while they were being built.
    pub(crate) fn open(&self, opening: Vec<(&'static str, Arc<str>)>) {
        let mut s = self.lock();
        let held = s.pending.take().unwrap_or_default();
        for (kind, data) in opening.into_iter().chain(held) {
            Self::number(&mut s, kind, data);
        }
    }

    fn number(s: &mut State, kind: &'static str, data: Arc<str>) -> Pushed {
        s.seq += 1;
        let seq = s.seq;
        s.buffer.push_back(Frame { seq, kind, data });
        if s.buffer.len() > RESUME_BUFFER
            && let Some(evicted) = s.buffer.pop_front()
            && evicted.seq > s.sent
        {
            s.broken = true;
        }
        let Some(attachment) = &s.attached else {
            return Pushed::Queued;
        };
        if seq - s.sent > MAX_UNSENT {
            // Let go at once: the connection is told once (and logged
            // once), however many events follow before it has closed.
            attachment.kick.notify_one();
            s.attached = None;
            s.detached_at = Some(Instant::now());
            return Pushed::Kicked;
        }
        attachment.wake.notify_one();
        Pushed::Queued
    }

    /// The user's tokens no longer hold: the connection is closed and the
    /// session cannot be resumed.
    pub(crate) fn revoke(&self) {
        let mut s = self.lock();
        s.broken = true;
        if let Some(attachment) = &s.attached {
            attachment.kick.notify_one();
        }
    }

    /// Events the session should have had were lost on the bus: its
    /// connection (now, or the one that attaches next) is told to
    /// reconnect (op 7) and its RESUME fails (op 9), so the client
    /// identifies afresh and loads the current state.
    pub(crate) fn lose_events(&self) {
        let mut s = self.lock();
        s.broken = true;
        s.reconnect = true;
        if let Some(attachment) = &s.attached {
            attachment.kick.notify_one();
        }
    }

    /// Whether the connection that is let go should send op 7 first.
    pub(crate) fn take_reconnect(&self) -> bool {
        std::mem::take(&mut self.lock().reconnect)
    }

    /// The client confirmed (in a heartbeat) that it received every frame up
    /// to `seq`: a resume can never ask for them again, so they are freed.
    pub(crate) fn confirm(&self, seq: u64) {
        let mut s = self.lock();
        let upto = seq.min(s.sent);
        while s.buffer.front().is_some_and(|f| f.seq <= upto) {
            s.buffer.pop_front();
        }
    }

    /// Frames not yet handed to the socket, marked as handed. They are the
    /// buffer's tail, since frames are numbered in order.
    pub(crate) fn take_unsent(&self) -> Vec<Frame> {
        let mut s = self.lock();
        let unsent = usize::try_from(s.seq - s.sent)
            .unwrap_or(usize::MAX)
            .min(s.buffer.len());
        let frames = s.buffer.range(s.buffer.len() - unsent..).cloned().collect();
        s.sent = s.seq;
        frames
    }

    /// Attaches a new connection, replacing (and kicking) any previous one.
    pub(crate) fn attach(&self, attachment: Attachment) {
        Self::attach_locked(&mut self.lock(), attachment);
    }

    /// Attaches a resuming connection: the frames after `from` are replayed,
    /// then RESUMED. Fails if they are no longer all buffered.
    pub(crate) fn resume(&self, attachment: Attachment, from: u64) -> Result<(), ()> {
        let mut s = self.lock();
        let oldest = s.buffer.front().map_or(s.seq + 1, |f| f.seq);
        if s.broken || from > s.seq || from + 1 < oldest {
            return Err(());
        }
        s.sent = from;
        // Numbered before attaching: a long replay is not a slow consumer.
        Self::number(&mut s, "RESUMED", "{}".into());
        Self::attach_locked(&mut s, attachment);
        Ok(())
    }

    fn attach_locked(s: &mut State, attachment: Attachment) {
        attachment.wake.notify_one();
        if s.reconnect {
            attachment.kick.notify_one();
        }
        if let Some(old) = s.attached.replace(attachment) {
            old.kick.notify_one();
        }
        s.detached_at = None;
    }

    /// Lets go of the session if `id` is still the attached connection.
    pub(crate) fn detach(&self, id: u64) {
        let mut s = self.lock();
        if s.attached.as_ref().is_some_and(|a| a.id == id) {
            s.attached = None;
            s.detached_at = Some(Instant::now());
        }
    }

    #[cfg(test)]
    pub(crate) fn is_attached(&self) -> bool {
        self.lock().attached.is_some()
    }

    pub(crate) fn set_presence(&self, presence: UserPresence) {
        self.lock().presence = Some(presence);
    }

    pub(crate) fn presence(&self) -> Option<UserPresence> {
        self.lock().presence.clone()
    }

    /// When the session lost its connection, if it has none now.
    pub(crate) fn detached_since(&self) -> Option<Instant> {
        self.lock().detached_at
    }

    pub(crate) fn guilds(&self) -> Vec<Snowflake> {
        self.lock().guilds.iter().copied().collect()
    }

    pub(crate) fn set_guilds(&self, guilds: impl IntoIterator<Item = Snowflake>) {
        self.lock().guilds = guilds.into_iter().collect();
    }

    pub(crate) fn add_guild(&self, guild: Snowflake) -> bool {
        self.lock().guilds.insert(guild)
    }

    pub(crate) fn remove_guild(&self, guild: Snowflake) {
        let mut state = self.lock();
        state.guilds.remove(&guild);
        state.visible.remove(&guild);
    }

    /// Adds the channels a GUILD_CREATE told this person's client of. Added
    /// to, not replacing, what channel events already recorded: an event
    /// read after the snapshot is delivered after it, and a channel wrongly
    /// kept costs at most a CHANNEL_DELETE the client ignores.
    pub(crate) fn add_visible(
        &self,
        guild: Snowflake,
        channels: impl IntoIterator<Item = Snowflake>,
    ) {
        if !self.bot {
            self.lock()
                .visible
                .entry(guild)
                .or_default()
                .extend(channels);
        }
    }

    /// Records whether the client now knows a channel; returns whether it did.
    pub(crate) fn mark_visible(&self, guild: Snowflake, channel: Snowflake, now: bool) -> bool {
        let mut state = self.lock();
        let known = state.visible.entry(guild).or_default();
        if now {
            !known.insert(channel)
        } else {
            known.remove(&channel)
        }
    }

    pub(crate) fn has_intent(&self, intent: u64) -> bool {
        self.intents & intent == intent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(id: u64) -> Attachment {
        Attachment {
            id,
            wake: Arc::new(Notify::new()),
            kick: Arc::new(Notify::new()),
        }
    }

    fn session() -> Session {
        let s = Session::new("s".into(), Snowflake(1), true, 0, [0, 1], 50);
        s.open(Vec::new());
        s
    }

    #[test]
    fn events_before_ready_follow_it() {
        let s = Session::new("s".into(), Snowflake(1), true, 0, [0, 1], 50);
        s.push("EARLY", "{}".into());
        s.open(vec![("READY", "{}".into())]);
        let kinds: Vec<_> = s.take_unsent().iter().map(|f| (f.seq, f.kind)).collect();
        assert_eq!(kinds, [(1, "READY"), (2, "EARLY")]);
    }

    #[test]
    fn frames_are_numbered_and_drained_once() {
        let s = session();
        s.attach(attachment(1));
        for _ in 0..3 {
            assert_eq!(s.push("X", "{}".into()), Pushed::Queued);
        }
        let seqs: Vec<u64> = s.take_unsent().iter().map(|f| f.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(s.take_unsent().is_empty());
    }

    #[test]
    fn resume_replays_what_followed_the_given_seq() {
        let s = session();
        s.attach(attachment(1));
        for _ in 0..5 {
            s.push("X", "{}".into());
        }
        s.take_unsent();
        s.detach(1);
        s.push("X", "{}".into());
        s.resume(attachment(2), 3).unwrap();
        let frames: Vec<(u64, &str)> = s.take_unsent().iter().map(|f| (f.seq, f.kind)).collect();
        assert_eq!(frames, [(4, "X"), (5, "X"), (6, "X"), (7, "RESUMED")]);
        assert!(s.resume(attachment(3), 9).is_err(), "a seq from the future");
    }

    #[test]
    fn confirmed_frames_are_freed_and_cannot_be_resumed_from() {
        let s = session();
        s.attach(attachment(1));
        for _ in 0..4 {
            s.push("X", "{}".into());
        }
        s.confirm(3);
        assert_eq!(
            s.take_unsent().len(),
            4,
            "only sent frames can be confirmed"
        );
        s.confirm(3);
        assert!(
            s.resume(attachment(2), 3).is_ok(),
            "resuming from the confirmed seq works"
        );
        assert!(
            s.resume(attachment(3), 1).is_err(),
            "frames 2 and 3 are gone"
        );
    }

    /// The kick (and its log line) happens once, however many events
    /// follow before the connection has closed.
    #[test]
    fn a_slow_consumer_is_kicked_once() {
        let s = session();
        s.attach(attachment(1));
        let kicks = (0..MAX_UNSENT + 10)
            .filter(|_| s.push("X", "{}".into()) == Pushed::Kicked)
            .count();
        assert_eq!(kicks, 1);
        assert!(!s.is_attached(), "the session let go of the connection");
    }

    #[test]
    fn a_slow_connection_is_kicked_and_an_evicted_backlog_cannot_resume() {
        let s = session();
        s.attach(attachment(1));
        let mut kicked = false;
        for _ in 0..=MAX_UNSENT {
            kicked |= s.push("X", "{}".into()) == Pushed::Kicked;
        }
        assert!(kicked);
        s.detach(1);
        assert!(
            s.resume(attachment(2), 0).is_ok(),
            "still resumable while buffered"
        );
        assert_eq!(
            s.push("X", "{}".into()),
            Pushed::Kicked,
            "a backlog over the limit is still a slow reader"
        );
        s.detach(2);
        for _ in 0..RESUME_BUFFER {
            s.push("X", "{}".into());
        }
        assert!(
            s.resume(attachment(3), 0).is_err(),
            "unsent frames were evicted"
        );
    }
}

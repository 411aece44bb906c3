//! A session: what survives a dropped socket. It numbers dispatches; the
//! frames a RESUME replays live in the session directory (the realtime
//! seam, shared by the nodes of a cluster), so any node can serve it. A
//! frame goes to the directory before it goes to the socket: whatever a
//! client has seen, a RESUME elsewhere can replay.
//!
//! Frames hold the event's serialized `d` by reference, shared with every
//! other session that got the same event; only the envelope (`op`, `s`,
//! `t`) is written per session, at send time.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use concord_model::Snowflake;
use concord_realtime::UserPresence;
use concord_realtime::sessions::{FRAMES_KEPT, Frame, NodeId, SessionRecord};
use concord_service::Caller;
use concord_service::access::TokenOwner;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::directory::{Batch, Cursor};

/// Unsent dispatches after which a connection is a slow consumer and is
/// dropped (the session stays resumable).
pub(crate) const MAX_UNSENT: usize = 500;

/// The socket currently serving a session.
#[derive(Clone)]
pub(crate) struct Attachment {
    pub(crate) id: u64,
    /// Rung when frames are waiting.
    pub(crate) wake: Arc<Notify>,
    /// Rung to make the connection let go (slow consumer, takeover).
    pub(crate) kick: Arc<Notify>,
}

/// A dispatch held back until READY (or a resumed session's catch-up) is
/// queued, with the bus event it came from.
struct Held {
    kind: &'static str,
    data: Arc<str>,
    event: u64,
}

struct State {
    seq: u64,
    /// Numbered frames not yet in the directory.
    queue: VecDeque<Frame>,
    /// Frames in the directory, not yet handed to the socket.
    outbox: Vec<Frame>,
    attached: Option<Attachment>,
    detached_at: Option<Instant>,
    /// The user's tokens no longer hold, events were lost on the bus, or
    /// another node took the session over: it cannot resume here.
    broken: bool,
    /// The connection is to be told to reconnect (op 7) as it goes.
    reconnect: bool,
    /// Broken because the user's tokens no longer hold: it ends for good
    /// (whereas a session taken over or behind the bus lives on elsewhere).
    revoked: bool,
    guilds: HashSet<Snowflake>,
    /// A person's view: per guild, the channels their client was told of
    /// (by GUILD_CREATE, then CHANNEL_CREATE/DELETE as the view changes).
    /// Bots see every channel and keep nothing here.
    visible: HashMap<Snowflake, HashSet<Snowflake>>,
    /// Events that arrived before READY was queued, in order.
    pending: Option<Vec<Held>>,
    /// What the client last set, restored when it resumes.
    presence: Option<UserPresence>,
    /// Guilds where the session may own the user's voice state: it renews
    /// those and leaves them when it ends.
    voice: HashSet<Snowflake>,
    /// Per guild, the members whose presences the client asked for (op 8
    /// with presences, op 14, op 37): in a guild large for this session,
    /// it hears of those members' presences only.
    follows: HashMap<Snowflake, HashSet<Snowflake>>,
    /// Guilds, view or presence changed since the directory got them.
    dirty: bool,
    /// Bus events up to this id are in the session's frames, however far
    /// the node's fan-out got (a taken-over session's catch-up read the
    /// history ahead of it).
    caught_up: u64,
}

/// What another node needs, besides the record's own fields, to rebuild a
/// session: the record's opaque `state`.
#[derive(Serialize, Deserialize)]
struct Saved {
    bot: bool,
    /// The generation of the user's tokens the session was opened with.
    #[serde(default)]
    token_generation: u64,
    large_threshold: u64,
    guilds: Vec<Snowflake>,
    visible: Vec<(Snowflake, Vec<Snowflake>)>,
    presence: Option<UserPresence>,
    #[serde(default)]
    voice: Vec<Snowflake>,
    /// Followed members, per guild: a session resumed on another node
    /// hears of the same presences without its client asking again.
    #[serde(default)]
    follows: Vec<(Snowflake, Vec<Snowflake>)>,
}

pub(crate) struct Session {
    pub(crate) id: Arc<str>,
    pub(crate) user_id: Snowflake,
    pub(crate) bot: bool,
    /// The generation of the user's tokens it was opened with: a
    /// revocation ends it only if it moved past this one.
    pub(crate) token_generation: u64,
    pub(crate) intents: u64,
    pub(crate) shard: [u64; 2],
    pub(crate) large_threshold: u64,
    /// The node's fan-out position, read to tag held events.
    cursor: Arc<Cursor>,
    state: Mutex<State>,
    /// Held while frames move to the directory, so batches go in order.
    pub(crate) sync: tokio::sync::Mutex<()>,
}

/// Members a session may follow the presences of, across its guilds: a
/// client names the members it shows (Discord's member list holds about a
/// hundred at a time), so this bounds the session's memory and what it
/// saves.
pub(crate) const FOLLOWED_AT_MOST: usize = 2000;

/// What [`Session::follow`] changed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Followed {
    pub(crate) added: Vec<Snowflake>,
    pub(crate) dropped: Vec<Snowflake>,
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
        owner: TokenOwner,
        intents: u64,
        shard: [u64; 2],
        large_threshold: u64,
        cursor: Arc<Cursor>,
    ) -> Session {
        Session {
            id,
            user_id: owner.caller.id,
            bot: owner.caller.bot,
            token_generation: owner.generation,
            intents,
            shard,
            large_threshold,
            cursor,
            state: Mutex::new(State {
                seq: 0,
                queue: VecDeque::new(),
                outbox: Vec::new(),
                attached: None,
                detached_at: None,
                broken: false,
                reconnect: false,
                revoked: false,
                guilds: HashSet::new(),
                visible: HashMap::new(),
                pending: Some(Vec::new()),
                presence: None,
                voice: HashSet::new(),
                follows: HashMap::new(),
                dirty: true,
                caught_up: 0,
            }),
            sync: tokio::sync::Mutex::new(()),
        }
    }

    /// The session a record describes, as its holder left it: numbering
    /// goes on after the record's sequence. Events are held back until
    /// [`Session::open`], as for a new one.
    pub(crate) fn rebuild(record: &SessionRecord, cursor: Arc<Cursor>) -> Option<Session> {
        let saved: Saved = serde_json::from_str(&record.state).ok()?;
        let owner = TokenOwner {
            caller: Caller {
                id: record.user_id,
                bot: saved.bot,
            },
            generation: saved.token_generation,
        };
        let session = Session::new(
            Arc::clone(&record.id),
            owner,
            record.intents,
            record.shard,
            saved.large_threshold,
            cursor,
        );
        {
            let mut s = session.lock();
            s.seq = record.seq;
            s.guilds = saved.guilds.into_iter().collect();
            s.visible = saved
                .visible
                .into_iter()
                .map(|(guild, channels)| (guild, channels.into_iter().collect()))
                .collect();
            s.presence = saved.presence;
            s.voice = saved.voice.into_iter().collect();
            s.follows = saved
                .follows
                .into_iter()
                .map(|(guild, members)| (guild, members.into_iter().collect()))
                .collect();
            s.detached_at = Some(Instant::now());
        }
        Some(session)
    }

    /// The record a new session starts the directory with.
    pub(crate) fn record(&self, node: NodeId, last_event: u64) -> SessionRecord {
        let state = self.saved_state(&mut self.lock());
        SessionRecord {
            id: Arc::clone(&self.id),
            user_id: self.user_id,
            node,
            intents: self.intents,
            shard: self.shard,
            state,
            seq: 0,
            last_event,
        }
    }

    fn saved_state(&self, s: &mut State) -> String {
        s.dirty = false;
        let saved = Saved {
            bot: self.bot,
            token_generation: self.token_generation,
            large_threshold: self.large_threshold,
            guilds: s.guilds.iter().copied().collect(),
            visible: s
                .visible
                .iter()
                .map(|(guild, channels)| (*guild, channels.iter().copied().collect()))
                .collect(),
            presence: s.presence.clone(),
            voice: s.voice.iter().copied().collect(),
            follows: s
                .follows
                .iter()
                .map(|(guild, members)| (*guild, members.iter().copied().collect()))
                .collect(),
        };
        serde_json::to_string(&saved).unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers a dispatch, queues it and wakes the connection.
    pub(crate) fn push(&self, kind: &'static str, data: Arc<str>) -> Pushed {
        self.push_as(kind, data, false)
    }

    /// Pushes what the fan-out routed here from the bus event it is
    /// delivering: a session caught up from the bus history ahead of the
    /// fan-out already has what it delivers up to there.
    pub(crate) fn push_event(&self, kind: &'static str, data: Arc<str>) -> Pushed {
        self.push_as(kind, data, true)
    }

    fn push_as(&self, kind: &'static str, data: Arc<str>, routed: bool) -> Pushed {
        let mut s = self.lock();
        let event = self.cursor.delivering();
        if let Some(pending) = &mut s.pending {
            pending.push(Held { kind, data, event });
            return Pushed::Queued;
        }
        if routed && event != 0 && event <= s.caught_up {
            return Pushed::Queued;
        }
        Self::number(&mut s, kind, data)
    }

    /// Queues the opening frames (READY first), then whatever arrived
    /// while they were being built.
    pub(crate) fn open(&self, opening: Vec<(&'static str, Arc<str>)>) {
        self.open_after(opening, 0);
    }

    /// As [`Session::open`], dropping held events up to `caught_up`: the
    /// opening frames already reflect them.
    pub(crate) fn open_after(&self, opening: Vec<(&'static str, Arc<str>)>, caught_up: u64) {
        let mut s = self.lock();
        let held = s.pending.take().unwrap_or_default();
        let held = held
            .into_iter()
            .filter(|h| h.event == 0 || h.event > caught_up)
            .map(|h| (h.kind, h.data));
        for (kind, data) in opening.into_iter().chain(held) {
            Self::number(&mut s, kind, data);
        }
    }

    fn number(s: &mut State, kind: &'static str, data: Arc<str>) -> Pushed {
        s.seq += 1;
        let seq = s.seq;
        s.queue.push_back(Frame {
            seq,
            kind: Cow::Borrowed(kind),
            data,
        });
        // Never moved to the directory (a session without a connection
        // between two syncs): the next batch starts after a hole, which
        // the directory does not paper over.
        if s.queue.len() > FRAMES_KEPT {
            s.queue.pop_front();
        }
        let Some(attachment) = &s.attached else {
            return Pushed::Queued;
        };
        if s.queue.len() + s.outbox.len() > MAX_UNSENT {
            // Let go at once: the connection is told once (and logged
            // once), however many events follow before it has closed.
            attachment.kick.notify_one();
            s.attached = None;
            s.detached_at = Some(Instant::now());
            s.outbox.clear();
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
        s.revoked = true;
        if let Some(attachment) = &s.attached {
            attachment.kick.notify_one();
        }
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.lock().broken
    }

    pub(crate) fn is_revoked(&self) -> bool {
        self.lock().revoked
    }

    /// The sequence of the last frame numbered.
    pub(crate) fn numbered(&self) -> u64 {
        self.lock().seq
    }

    /// Events the session should have had were lost on the bus: its
    /// connection (now, or the one that attaches next) is told to
    /// reconnect (op 7). Nothing more of it is stored, so its RESUME goes
    /// through the directory and the bus history, as a takeover does, and
    /// fails (op 9) where that history no longer reaches: never past the
    /// hole.
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

    /// Another node took the session over: its connection here (if any)
    /// lets go.
    pub(crate) fn lose(&self) {
        let mut s = self.lock();
        s.broken = true;
        if let Some(attachment) = s.attached.take() {
            attachment.kick.notify_one();
        }
        s.outbox.clear();
    }

    /// Ends the catch-up of a session taken over from another node: the
    /// frames `twin` numbered from the bus history (after the record's
    /// sequence) come first, with the view they left, then the events held
    /// meanwhile that the history did not cover (after `caught_up`). The
    /// guilds are the caller's to follow, through the hub's index.
    pub(crate) fn catch_up(&self, twin: &Session, caught_up: u64) {
        let (seq, queue, visible) = {
            let mut t = twin.lock();
            (
                t.seq,
                std::mem::take(&mut t.queue),
                std::mem::take(&mut t.visible),
            )
        };
        {
            let mut s = self.lock();
            s.seq = seq;
            s.queue = queue;
            s.visible = visible;
            s.dirty = true;
            s.caught_up = caught_up;
        }
        self.open_after(Vec::new(), caught_up);
    }

    /// Takes what the directory has not got yet, and how far in the bus
    /// it reaches given that the fan-out finished `delivered`. `None`
    /// while events are held back (the session is still opening: nothing
    /// of it may be claimed as delivered) and once it is broken (its
    /// record keeps what it reflected before).
    pub(crate) fn take_batch(&self, delivered: u64) -> Option<Batch> {
        let mut s = self.lock();
        if s.pending.is_some() || s.broken {
            return None;
        }
        Some(Batch {
            // The queue's buffer goes with its frames: an idle session
            // holds none.
            frames: Vec::from(std::mem::take(&mut s.queue)),
            state: s.dirty.then(|| self.saved_state(&mut s)),
            last_event: delivered.max(s.caught_up),
        })
    }

    /// A batch the directory could not take goes back where it was.
    pub(crate) fn requeue(&self, frames: Vec<Frame>, state_sent: bool) {
        let mut s = self.lock();
        for frame in frames.into_iter().rev() {
            s.queue.push_front(frame);
        }
        s.dirty |= state_sent;
    }

    /// Frames now in the directory: the attached connection writes them
    /// (woken with `wake`, unless it is the one storing them).
    pub(crate) fn stored(&self, frames: Vec<Frame>, wake: bool) {
        let mut s = self.lock();
        if let Some(attachment) = &s.attached {
            if wake && !frames.is_empty() {
                attachment.wake.notify_one();
            }
            if s.outbox.is_empty() {
                s.outbox = frames;
            } else {
                s.outbox.extend(frames);
            }
        }
    }

    /// Frames for the socket, in order.
    pub(crate) fn take_outbox(&self) -> Vec<Frame> {
        std::mem::take(&mut self.lock().outbox)
    }

    /// Attaches a new connection, replacing (and kicking) any previous one.
    pub(crate) fn attach(&self, attachment: Attachment) {
        Self::attach_locked(&mut self.lock(), attachment);
    }

    /// Attaches a resuming connection: `replay` (the frames after the
    /// client's sequence, from the directory) goes first, then RESUMED.
    pub(crate) fn resume(&self, attachment: Attachment, replay: Vec<Frame>) {
        let mut s = self.lock();
        s.outbox = replay;
        // Numbered before attaching: a long replay is not a slow consumer.
        Self::number(&mut s, "RESUMED", "{}".into());
        Self::attach_locked(&mut s, attachment);
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
            // In the directory: a RESUME replays them.
            s.outbox.clear();
        }
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.lock().attached.is_some()
    }

    pub(crate) fn set_presence(&self, presence: UserPresence) {
        let mut s = self.lock();
        s.presence = Some(presence);
        s.dirty = true;
    }

    pub(crate) fn presence(&self) -> Option<UserPresence> {
        self.lock().presence.clone()
    }

    /// The session asked to join a voice channel in `guild`.
    pub(crate) fn add_voice(&self, guild: Snowflake) {
        let mut s = self.lock();
        if s.voice.insert(guild) {
            s.dirty = true;
        }
    }

    /// The guilds where the session may own a voice state.
    pub(crate) fn voice_guilds(&self) -> Vec<Snowflake> {
        self.lock().voice.iter().copied().collect()
    }

    /// The session no longer owns a voice state in `guild`.
    pub(crate) fn drop_voice(&self, guild: Snowflake) {
        let mut s = self.lock();
        if s.voice.remove(&guild) {
            s.dirty = true;
        }
    }

    /// When the session lost its connection, if it has none now.
    pub(crate) fn detached_since(&self) -> Option<Instant> {
        self.lock().detached_at
    }

    pub(crate) fn guilds(&self) -> Vec<Snowflake> {
        self.lock().guilds.iter().copied().collect()
    }

    pub(crate) fn set_guilds(&self, guilds: impl IntoIterator<Item = Snowflake>) {
        let mut s = self.lock();
        s.guilds = guilds.into_iter().collect();
        s.dirty = true;
    }

    pub(crate) fn add_guild(&self, guild: Snowflake) -> bool {
        let mut s = self.lock();
        let added = s.guilds.insert(guild);
        s.dirty |= added;
        added
    }

    /// Leaves `guild`; returns the members it followed there.
    pub(crate) fn remove_guild(&self, guild: Snowflake) -> Vec<Snowflake> {
        let mut state = self.lock();
        state.guilds.remove(&guild);
        state.visible.remove(&guild);
        state.dirty = true;
        let followed = state.follows.remove(&guild).unwrap_or_default();
        followed.into_iter().collect()
    }

    /// Follows `members`' presences in `guild` (one of its guilds), in
    /// place of those followed there before when `replace` (op 14 and op
    /// 37 name the whole set), else besides them (op 8), up to
    /// [`FOLLOWED_AT_MOST`] in all. Returns what changed, for the hub's
    /// index.
    pub(crate) fn follow(
        &self,
        guild: Snowflake,
        members: impl IntoIterator<Item = Snowflake>,
        replace: bool,
    ) -> Followed {
        let mut s = self.lock();
        if !s.guilds.contains(&guild) {
            return Followed::default();
        }
        let before = match replace {
            true => s.follows.remove(&guild).unwrap_or_default(),
            false => HashSet::new(),
        };
        let elsewhere: usize = s
            .follows
            .iter()
            .filter(|(g, _)| **g != guild)
            .map(|(_, members)| members.len())
            .sum();
        let room = FOLLOWED_AT_MOST.saturating_sub(elsewhere);
        let followed = s.follows.entry(guild).or_default();
        let mut change = Followed::default();
        for member in members {
            if followed.len() >= room {
                break;
            }
            if followed.insert(member) && !before.contains(&member) {
                change.added.push(member);
            }
        }
        change.dropped = before
            .into_iter()
            .filter(|m| !followed.contains(m))
            .collect();
        if followed.is_empty() {
            s.follows.remove(&guild);
        }
        s.dirty |= !change.added.is_empty() || !change.dropped.is_empty();
        change
    }

    /// Every (guild, member) whose presences the session follows.
    pub(crate) fn follows(&self) -> Vec<(Snowflake, Snowflake)> {
        let s = self.lock();
        s.follows
            .iter()
            .flat_map(|(guild, members)| members.iter().map(|m| (*guild, *m)))
            .collect()
    }

    /// Whether the session follows `member`'s presence in `guild`.
    pub(crate) fn follows_member(&self, guild: Snowflake, member: Snowflake) -> bool {
        let s = self.lock();
        s.follows.get(&guild).is_some_and(|m| m.contains(&member))
    }

    /// Whether the session hears of every presence in its guilds, however
    /// large: a bot with the GUILD_PRESENCES intent (Discord sends bots
    /// all of them; people's clients ask for the members they show).
    pub(crate) fn hears_every_presence(&self) -> bool {
        self.bot && self.has_intent(crate::protocol::intents::GUILD_PRESENCES)
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
            let mut s = self.lock();
            s.visible.entry(guild).or_default().extend(channels);
            s.dirty = true;
        }
    }

    /// Records whether the client now knows a channel; returns whether it did.
    pub(crate) fn mark_visible(&self, guild: Snowflake, channel: Snowflake, now: bool) -> bool {
        let mut state = self.lock();
        let known = state.visible.entry(guild).or_default();
        let was = if now {
            !known.insert(channel)
        } else {
            known.remove(&channel)
        };
        state.dirty |= was != now;
        was
    }

    pub(crate) fn has_intent(&self, intent: u64) -> bool {
        self.intents & intent == intent
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::directory::{Directory, SyncError};
    use concord_realtime::sessions::LocalSessions;

    const TTL: Duration = Duration::from_secs(180);

    /// A token owner of generation 0.
    pub(crate) fn owner(id: Snowflake, bot: bool) -> TokenOwner {
        TokenOwner {
            caller: Caller { id, bot },
            generation: 0,
        }
    }

    fn attachment(id: u64) -> Attachment {
        Attachment {
            id,
            wake: Arc::new(Notify::new()),
            kick: Arc::new(Notify::new()),
        }
    }

    fn new_session() -> Session {
        Session::new(
            "s".into(),
            owner(Snowflake(1), true),
            0,
            [0, 1],
            50,
            Arc::default(),
        )
    }

    fn session() -> Session {
        let s = new_session();
        s.open(Vec::new());
        s
    }

    /// A directory holding `session`, created on this node.
    async fn directory(session: &Session) -> Directory {
        let directory = Directory::new(Arc::new(LocalSessions::default()), NodeId(1));
        let record = session.record(directory.node, 0);
        directory.inner.create(record, TTL).await.unwrap();
        directory
    }

    fn seqs(frames: &[Frame]) -> Vec<(u64, &str)> {
        frames.iter().map(|f| (f.seq, &*f.kind)).collect()
    }

    /// Op 14 and op 37 name the whole set a guild's follows become, op 8
    /// adds to it; only the session's guilds count, and only so many.
    /// Frames taken for the directory take the queue's buffer with them:
    /// an idle session holds none.
    #[test]
    fn a_taken_batch_leaves_no_queue_behind() {
        let s = session();
        for _ in 0..5 {
            s.push("MESSAGE_CREATE", "{}".into());
        }
        let batch = s.take_batch(0).unwrap();
        assert_eq!(batch.frames.len(), 5);
        assert_eq!(s.lock().queue.capacity(), 0);
    }

    #[test]
    fn follows_are_replaced_or_added_to_and_bounded() {
        let s = session();
        let (first, second) = (Snowflake(5), Snowflake(6));
        s.set_guilds([first, second]);
        let ids = |range: std::ops::Range<u64>| range.map(Snowflake);
        let sorted = |mut v: Vec<Snowflake>| {
            v.sort_unstable();
            v
        };
        assert_eq!(s.follow(first, ids(1..4), true).added.len(), 3);
        let change = s.follow(first, ids(3..5), true);
        assert_eq!(change.added, [Snowflake(4)]);
        assert_eq!(sorted(change.dropped), [Snowflake(1), Snowflake(2)]);
        let change = s.follow(first, ids(10..11), false);
        assert_eq!(
            (change.added, change.dropped),
            (vec![Snowflake(10)], vec![])
        );
        assert_eq!(s.follow(Snowflake(9), ids(1..2), true), Followed::default());
        let many = ids(100..100 + FOLLOWED_AT_MOST as u64);
        assert_eq!(
            s.follow(second, many, true).added.len(),
            FOLLOWED_AT_MOST - 3
        );
        assert_eq!(s.follows().len(), FOLLOWED_AT_MOST);
        assert!(s.follows_member(first, Snowflake(10)));
        assert_eq!(
            sorted(s.remove_guild(first)),
            ids(3..5).chain(ids(10..11)).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn events_before_ready_follow_it() {
        let s = new_session();
        s.push("EARLY", "{}".into());
        s.open(vec![("READY", "{}".into())]);
        s.attach(attachment(1));
        let d = directory(&s).await;
        d.sync(&s).await.unwrap();
        assert_eq!(seqs(&s.take_outbox()), [(1, "READY"), (2, "EARLY")]);
    }

    #[tokio::test]
    async fn held_events_already_caught_up_are_dropped() {
        let cursor = Arc::new(Cursor::default());
        let s = Session::new(
            "s".into(),
            owner(Snowflake(1), true),
            0,
            [0, 1],
            50,
            Arc::clone(&cursor),
        );
        for event in [4, 5, 6] {
            cursor.start(event);
            s.push("X", event.to_string().into());
        }
        s.open_after(vec![("CAUGHT_UP", "{}".into())], 5);
        let data: Vec<_> = s.lock().queue.iter().map(|f| f.data.to_string()).collect();
        assert_eq!(data, ["{}", "6"]);
    }

    /// Frames reach the socket only once they are in the directory, so a
    /// RESUME anywhere replays whatever the client saw.
    #[tokio::test]
    async fn frames_go_through_the_directory_to_the_socket() {
        let s = session();
        s.attach(attachment(1));
        let d = directory(&s).await;
        for _ in 0..3 {
            assert_eq!(s.push("X", "{}".into()), Pushed::Queued);
        }
        assert!(s.take_outbox().is_empty(), "not stored yet");
        d.sync(&s).await.unwrap();
        assert_eq!(seqs(&s.take_outbox()), [(1, "X"), (2, "X"), (3, "X")]);
        assert!(s.take_outbox().is_empty());
        let resumed = d.inner.resume("s", Snowflake(1), d.node, 1, TTL).await;
        let frames = resumed.unwrap().unwrap().frames;
        assert_eq!(seqs(&frames), [(2, "X"), (3, "X")]);
    }

    #[tokio::test]
    async fn a_resume_replays_first_then_says_resumed() {
        let s = session();
        s.attach(attachment(1));
        let d = directory(&s).await;
        for _ in 0..3 {
            s.push("X", "{}".into());
        }
        d.sync(&s).await.unwrap();
        s.detach(1);
        s.push("X", "{}".into());
        d.sync(&s).await.unwrap();
        let resumed = d.inner.resume("s", Snowflake(1), d.node, 2, TTL).await;
        s.resume(attachment(2), resumed.unwrap().unwrap().frames);
        d.sync(&s).await.unwrap();
        assert_eq!(seqs(&s.take_outbox()), [(3, "X"), (4, "X"), (5, "RESUMED")]);
    }

    #[tokio::test]
    async fn a_taken_over_session_is_lost_here() {
        let s = session();
        let d = directory(&s).await;
        d.inner
            .resume("s", Snowflake(1), NodeId(2), 0, TTL)
            .await
            .unwrap();
        s.push("X", "{}".into());
        assert!(matches!(d.sync(&s).await, Err(SyncError::Lost)));
        let lost = d.sync_all(&[Arc::new(session())], TTL).await.unwrap();
        assert_eq!(lost.len(), 1, "unknown to the directory: not held");
    }

    #[tokio::test]
    async fn the_state_rebuilds_the_session_elsewhere() {
        let s = Session::new(
            "s".into(),
            owner(Snowflake(1), false),
            3,
            [1, 2],
            75,
            Arc::default(),
        );
        s.set_guilds([Snowflake(10), Snowflake(11)]);
        s.add_visible(Snowflake(10), [Snowflake(100)]);
        s.open(vec![("READY", "{}".into())]);
        let d = directory(&s).await;
        d.sync(&s).await.unwrap();
        s.mark_visible(Snowflake(10), Snowflake(101), true);
        s.push("X", "{}".into());
        d.sync(&s).await.unwrap();
        let taken = d.inner.resume("s", Snowflake(1), NodeId(99), 2, TTL).await;
        let record = taken.unwrap().unwrap().record;
        let r = Session::rebuild(&record, Arc::default()).unwrap();
        assert_eq!(
            (r.bot, r.intents, r.shard, r.large_threshold),
            (false, 3, [1, 2], 75)
        );
        let mut guilds = r.guilds();
        guilds.sort();
        assert_eq!(guilds, [Snowflake(10), Snowflake(11)]);
        assert!(
            r.mark_visible(Snowflake(10), Snowflake(101), true),
            "the view came along"
        );
        r.open(vec![("RESUMED", "{}".into())]);
        assert_eq!(r.lock().queue[0].seq, 3, "numbering goes on");
    }

    /// The periodic sync records how far the node's fan-out got, so a new
    /// holder replays only the events after it; a session still opening
    /// is left out (its held events are not in its frames yet).
    #[tokio::test]
    async fn a_sync_records_the_fan_outs_position_but_not_for_an_opening_session() {
        let s = Arc::new(session());
        let d = directory(&s).await;
        let opening = Arc::new(Session::new(
            "o".into(),
            owner(Snowflake(1), true),
            0,
            [0, 1],
            50,
            Arc::clone(&d.cursor),
        ));
        d.inner
            .create(opening.record(d.node, 0), TTL)
            .await
            .unwrap();
        d.cursor.start(41);
        opening.push("X", "{}".into());
        d.cursor.finish();
        let lost = d
            .sync_all(&[Arc::clone(&s), Arc::clone(&opening)], TTL)
            .await;
        assert!(lost.unwrap().is_empty());
        let last_event = |id: &'static str| {
            let inner = Arc::clone(&d.inner);
            let node = d.node;
            async move {
                let resumed = inner.resume(id, Snowflake(1), node, 0, TTL).await;
                resumed.unwrap().unwrap().record.last_event
            }
        };
        assert_eq!(last_event("s").await, 41);
        assert_eq!(last_event("o").await, 0, "its event 41 is still held");
    }

    /// A session that lost events on the bus stores nothing more: its
    /// record still says which event a RESUME must replay from.
    #[tokio::test]
    async fn a_broken_session_stores_nothing_more() {
        let s = Arc::new(session());
        let d = directory(&s).await;
        d.cursor.start(5);
        s.push("X", "{}".into());
        d.cursor.finish();
        d.sync(&s).await.unwrap();
        s.lose_events();
        d.cursor.start(9);
        s.push("X", "{}".into());
        d.cursor.finish();
        d.sync(&s).await.unwrap();
        let lost = d.sync_all(&[Arc::clone(&s)], TTL).await.unwrap();
        assert!(lost.is_empty());
        let resumed = d.inner.resume("s", Snowflake(1), d.node, 0, TTL).await;
        let resumed = resumed.unwrap().unwrap();
        assert_eq!(seqs(&resumed.frames), [(1, "X")]);
        assert_eq!(resumed.record.last_event, 5);
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

    /// Frames of a session without a connection that overflow before they
    /// reach the directory leave a hole it refuses to resume across.
    #[tokio::test]
    async fn frames_lost_before_the_directory_cannot_be_resumed_across() {
        let s = session();
        let d = directory(&s).await;
        s.push("X", "{}".into());
        d.sync(&s).await.unwrap();
        for _ in 0..FRAMES_KEPT + 1 {
            s.push("X", "{}".into());
        }
        d.sync(&s).await.unwrap();
        let resumed = d.inner.resume("s", Snowflake(1), d.node, 1, TTL).await;
        assert!(resumed.unwrap().is_none(), "frame 2 never reached it");
    }
}

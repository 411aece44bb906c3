//! This node's side of the session directory (the realtime seam): it
//! moves the frames its sessions number to the directory, before they go
//! to a socket, as connections flush (the batches of connections flushing
//! at once go together: [`Gathered`]) and all of them in one call every
//! few seconds (renewing those with a connection), and
//! it knows how far the node's fan-out got on the bus, so that a session's
//! record says from which event a new holder must replay.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use concord_bus::{Delivery, EventStream, Subscription};
use concord_realtime::sessions::{Append, Frame, NodeId, Resumed, SessionDirectory, SessionsError};
use tokio::sync::oneshot;

use crate::session::{Attachment, Session};

/// Where the node's fan-out stands on the bus: the event it is delivering
/// and the highest one it finished. A batch appended to the directory
/// reflects every event up to `delivered` read before it was taken; events
/// the fan-out holds back (their guild's state is being read) keep
/// `delivered` below them until they are delivered. The bus may hand out
/// an event of another topic after a higher one (it came late):
/// `delivered` does not go back for it.
#[derive(Default)]
pub(crate) struct Cursor {
    delivering: AtomicU64,
    delivered: AtomicU64,
    /// The lowest event held back, 0 for none.
    held: AtomicU64,
    /// A held event being delivered now, 0 for none.
    releasing: AtomicU64,
}

impl Cursor {
    /// The fan-out starts on `event`: the one before it is done.
    pub(crate) fn start(&self, event: u64) {
        let previous = self.delivering.swap(event, Ordering::AcqRel);
        self.delivered.fetch_max(previous, Ordering::AcqRel);
    }

    /// The fan-out finished what it started.
    pub(crate) fn finish(&self) {
        let current = self.delivering.load(Ordering::Acquire);
        self.delivered.fetch_max(current, Ordering::AcqRel);
    }

    /// The event whose dispatches are being pushed now.
    pub(crate) fn delivering(&self) -> u64 {
        match self.releasing.load(Ordering::Acquire) {
            0 => self.delivering.load(Ordering::Acquire),
            held => held,
        }
    }

    /// Every event up to this one reached its sessions.
    pub(crate) fn delivered(&self) -> u64 {
        let delivered = self.delivered.load(Ordering::Acquire);
        match self.held.load(Ordering::Acquire) {
            0 => delivered,
            lowest => delivered.min(lowest - 1),
        }
    }

    /// The lowest event the fan-out holds back now, if any.
    pub(crate) fn hold(&self, lowest: Option<u64>) {
        self.held.store(lowest.unwrap_or(0), Ordering::Release);
    }

    /// A held event is being delivered (`None`: done).
    pub(crate) fn release(&self, event: Option<u64>) {
        self.releasing.store(event.unwrap_or(0), Ordering::Release);
    }
}

struct Tracked {
    inner: Subscription,
    cursor: Arc<Cursor>,
}

#[async_trait]
impl EventStream for Tracked {
    async fn next(&mut self) -> Option<Delivery> {
        self.cursor.finish();
        let delivery = self.inner.next().await;
        if let Some(Delivery::Event(event)) = &delivery {
            self.cursor.start(event.id);
        }
        delivery
    }
}

/// What a session has for the directory.
pub(crate) struct Batch {
    pub(crate) frames: Vec<Frame>,
    pub(crate) state: Option<String>,
    pub(crate) last_event: u64,
}

/// Why frames did not reach the directory.
#[derive(Debug)]
pub(crate) enum SyncError {
    /// Another node holds the session now (or it expired): let it go.
    Lost,
    Unavailable(SessionsError),
}

/// Appends from many connections in as few directory calls as they allow
/// (group commit): while one call is out, the batches that arrive wait
/// for it to end and then go out together. A dispatch to a thousand
/// sessions of a node so costs a few round trips to a networked
/// directory, not a thousand; a lone flush goes out at once.
#[derive(Default)]
struct Gathered {
    waiting: std::sync::Mutex<Vec<(Append, oneshot::Sender<Answer>)>>,
    /// Held by the caller whose call is out.
    turn: tokio::sync::Mutex<()>,
}

/// Whether the node still holds the session its batch was for.
type Answer = Result<bool, SessionsError>;

impl Gathered {
    async fn append(&self, inner: &dyn SessionDirectory, node: NodeId, batch: Append) -> Answer {
        let (tx, mut rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((batch, tx));
        let turn = self.turn.lock().await;
        // A call that ended while this one waited for its turn took it.
        if let Ok(answer) = rx.try_recv() {
            return answer;
        }
        let taken = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        let (batches, senders): (Vec<Append>, Vec<_>) = taken.into_iter().unzip();
        let ids: Vec<Arc<str>> = batches.iter().map(|b| Arc::clone(&b.id)).collect();
        let answered = match batches.is_empty() {
            true => Ok(Vec::new()),
            false => inner.append(node, batches).await,
        };
        match answered {
            Ok(refused) => {
                let refused: HashSet<Arc<str>> = refused.into_iter().collect();
                for (id, tx) in ids.iter().zip(senders) {
                    let _gone = tx.send(Ok(!refused.contains(id)));
                }
            }
            Err(e) => {
                for tx in senders {
                    let _gone = tx.send(Err(e.clone()));
                }
            }
        }
        drop(turn);
        // Dropped unanswered only if the caller that took it went away
        // mid-call: as if the directory had failed, the frames are queued
        // again and the connection closes to resume.
        rx.await.unwrap_or_else(|_| {
            Err(SessionsError::Unavailable(
                "the append carrying this batch was dropped".into(),
            ))
        })
    }
}

/// This node's side of the session directory.
pub(crate) struct Directory {
    pub(crate) inner: Arc<dyn SessionDirectory>,
    pub(crate) node: NodeId,
    pub(crate) cursor: Arc<Cursor>,
    gathered: Gathered,
}

impl Directory {
    /// The directory as `node` (the node's id on the bus) uses it.
    pub(crate) fn new(inner: Arc<dyn SessionDirectory>, node: NodeId) -> Directory {
        Directory {
            inner,
            node,
            cursor: Arc::default(),
            gathered: Gathered::default(),
        }
    }

    /// Moves a session's new frames to the directory, then to its
    /// connection's outbox; called by that connection. Nothing to move
    /// costs nothing.
    pub(crate) async fn sync(&self, session: &Session) -> Result<(), SyncError> {
        let _order = session.sync.lock().await;
        let frames = self.store(session).await?;
        session.stored(frames, false);
        Ok(())
    }

    /// Appends what the session has not stored yet; the caller holds its
    /// sync lock. Returns the frames stored.
    async fn store(&self, session: &Session) -> Result<Vec<Frame>, SyncError> {
        let Some(Batch {
            frames,
            state,
            last_event,
        }) = session.take_batch(self.cursor.delivered())
        else {
            return Ok(Vec::new());
        };
        if frames.is_empty() && state.is_none() {
            return Ok(frames);
        }
        let had_state = state.is_some();
        let batch = Append {
            id: Arc::clone(&session.id),
            frames: frames.clone(),
            last_event,
            state,
            renew: None,
        };
        match self.gathered.append(&*self.inner, self.node, batch).await {
            Ok(true) => Ok(frames),
            Ok(false) => Err(SyncError::Lost),
            Err(e) => {
                session.requeue(frames, had_state);
                Err(SyncError::Unavailable(e))
            }
        }
    }

    /// Resumes a session this node has: what it numbered but did not store
    /// yet is stored first, then the directory replays the frames after
    /// `after` and the connection is attached, all under the session's sync
    /// lock (a sync in between would store frames neither replayed nor
    /// sent). Returns the directory's answer: `Resumed::record.node` other
    /// than this node means another node held the session meanwhile, and
    /// nothing was attached here.
    pub(crate) async fn resume_local(
        &self,
        session: &Session,
        after: u64,
        attachment: Attachment,
        ttl: Duration,
    ) -> Result<Option<Resumed>, SyncError> {
        let _order = session.sync.lock().await;
        self.store(session).await?;
        let resumed = self
            .inner
            .resume(&session.id, session.user_id, self.node, after, ttl)
            .await
            .map_err(SyncError::Unavailable)?;
        if let Some(resumed) = &resumed
            && resumed.record.node == self.node
        {
            session.resume(attachment, resumed.frames.clone());
        }
        Ok(resumed)
    }

    /// The node's subscription, moving [`Directory::cursor`] as the
    /// fan-out takes each event: asking for the next one means the last
    /// one is delivered.
    pub(crate) fn track(&self, events: Subscription) -> Subscription {
        let interest = Arc::clone(events.interest());
        let tracked = Tracked {
            inner: events,
            cursor: Arc::clone(&self.cursor),
        };
        Subscription::new(Box::new(tracked), interest)
    }

    /// Syncs many sessions in one call, renewing those with a connection
    /// for `ttl` and recording how far the node's fan-out got; a session
    /// whose connection is syncing it right now is left to it. Returns the
    /// sessions this node no longer holds.
    pub(crate) async fn sync_all(
        &self,
        sessions: &[Arc<Session>],
        ttl: Duration,
    ) -> Result<Vec<Arc<Session>>, SessionsError> {
        let delivered = self.cursor.delivered();
        let mut guards = Vec::new();
        let mut taken = Vec::new();
        let mut batches = Vec::new();
        for session in sessions {
            let Ok(guard) = session.sync.try_lock() else {
                continue;
            };
            let Some(Batch {
                frames,
                state,
                last_event,
            }) = session.take_batch(delivered)
            else {
                continue;
            };
            batches.push(Append {
                id: Arc::clone(&session.id),
                frames: frames.clone(),
                last_event,
                renew: session.is_attached().then_some(ttl),
                state,
            });
            guards.push(guard);
            taken.push((session, frames));
        }
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        let had_state: Vec<bool> = batches.iter().map(|b| b.state.is_some()).collect();
        let refused = match self.inner.append(self.node, batches).await {
            Ok(refused) => refused,
            Err(e) => {
                for ((session, frames), had_state) in taken.into_iter().zip(had_state) {
                    session.requeue(frames, had_state);
                }
                return Err(e);
            }
        };
        let refused: HashSet<Arc<str>> = refused.into_iter().collect();
        let mut lost = Vec::new();
        for (session, frames) in taken {
            if refused.contains(&session.id) {
                lost.push(Arc::clone(session));
            } else {
                session.stored(frames, true);
            }
        }
        Ok(lost)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use concord_model::Snowflake;
    use concord_realtime::sessions::{LocalSessions, SessionRecord};

    use super::*;

    const TTL: Duration = Duration::from_secs(60);
    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);

    #[test]
    fn an_event_delivered_late_does_not_take_the_cursor_back() {
        let cursor = Cursor::default();
        cursor.start(100);
        cursor.finish();
        // 98, of another topic, came after 100.
        cursor.start(98);
        assert_eq!(cursor.delivering(), 98);
        assert_eq!(cursor.delivered(), 100);
        cursor.finish();
        assert_eq!(
            cursor.delivered(),
            100,
            "a record would replay 99 and 100 again"
        );
        cursor.start(101);
        cursor.finish();
        assert_eq!(cursor.delivered(), 101);
    }

    /// A directory that counts its append calls and answers them slowly,
    /// as one across the network does.
    #[derive(Default)]
    struct Counted {
        inner: LocalSessions,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl SessionDirectory for Counted {
        async fn create(&self, record: SessionRecord, ttl: Duration) -> Result<(), SessionsError> {
            self.inner.create(record, ttl).await
        }

        async fn append(
            &self,
            node: NodeId,
            batches: Vec<Append>,
        ) -> Result<Vec<Arc<str>>, SessionsError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.inner.append(node, batches).await
        }

        async fn resume(
            &self,
            id: &str,
            user: Snowflake,
            node: NodeId,
            after: u64,
            ttl: Duration,
        ) -> Result<Option<Resumed>, SessionsError> {
            self.inner.resume(id, user, node, after, ttl).await
        }

        async fn confirm(&self, id: &str, node: NodeId, seq: u64) -> Result<(), SessionsError> {
            self.inner.confirm(id, node, seq).await
        }

        async fn remove(&self, node: NodeId, ids: Vec<Arc<str>>) -> Result<(), SessionsError> {
            self.inner.remove(node, ids).await
        }
    }

    fn record(id: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            user_id: Snowflake(7),
            node: A,
            intents: 0,
            shard: [0, 1],
            state: String::new(),
            seq: 0,
            last_event: 0,
        }
    }

    /// Connections flushing at once share calls, and each learns about
    /// its own session: a thousand flushes are not a thousand calls.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn flushes_at_once_share_calls_and_get_their_own_answers() {
        let counted = Arc::new(Counted::default());
        let ids: Vec<Arc<str>> = (0..200).map(|i| format!("s{i}").into()).collect();
        for id in &ids {
            counted.create(record(id), TTL).await.unwrap();
        }
        counted.resume("s7", Snowflake(7), B, 0, TTL).await.unwrap();
        let gathered = Arc::new(Gathered::default());
        let flushes = ids.iter().map(|id| {
            let (gathered, counted, id) = (gathered.clone(), counted.clone(), id.clone());
            tokio::spawn(async move {
                let frame = Frame {
                    seq: 1,
                    kind: "MESSAGE_CREATE".into(),
                    data: "{}".into(),
                };
                let batch = Append {
                    id: Arc::clone(&id),
                    frames: vec![frame],
                    ..Append::default()
                };
                (id, gathered.append(&*counted, A, batch).await)
            })
        });
        for flush in futures_util::future::join_all(flushes).await {
            let (id, answer) = flush.unwrap();
            assert_eq!(answer, Ok(&*id != "s7"), "{id}");
        }
        let calls = counted.calls.load(Ordering::SeqCst);
        assert!(calls < 20, "{calls} calls for 200 flushes");
        let resumed = counted.resume("s9", Snowflake(7), A, 0, TTL).await.unwrap();
        assert_eq!(resumed.unwrap().frames.len(), 1, "stored");
    }
}

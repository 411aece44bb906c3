//! This node's side of the session directory (the realtime seam): it
//! moves the frames its sessions number to the directory, before they go
//! to a socket, one session at a time as connections flush and all of them
//! in one call every few seconds (renewing those with a connection), and
//! it knows how far the node's fan-out got on the bus, so that a session's
//! record says from which event a new holder must replay.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use concord_bus::{Delivery, EventStream, Subscription};
use concord_realtime::sessions::{Append, Frame, NodeId, Resumed, SessionDirectory, SessionsError};

use crate::session::{Attachment, Session};

/// Where the node's fan-out stands on the bus: the event it is delivering
/// and the last one it finished. A batch appended to the directory
/// reflects every event up to `delivered` read before it was taken; events
/// the fan-out holds back (their guild's state is being read) keep
/// `delivered` below them until they are delivered.
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
        self.delivered.store(previous, Ordering::Release);
    }

    /// The fan-out finished what it started.
    pub(crate) fn finish(&self) {
        let current = self.delivering.load(Ordering::Acquire);
        self.delivered.store(current, Ordering::Release);
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

/// This node's side of the session directory.
pub(crate) struct Directory {
    pub(crate) inner: Arc<dyn SessionDirectory>,
    pub(crate) node: NodeId,
    pub(crate) cursor: Arc<Cursor>,
}

impl Directory {
    /// The directory as `node` (the node's id on the bus) uses it.
    pub(crate) fn new(inner: Arc<dyn SessionDirectory>, node: NodeId) -> Directory {
        Directory {
            inner,
            node,
            cursor: Arc::default(),
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
        match self.inner.append(self.node, vec![batch]).await {
            Ok(refused) if refused.is_empty() => Ok(frames),
            Ok(_) => Err(SyncError::Lost),
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

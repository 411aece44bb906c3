//! Serving a RESUME. A session this node holds is resumed in place; one
//! held elsewhere (or by a node that died) is taken over through the
//! session directory: the frames after the client's sequence come from
//! the directory, then the events its old holder never handled from the
//! bus history, routed by the hub's own rules. A RESUME that needs a
//! backend which is down (the directory, the bus history) is not refused
//! for good: the client is closed with a resumable code and tries again.

use std::sync::Arc;

use concord_bus::{BusError, Interest, Topic};
use concord_model::Snowflake;
use concord_realtime::sessions::{FRAMES_KEPT, Resumed, SessionRecord};

use crate::directory::SyncError;
use crate::session::{Attachment, Session};
use crate::{Gateway, KEEP_ALIVE};

/// Why a RESUME was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It cannot be resumed faithfully: the client identifies anew (op 9).
    Unresumable,
    /// What it needs cannot be reached now; the session stays resumable.
    Unavailable,
}

type Resumption = Result<Arc<Session>, Refusal>;

impl Gateway {
    /// The session `id` of `user`, resumed after `after` and attached, or
    /// why not.
    pub(crate) async fn resume_session(
        &self,
        id: &str,
        user: Snowflake,
        after: u64,
        attachment: Attachment,
    ) -> Resumption {
        match self.hub.get(id).filter(|s| s.user_id == user) {
            // What it got since it broke was never stored: the record and
            // the bus history serve the RESUME, as on any other node.
            Some(session) if session.is_broken() => {
                self.forget(&session);
            }
            Some(session) => return self.resume_here(session, user, after, attachment).await,
            None => {}
        }
        self.take_over(id, user, after, attachment).await
    }

    /// Resumes a session this node has, unless another node took it over
    /// meanwhile (then it is taken back from there).
    async fn resume_here(
        &self,
        session: Arc<Session>,
        user: Snowflake,
        after: u64,
        attachment: Attachment,
    ) -> Resumption {
        let directory = &self.directory;
        let resumed = directory
            .resume_local(&session, after, attachment.clone(), KEEP_ALIVE)
            .await;
        match resumed {
            Ok(Some(resumed)) if resumed.record.node == directory.node => Ok(session),
            // Taken over elsewhere meanwhile, and back here now.
            Ok(Some(resumed)) => {
                self.drop_lost(&session);
                self.adopt(resumed, attachment).await
            }
            Ok(None) => Err(Refusal::Unresumable),
            Err(SyncError::Lost) => {
                self.drop_lost(&session);
                self.take_over(&session.id, user, after, attachment).await
            }
            Err(SyncError::Unavailable(e)) => {
                tracing::warn!(error = %e, "resume deferred: session directory unavailable");
                Err(Refusal::Unavailable)
            }
        }
    }

    /// Takes over a session this node does not have.
    async fn take_over(
        &self,
        id: &str,
        user: Snowflake,
        after: u64,
        attachment: Attachment,
    ) -> Resumption {
        let directory = &self.directory;
        let resumed = directory
            .inner
            .resume(id, user, directory.node, after, KEEP_ALIVE)
            .await;
        match resumed {
            Ok(Some(resumed)) => self.adopt(resumed, attachment).await,
            Ok(None) => Err(Refusal::Unresumable),
            Err(e) => {
                tracing::warn!(error = %e, "resume deferred: session directory unavailable");
                Err(Refusal::Unavailable)
            }
        }
    }

    /// Rebuilds a session taken over from another holder and catches it
    /// up: registered in the hub first (holding back what the fan-out
    /// delivers), its twin is given the bus history after the record's
    /// `last_event`; the twin's frames then come first, followed by the
    /// held events the history did not cover. Without the bus history now,
    /// the session is let go here but left in the directory, to be taken
    /// over again when the client retries.
    async fn adopt(&self, resumed: Resumed, attachment: Attachment) -> Resumption {
        let record = &resumed.record;
        let rebuilt = Session::rebuild(record, Arc::clone(&self.directory.cursor))
            .zip(Session::rebuild(record, Arc::default()));
        let Some((session, twin)) = rebuilt else {
            tracing::warn!(session = %record.id, "session state unreadable; not resumed");
            self.end_session_id(&record.id).await;
            return Err(Refusal::Unresumable);
        };
        let (session, twin) = (Arc::new(session), Arc::new(twin));
        self.hub.insert(Arc::clone(&session));
        let caught_up = match self.replay_history(&twin, record).await {
            Ok(caught_up) => caught_up,
            Err(Refusal::Unavailable) => {
                self.forget(&session);
                return Err(Refusal::Unavailable);
            }
            Err(Refusal::Unresumable) => {
                self.end_session(&session).await;
                return Err(Refusal::Unresumable);
            }
        };
        session.catch_up(&twin, caught_up);
        session.resume(attachment, resumed.frames);
        metrics::counter!("concord_gateway_takeovers_total").increment(1);
        Ok(session)
    }

    /// Gives `twin` the events after the record's that its old holder
    /// never handled; returns the id of the last. Unresumable when it
    /// cannot be done faithfully: the history no longer reaches back that
    /// far, the replay would not fit in the frames a session keeps, the
    /// session was revoked, or its guilds changed (their events were not
    /// asked for); unavailable while the bus does not answer.
    async fn replay_history(
        &self,
        twin: &Arc<Session>,
        record: &SessionRecord,
    ) -> Result<u64, Refusal> {
        let mut guilds = twin.guilds();
        guilds.sort_unstable();
        let mut topics: Vec<Topic> = guilds.iter().copied().map(Topic::Guild).collect();
        topics.push(Topic::User(twin.user_id));
        let bus = self.hub.service.bus();
        let history = match bus.replay(record.last_event, &topics).await {
            Ok(history) => history,
            Err(e @ BusError::Unavailable(_)) => {
                tracing::warn!(error = %e, session = %record.id, "resume deferred");
                return Err(Refusal::Unavailable);
            }
            Err(e @ BusError::Gone { .. }) => {
                tracing::debug!(error = %e, session = %record.id, "not resumable here");
                return Err(Refusal::Unresumable);
            }
        };
        twin.open(Vec::new());
        self.hub.replay_to(twin, &history).await?;
        let mut after = twin.guilds();
        after.sort_unstable();
        let numbered = twin.numbered() - record.seq;
        if twin.is_broken() || numbered > FRAMES_KEPT as u64 || after != guilds {
            return Err(Refusal::Unresumable);
        }
        Ok(history.last().map_or(record.last_event, |e| e.id))
    }

    async fn end_session_id(&self, id: &Arc<str>) {
        let ids = vec![Arc::clone(id)];
        if let Err(e) = self.directory.inner.remove(self.directory.node, ids).await {
            tracing::warn!(error = %e, "ended session left in the directory");
        }
    }
}

/// The interest of a hub that subscribes to nothing: the one that replays
/// history to a single session.
pub(crate) struct NoInterest;

impl Interest for NoInterest {
    fn add(&self, _: &[Topic]) {}
    fn remove(&self, _: &[Topic]) {}
    fn topics(&self) -> Vec<Topic> {
        Vec::new()
    }
}

//! Serving a RESUME. A session this node holds is resumed in place; one
//! held elsewhere (or by a node that died) is taken over through the
//! session directory: the frames after the client's sequence come from
//! the directory, then the events its old holder never handled from the
//! bus history, routed by the hub's own rules.

use std::sync::Arc;

use concord_model::Snowflake;
use concord_realtime::sessions::Resumed;

use crate::session::{Attachment, Session, SyncError};
use crate::{Gateway, KEEP_ALIVE};

impl Gateway {
    /// The session `id` of `user`, resumed after `after` and attached;
    /// `None` if it cannot be resumed (the client identifies anew).
    pub(crate) async fn resume_session(
        &self,
        id: &str,
        user: Snowflake,
        after: u64,
        attachment: Attachment,
    ) -> Option<Arc<Session>> {
        let directory = &self.directory;
        if let Some(session) = self.hub.get(id).filter(|s| s.user_id == user) {
            if session.is_broken() {
                self.end_session(&session).await;
                return None;
            }
            let resumed = directory
                .resume_local(&session, after, attachment.clone(), KEEP_ALIVE)
                .await;
            return match resumed {
                Ok(Some(resumed)) if resumed.record.node == directory.node => Some(session),
                // Taken over elsewhere meanwhile, and back here now.
                Ok(Some(resumed)) => {
                    self.drop_lost(&session);
                    self.adopt(resumed, attachment).await
                }
                Ok(None) => None,
                Err(SyncError::Lost) => {
                    self.drop_lost(&session);
                    self.take_over(id, user, after, attachment).await
                }
                Err(SyncError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "resume refused: session directory unavailable");
                    None
                }
            };
        }
        self.take_over(id, user, after, attachment).await
    }

    /// Takes over a session this node does not have.
    async fn take_over(
        &self,
        id: &str,
        user: Snowflake,
        after: u64,
        attachment: Attachment,
    ) -> Option<Arc<Session>> {
        let directory = &self.directory;
        let resumed = directory
            .inner
            .resume(id, user, directory.node, after, KEEP_ALIVE)
            .await;
        match resumed {
            Ok(Some(resumed)) => self.adopt(resumed, attachment).await,
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "resume refused: session directory unavailable");
                None
            }
        }
    }

    /// Rebuilds a session taken over from another holder and catches it up.
    async fn adopt(&self, resumed: Resumed, attachment: Attachment) -> Option<Arc<Session>> {
        let record = &resumed.record;
        let Some(session) = Session::rebuild(record, Arc::clone(&self.directory.cursor)) else {
            tracing::warn!(session = %record.id, "session state unreadable; not resumed");
            self.end_session_id(&record.id).await;
            return None;
        };
        let _ = attachment;
        // The events its old holder never handled are not replayable yet.
        self.end_session(&session).await;
        None
    }

    async fn end_session_id(&self, id: &Arc<str>) {
        let ids = vec![Arc::clone(id)];
        if let Err(e) = self.directory.inner.remove(self.directory.node, ids).await {
            tracing::warn!(error = %e, "ended session left in the directory");
        }
    }
}

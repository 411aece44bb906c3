//! Group commit: writers queue for a sync; one thread syncs the journal
//! once for everyone queued, then wakes them all. While one fsync runs the
//! next group gathers, so throughput grows with concurrency.

use std::sync::mpsc;

use concord_store::{StoreError, StoreResult};
use fjall::{Database, PersistMode};
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<(), String>>;

pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Waiter>,
}

impl GroupCommit {
    pub(crate) fn start(db: Database) -> std::io::Result<Self> {
        let (queue, waiting) = mpsc::channel::<Waiter>();
        std::thread::Builder::new()
            .name("concord-fsync".into())
            .spawn(move || {
                while let Ok(first) = waiting.recv() {
                    let mut group = vec![first];
                    group.extend(waiting.try_iter());
                    let result = db.persist(PersistMode::SyncData).map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "journal sync failed");
                    }
                    for waiter in group {
                        let _ = waiter.send(result.clone());
                    }
                }
            })?;
        Ok(GroupCommit { queue })
    }

    /// Returns once everything committed before the call is on disk.
    pub(crate) async fn sync(&self) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(tx)
            .map_err(|_| StoreError::Backend("sync thread stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("sync thread stopped".into()))?
            .map_err(StoreError::Backend)
    }
}

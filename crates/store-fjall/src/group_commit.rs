//! Group commit, leader style: a writer whose commit is not yet on disk
//! either finds a sync already covering it, waits for the one running, or
//! becomes the leader and syncs the journal for everyone committed so far.
//! No thread handoff on the way: the leader syncs on its own thread (telling
//! the runtime first), and followers are woken once per sync.

use std::sync::{Mutex, MutexGuard};

use concord_store::{StoreError, StoreResult};
use fjall::{Database, PersistMode};
use tokio::sync::watch;

struct Tickets {
    /// Given to the next commit.
    next: u64,
    /// A sync is running.
    syncing: bool,
}

pub(crate) struct GroupCommit {
    db: Database,
    tickets: Mutex<Tickets>,
    /// Every commit with a ticket below this is durable.
    durable: watch::Sender<u64>,
}

impl GroupCommit {
    pub(crate) fn new(db: Database) -> Self {
        GroupCommit {
            db,
            tickets: Mutex::new(Tickets {
                next: 0,
                syncing: false,
            }),
            durable: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tickets> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ticket for a commit that just reached the journal. Taken right
    /// after the commit, so a sync that starts later covers it.
    pub(crate) fn ticket(&self) -> u64 {
        let mut tickets = self.lock();
        tickets.next += 1;
        tickets.next
    }

    /// Returns once the commit holding `ticket` is on disk.
    pub(crate) async fn sync(&self, ticket: u64) -> StoreResult<()> {
        let mut durable = self.durable.subscribe();
        loop {
            let lead = {
                let mut tickets = self.lock();
                if *durable.borrow_and_update() >= ticket {
                    return Ok(());
                }
                if tickets.syncing {
                    None
                } else {
                    tickets.syncing = true;
                    Some(tickets.next)
                }
            };
            let Some(covers) = lead else {
                if durable.changed().await.is_err() {
                    return Err(StoreError::Backend("store closed".into()));
                }
                continue;
            };
            let started = std::time::Instant::now();
            let result = blocking(|| self.db.persist(PersistMode::SyncData));
            metrics::histogram!("concord_store_sync_seconds")
                .record(started.elapsed().as_secs_f64());
            self.lock().syncing = false;
            match result {
                Ok(()) => {
                    self.durable.send_modify(|d| *d = (*d).max(covers));
                    return Ok(());
                }
                Err(e) => {
                    tracing::error!(error = %e, "journal sync failed");
                    // Wake the followers so one of them retries.
                    self.durable.send_modify(|_| {});
                    return Err(StoreError::Backend(e.to_string()));
                }
            }
        }
    }
}

/// Runs blocking work, letting a multi-threaded runtime move its other
/// tasks away from this thread meanwhile.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

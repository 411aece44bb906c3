//! Which node writes the search index. A cluster indexes each message
//! once: the node holding the [`INDEXER_LEASE`] writes the index in the
//! shared search directory and feeds it from the bus ([`crate::search::feed`]);
//! every other node follows it, its searches reading the holder's commits
//! about a second after they land. When the holder stops, or stalls past
//! its lease, another node takes the lease and the writer's role over,
//! catching up from the store where the index's watermark says it stopped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use concord_bus::Topic;
use concord_search::{SearchError, SearchIndex};

use crate::Service;

/// Held by the node that writes the search index.
pub const INDEXER_LEASE: &str = "search-indexer";
/// How long the writer's role outlives a node that stopped renewing it.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often a follower tries for the writer's role (and to open an index
/// not written yet).
const RETRY: Duration = Duration::from_secs(2);

/// The index this node answers searches from: the one it writes, the one
/// it follows, or none yet.
#[derive(Default)]
pub struct SearchSlot(RwLock<Option<Arc<SearchIndex>>>);

impl SearchSlot {
    pub fn get(&self) -> Option<Arc<SearchIndex>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, index: Option<Arc<SearchIndex>>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = index;
    }
}

/// Runs until `stop` resolves: writes and feeds the index in `dir` while
/// this node (`holder`) holds the indexer lease, follows it otherwise.
/// On `stop` a writer commits what it holds and gives the lease back.
pub async fn write_or_follow(
    service: Weak<Service>,
    dir: PathBuf,
    holder: String,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        let Some(node) = service.upgrade() else {
            return;
        };
        if node.takes_turn(INDEXER_LEASE, &holder, LEASE_TTL).await {
            let stopped = write(node, &dir, &holder, &mut stop).await;
            if stopped {
                return;
            }
        } else {
            follow(&node, &dir).await;
            drop(node);
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Opens `dir` as its writer and feeds it until the lease is lost (false)
/// or `stop` resolves (true), then leaves the writer's role, closing the
/// writer so that the next holder can open it.
async fn write(
    node: Arc<Service>,
    dir: &std::path::Path,
    holder: &str,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let Some(slot) = &node.search else {
        return true;
    };
    let opened = {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || SearchIndex::open(&dir)).await
    };
    let index = match opened {
        Ok(Ok(index)) => Arc::new(index),
        Ok(Err(e)) => {
            // Likely the last holder's writer, not yet closed.
            tracing::warn!(error = %e, "search index not opened for writing; trying again");
            let _ = release(&node, holder).await;
            return false;
        }
        Err(e) => {
            tracing::error!(error = %e, "opening the search index panicked");
            return false;
        }
    };
    let events = match node.bus().subscribe().await {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(error = %e, "the bus cannot feed the search index; trying again");
            let _ = release(&node, holder).await;
            return false;
        }
    };
    events.interest().add(&[Topic::All]);
    slot.set(Some(Arc::clone(&index)));
    let store = Arc::clone(&node.store);
    let leases = Arc::clone(&node.realtime.leases);
    let stopped = AtomicBool::new(false);
    {
        let lost =
            crate::cluster::keep_lease(leases, INDEXER_LEASE.into(), holder.into(), LEASE_TTL);
        let until = async {
            tokio::select! {
                () = stop.as_mut() => stopped.store(true, Ordering::Relaxed),
                () = lost => tracing::warn!("another node took the search index over"),
            }
        };
        crate::search::feed(store, index, events, until).await;
    }
    slot.set(None);
    let _ = release(&node, holder).await;
    stopped.load(Ordering::Relaxed)
}

async fn release(node: &Service, holder: &str) -> Result<(), concord_realtime::RealtimeError> {
    node.realtime.leases.release(INDEXER_LEASE, holder).await
}

/// Follows the index in `dir` unless this node already does.
async fn follow(node: &Service, dir: &std::path::Path) {
    let Some(slot) = &node.search else {
        return;
    };
    if slot.get().is_some_and(|index| !index.writes()) {
        return;
    }
    let dir = dir.to_path_buf();
    match tokio::task::spawn_blocking(move || SearchIndex::follow(&dir)).await {
        Ok(Ok(index)) => slot.set(Some(Arc::new(index))),
        Ok(Err(SearchError::NotWritten(_))) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "search index not followed; trying again"),
        Err(e) => tracing::error!(error = %e, "following the search index panicked"),
    }
}

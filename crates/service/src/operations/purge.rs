//! What deleted channels held goes in the background. Deleting a channel
//! or a guild makes it unknown at once; its messages, reactions, pins and
//! attachments the store removes a short write at a time
//! ([`concord_store::ChannelStore::purge_deleted`]), here, in a task of its
//! own, so neither the request that deleted it nor any other writer waits
//! for a whole history. Blobs no attachment refers to any more go after.
//!
//! A deletion wakes its node's purger at once. Purges left behind (by a
//! node that stopped or crashed mid-way) are taken up at start and once a
//! minute by one node of a cluster at a time, under [`PURGE_LEASE`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::{Service, ServiceResult};

/// How often purges left behind are looked for.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// The lease that makes one node of a cluster look for purges left behind.
pub const PURGE_LEASE: &str = "purge";

impl Service {
    /// Asks this node's purger to take what a deletion left.
    pub(crate) fn purge_soon(&self) {
        self.purges.notify_one();
    }

    /// Takes everything deleted channels left, step by step, then the
    /// blobs nothing refers to any more.
    pub(crate) async fn purge_deleted(&self) -> ServiceResult<()> {
        while self.store.purge_deleted().await? {}
        self.sweep_blobs().await
    }
}

/// Runs purges as deletions ask for them, and looks for purges left
/// behind at start and every minute while this node (named `holder`)
/// holds the [`PURGE_LEASE`], for as long as the service lives.
pub async fn purger(service: Weak<Service>, holder: String) {
    let Some(wake) = service.upgrade().map(|s| Arc::clone(&s.purges)) else {
        return;
    };
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        let asked = tokio::select! {
            () = wake.notified() => true,
            _ = tick.tick() => false,
        };
        let Some(service) = service.upgrade() else {
            return;
        };
        if !asked
            && !service
                .takes_turn(PURGE_LEASE, &holder, PURGE_EVERY * 3)
                .await
        {
            continue;
        }
        if let Err(e) = service.purge_deleted().await {
            tracing::warn!(error = %e, "purging deleted channels failed; retried within a minute");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use concord_bus::LocalBus;

    use super::*;
    use crate::cluster::two_nodes::{OWNER_CALLER as CALLER, TEXT, config, seeded_store};
    use crate::messages::CreateMessage;

    /// A node with one message in its text channel.
    async fn node_with_history() -> Arc<Service> {
        let bus = Arc::new(LocalBus::new(64));
        let service = Service::open(seeded_store().await, bus, config(0)).await;
        let service = Arc::new(service.unwrap());
        let said = CreateMessage {
            content: Some("soon gone".into()),
            ..CreateMessage::default()
        };
        service.create_message(CALLER, TEXT, said).await.unwrap();
        service
    }

    async fn history_in_store(service: &Service) -> usize {
        let stored = service.store.messages_before(TEXT, None, 10).await;
        stored.unwrap().len()
    }

    /// The deletion answers with the channel gone and its history still
    /// in the store, for the purger.
    #[tokio::test]
    async fn a_deletion_leaves_the_history_to_the_purger() {
        let service = node_with_history().await;
        service.delete_channel(CALLER, TEXT).await.unwrap();
        assert!(service.store.channel(TEXT).await.unwrap().is_none());
        assert_eq!(history_in_store(&service).await, 1);
        service.purge_deleted().await.unwrap();
        assert_eq!(history_in_store(&service).await, 0);
    }

    /// A running purger, past its first look, is woken by a deletion: its
    /// minute has not come round when the history is gone.
    #[tokio::test]
    async fn a_deletion_wakes_the_purger() {
        let service = node_with_history().await;
        let task = tokio::spawn(purger(Arc::downgrade(&service), "node".into()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        service.delete_channel(CALLER, TEXT).await.unwrap();
        let mut left = 1;
        for _ in 0..200 {
            left = history_in_store(&service).await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        assert_eq!(left, 0, "purged well before the purger's next minute");
    }
}

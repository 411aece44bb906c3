//! The conformance suite against a real PostgreSQL server, named by
//! `CONCORD_TEST_POSTGRES` (`scripts/services/postgres` starts one): each
//! test in a database of its own, dropped after it.

use std::sync::Arc;

use super::PgStore;
use super::testing::{ScratchDatabase, test_server};
use concord_model::Snowflake;
use concord_model::records::{Channel, Message};
use concord_store::{ChannelStore, MessageStore, Store};

/// The store in a fresh database; `None` when there is no server.
async fn fresh(bucket_ms: u64) -> Option<(Arc<PgStore>, ScratchDatabase)> {
    let database = ScratchDatabase::create(&test_server()?).await.unwrap();
    let store = database.store(bucket_ms).await.unwrap();
    Some((Arc::new(store), database))
}

async fn open(bucket_ms: u64) -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>) {
    match fresh(bucket_ms).await {
        Some((store, database)) => (store, Box::new(database)),
        // No server: the suite runs on memory, so a skipped run still
        // exercises the macro's wiring and nothing fails for want of it.
        None => (
            Arc::new(concord_store::memory::MemoryStore::new(bucket_ms)),
            Box::new(()),
        ),
    }
}

concord_store::store_conformance!(open);

/// Nodes starting together on a new database apply the schema once (the
/// migrator's advisory lock), and all of them open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_apply_the_schema_once() {
    let Some(url) = test_server() else { return };
    let database = Arc::new(ScratchDatabase::create(&url).await.unwrap());
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let database = Arc::clone(&database);
            tokio::spawn(async move { database.store(1000).await.unwrap() })
        })
        .collect();
    for start in starts {
        start.await.unwrap().ping().await.unwrap();
    }
}

/// A channel whose deletion stopped half-way (a node crashed) is purged
/// when a node next starts, and its id is free again after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purges_finish_on_start() {
    let Some((store, database)) = fresh(1000).await else {
        return;
    };
    let channel = Channel::new(Snowflake(7), 0, Snowflake(1), "c");
    store.put_channel(&channel).await.unwrap();
    for i in 1..=50u64 {
        let id = Snowflake(Snowflake::from_timestamp_ms(1_767_225_600_000 + i * 100).get());
        let m = Message::new(id, channel.id, Snowflake(2), "x");
        store.create_message(&m).await.unwrap();
    }
    // Deleted and marked, as a crash before the purge leaves it.
    let mut tx = store.begin().await.unwrap();
    sqlx::query("DELETE FROM channels WHERE id = 7")
        .execute(&mut *tx)
        .await
        .unwrap();
    crate::purge::mark(&mut tx, &[7]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!store.create_channel(&channel).await.unwrap(), "not yet");

    let restarted = database.store(1000).await.unwrap();
    let resumed = restarted.resumed.lock().unwrap().take().unwrap();
    resumed.await.unwrap();
    assert!(
        restarted.create_channel(&channel).await.unwrap(),
        "the id is free again"
    );
    let left = restarted.messages_before(channel.id, None, 10).await;
    assert!(left.unwrap().is_empty());
}

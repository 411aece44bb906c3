//! The cross-node cases whose answers depend most on the store, with the
//! nodes over a PostgreSQL store (`CONCORD_TEST_POSTGRES`) rather than
//! the reference one: each on a database of its own.

use std::sync::Arc;

use concord_store::DEFAULT_BUCKET_MS;
use concord_store_postgres::testing::{ScratchDatabase, test_server};
use concord_testkit::cluster::Cluster;

/// `count` nodes over a store in a new database; `None` without a server.
async fn cluster(count: usize) -> Option<(Cluster, ScratchDatabase)> {
    let database = ScratchDatabase::create(&test_server()?)
        .await
        .expect("test database");
    let store = database.store(DEFAULT_BUCKET_MS).await.expect("store");
    Some((Cluster::start_over(count, Arc::new(store)).await, database))
}

#[tokio::test]
async fn invite_uses_hold_across_nodes_on_postgres() {
    if let Some((cluster, _database)) = cluster(3).await {
        super::invite_uses_hold_across_nodes(cluster).await;
    }
}

#[tokio::test]
async fn thread_counts_hold_across_nodes_on_postgres() {
    if let Some((cluster, _database)) = cluster(2).await {
        super::thread_counts_hold_across_nodes(cluster).await;
    }
}

#[tokio::test]
async fn history_follows_writes_across_nodes_on_postgres() {
    if let Some((cluster, _database)) = cluster(2).await {
        super::history_follows_writes_across_nodes(cluster).await;
    }
}

#[tokio::test]
async fn poll_votes_hold_across_nodes_on_postgres() {
    if let Some((cluster, _database)) = cluster(2).await {
        super::poll_votes_hold_across_nodes(cluster).await;
    }
}

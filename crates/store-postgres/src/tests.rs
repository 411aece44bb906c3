//! The conformance suite against a real PostgreSQL server, named by
//! `CONCORD_TEST_POSTGRES` (`scripts/services/postgres` starts one): each
//! test in a database of its own, dropped after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use concord_model::Snowflake;
use concord_model::records::{Channel, Message};
use concord_store::{ChannelStore, MessageStore, Store};
use sqlx::{ConnectOptions, Connection};

use super::{PgOptions, PgStore};

/// The server's URL, or `None` (after saying why) when the tests skip.
fn server() -> Option<String> {
    match std::env::var("CONCORD_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CONCORD_TEST_SERVICES_REQUIRED").is_some() => {
            panic!("CONCORD_TEST_POSTGRES is unset: start scripts/services/postgres")
        }
        Err(_) => {
            eprintln!(
                "skipped: CONCORD_TEST_POSTGRES is unset (scripts/services/postgres starts a server)"
            );
            None
        }
    }
}

/// A database made for one test, dropped with it.
struct Database {
    server: sqlx::postgres::PgConnectOptions,
    name: String,
}

impl Database {
    async fn create(url: &str) -> (Database, String) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "concord_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let mut admin = server.connect().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = server.clone().database(&name).to_url_lossy().to_string();
        (Database { server, name }, url)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // A thread of its own: the test's runtime may be shutting down.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = server.connect().await?;
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(e)) = dropped.join() {
            eprintln!("dropping test database {}: {e}", self.name);
        }
    }
}

async fn connect(url: &str, bucket_ms: u64) -> PgStore {
    let options = PgOptions {
        bucket_ms,
        max_connections: 8,
    };
    PgStore::connect(url, options).await.unwrap()
}

/// The store in a fresh database; `None` when there is no server.
async fn fresh(bucket_ms: u64) -> Option<(Arc<PgStore>, Database)> {
    let (database, url) = Database::create(&server()?).await;
    Some((Arc::new(connect(&url, bucket_ms).await), database))
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
    let Some(url) = server() else { return };
    let (_database, url) = Database::create(&url).await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { connect(&url, 1000).await })
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

    let url = database
        .server
        .clone()
        .database(&database.name)
        .to_url_lossy();
    let restarted = connect(url.as_ref(), 1000).await;
    let resumed = restarted.resumed.lock().unwrap().take().unwrap();
    resumed.await.unwrap();
    assert!(
        restarted.create_channel(&channel).await.unwrap(),
        "the id is free again"
    );
    let left = restarted.messages_before(channel.id, None, 10).await;
    assert!(left.unwrap().is_empty());
}

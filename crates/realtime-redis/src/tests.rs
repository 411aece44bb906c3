//! The realtime conformance suite against a real Redis, named by
//! `CONCORD_TEST_REDIS` (`scripts/services/redis` starts one); each test
//! under a key prefix of its own, each node with its own connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use concord_realtime::Realtime;

use crate::RedisRealtime;

/// The server's URL, or `None` (with a message) to skip; a missing server
/// fails the test when `CONCORD_TEST_SERVICES_REQUIRED` is set.
fn server() -> Option<String> {
    match std::env::var("CONCORD_TEST_REDIS") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CONCORD_TEST_SERVICES_REQUIRED").is_none(),
                "CONCORD_TEST_REDIS is not set (scripts/services/redis starts a server)"
            );
            eprintln!(
                "skipped: CONCORD_TEST_REDIS is not set (scripts/services/redis starts a server)"
            );
            None
        }
    }
}

/// A prefix no other test (of this run or an earlier one) uses.
fn fresh_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test:{}:{nanos}:{n}:", std::process::id())
}

async fn connect(nodes: usize, prefix: &str) -> Option<Vec<RedisRealtime>> {
    let url = server()?;
    let mut connected = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        let redis = RedisRealtime::connect(&url, prefix).await;
        connected.push(redis.unwrap_or_else(|e| panic!("{url}: {e}")));
    }
    Some(connected)
}

async fn open(nodes: usize) -> Option<Vec<Realtime>> {
    let connected = connect(nodes, &fresh_prefix()).await?;
    Some(connected.iter().map(RedisRealtime::realtime).collect())
}

concord_realtime::realtime_conformance!(open);

#[tokio::test]
async fn answers_a_ping() {
    if let Some(nodes) = connect(1, &fresh_prefix()).await {
        nodes[0].ping().await.unwrap();
    }
}

#[test]
fn urls_are_checked() {
    assert!(crate::check_url("redis://127.0.0.1:6379/0").is_ok());
    assert!(crate::check_url("redis://:secret@cache.internal").is_ok());
    for bad in [
        "http://127.0.0.1",
        "127.0.0.1:6379",
        "redis://host:port",
        "redis://",
    ] {
        assert!(crate::check_url(bad).is_err(), "{bad}");
    }
}

/// Two clusters sharing one server keep apart by their prefixes.
#[tokio::test]
async fn prefixes_keep_clusters_apart() {
    let (Some(one), Some(two)) = (
        connect(1, &fresh_prefix()).await,
        connect(1, &fresh_prefix()).await,
    ) else {
        return;
    };
    let (one, two) = (one[0].realtime(), two[0].realtime());
    let ttl = std::time::Duration::from_secs(60);
    assert!(one.leases.acquire("task", "a", ttl).await.unwrap());
    assert!(two.leases.acquire("task", "b", ttl).await.unwrap());
}

/// A server that lost its scripts (a restart) is given them again.
#[tokio::test]
async fn scripts_flushed_from_the_server_are_loaded_again() {
    let Some(nodes) = connect(1, &fresh_prefix()).await else {
        return;
    };
    let realtime = nodes[0].realtime();
    let ttl = std::time::Duration::from_secs(60);
    assert!(realtime.leases.acquire("task", "a", ttl).await.unwrap());
    use fred::interfaces::LuaInterface;
    nodes[0].conn.client().script_flush(false).await.unwrap();
    assert!(!realtime.leases.acquire("task", "b", ttl).await.unwrap());
    assert!(realtime.leases.renew("task", "a", ttl).await.unwrap());
}

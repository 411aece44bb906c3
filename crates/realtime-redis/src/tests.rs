//! The realtime conformance suite against a real Redis, named by
//! `CONCORD_TEST_REDIS` (`scripts/services/redis` starts one); each test
//! under a key prefix of its own, each node with its own connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use concord_realtime::Realtime;

use futures_util::FutureExt;

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

/// Sessions that got one frame share its text, stored once; a text gone
/// (expired) makes a RESUME that needs it fail rather than replay a hole,
/// while one that needs no frame still works.
#[tokio::test]
async fn frames_share_their_text_and_a_lost_text_refuses_the_resume() {
    use concord_realtime::sessions::{Append, Frame, NodeId, SessionRecord};
    use fred::interfaces::{ClientLike, KeysInterface};
    let prefix = fresh_prefix();
    let Some(nodes) = connect(1, &prefix).await else {
        return;
    };
    let sessions = nodes[0].realtime().sessions;
    let (node, user, ttl) = (
        NodeId(1),
        concord_model::Snowflake(5),
        Duration::from_secs(60),
    );
    let data: std::sync::Arc<str> = "{\"big\":\"payload\"}".into();
    let mut batches = Vec::new();
    for id in ["a", "b", "c"] {
        let record = SessionRecord {
            id: id.into(),
            user_id: user,
            node,
            intents: 0,
            shard: [0, 1],
            state: String::new(),
            seq: 0,
            last_event: 0,
        };
        sessions.create(record, ttl).await.unwrap();
        let frame = Frame {
            seq: 1,
            kind: "MESSAGE_CREATE".into(),
            data: std::sync::Arc::clone(&data),
        };
        batches.push(Append {
            id: id.into(),
            frames: vec![frame],
            last_event: 3,
            ..Append::default()
        });
    }
    assert!(sessions.append(node, batches).await.unwrap().is_empty());
    let client = nodes[0].conn.client();
    let texts: Vec<String> = client
        .custom(fred::cmd!("KEYS"), vec![format!("{prefix}text:*")])
        .await
        .unwrap();
    assert_eq!(texts.len(), 1, "one text for three sessions: {texts:?}");

    let resumed = sessions.resume("a", user, node, 0, ttl).await.unwrap();
    assert_eq!(&*resumed.unwrap().frames[0].data, &*data);
    client.del::<(), _>(texts[0].as_str()).await.unwrap();
    assert!(
        sessions
            .resume("b", user, node, 0, ttl)
            .await
            .unwrap()
            .is_none(),
        "its frame's text is gone"
    );
    let nothing_missed = sessions.resume("c", user, node, 1, ttl).await.unwrap();
    assert!(nothing_missed.unwrap().frames.is_empty());
}

/// A Redis server of the test's own, which it can stop and start again.
struct OwnServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl OwnServer {
    fn start() -> OwnServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = OwnServer {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.resume();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port.
    fn resume(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/services/redis installs it)");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `ready` until it holds; panics after about 30 s.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, ready: impl Fn() -> F) {
    for _ in 0..300 {
        if ready().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: not after 30 s");
}

/// The server stops and comes back (empty): calls fail meanwhile rather
/// than hang, and then work again on the same connection, the server's
/// lost scripts loaded again.
#[tokio::test]
async fn calls_fail_while_the_server_is_away_and_work_once_it_is_back() {
    if server().is_none() {
        return;
    }
    let mut own = OwnServer::start();
    let url = own.url();
    let connected = std::sync::Mutex::new(None);
    eventually("the server answers", || async {
        let redis = RedisRealtime::connect(&url, "outage:").await.ok();
        let answered = redis.is_some();
        *connected.lock().unwrap() = redis;
        answered
    })
    .await;
    let redis = connected.lock().unwrap().take().unwrap();
    let realtime = redis.realtime();
    let ttl = std::time::Duration::from_secs(60);
    assert!(realtime.leases.acquire("task", "a", ttl).await.unwrap());

    own.stop();
    let within = std::time::Duration::from_secs(30);
    let away = tokio::time::timeout(within, realtime.leases.acquire("task", "a", ttl)).await;
    assert!(
        away.expect("a call answers").is_err(),
        "no server, no lease"
    );
    assert!(redis.ping().await.is_err());

    own.resume();
    eventually("the connection comes back", || {
        redis.ping().map(|r| r.is_ok())
    })
    .await;
    assert!(
        realtime.leases.acquire("task", "b", ttl).await.unwrap(),
        "the server came back empty"
    );
    let presence = &realtime.presence;
    let online = concord_realtime::UserPresence {
        status: concord_realtime::Status::Online,
        activities: Vec::new(),
        afk: false,
    };
    let told = presence.connect(concord_model::Snowflake(1), "s", online, ttl);
    assert!(told.await.unwrap().is_some());
}

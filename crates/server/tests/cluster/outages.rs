//! A node losing a backend: each test runs a server of its own (never the
//! shared ones), a real `concord serve` on it, stops the server and starts
//! it again on the same port. While it is down the node says so on
//! `/readyz`, refuses what it cannot do with a clear error rather than
//! acknowledge it, and closes a gateway connection whose events it can no
//! longer keep with a resumable code; once it is back the node recovers
//! by itself: writes work and reach the clients.

use std::time::{Duration, Instant};

use concord_testkit::gateway::{GatewayClient, Received};
use concord_testkit::{Account, Backend, TestServer};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_concord");
const INTENTS: u64 = super::GUILDS | super::GUILD_MESSAGES | super::MESSAGE_CONTENT;
/// Generous: a backend restarting on a loaded machine, a node reconnecting.
const WITHIN: Duration = Duration::from_secs(120);

/// Waits until `/readyz` says `ready`, `backend`'s own check agreeing.
async fn await_readiness(server: &TestServer, backend: &str, ready: bool) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let reply = server.readyz().await;
        let check = reply.body["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == backend))
            .map(|c| c["ok"] == true);
        if (reply.status == 200) == ready && check == Some(ready) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never said {backend} ready={ready}: {} {:?}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A gateway connection and what its client keeps to resume.
struct Connection {
    ws: GatewayClient,
    session: String,
    seq: u64,
    /// The contents of the MESSAGE_CREATEs it got, in order.
    messages: Vec<String>,
}

/// How a RESUME ended.
enum Resumption {
    Resumed(Box<Connection>),
    /// Op 9: the client must identify anew.
    Invalid,
    /// The server closed with this code.
    Closed(Option<u16>),
}

impl Connection {
    /// Identifies as `who` and reads through READY and GUILD_CREATE.
    async fn identify(server: &TestServer, who: &Account) -> Connection {
        let mut ws = GatewayClient::connect(&server.ws_url(), "v=10&encoding=json").await;
        assert_eq!(ws.receive().await["op"], 10);
        ws.identify(&who.auth, INTENTS).await;
        let ready = ws.dispatch("READY").await;
        let mut connection = Connection {
            ws,
            session: ready["d"]["session_id"]
                .as_str()
                .expect("session")
                .to_owned(),
            seq: ready["s"].as_u64().expect("s"),
            messages: Vec::new(),
        };
        connection.until("GUILD_CREATE").await;
        connection
    }

    /// Resumes this session on a new socket.
    async fn resume(&self, server: &TestServer, who: &Account) -> Resumption {
        let mut ws = GatewayClient::connect(&server.ws_url(), "v=10&encoding=json").await;
        assert_eq!(ws.receive().await["op"], 10);
        let resume = json!({ "op": 6, "d": {
            "token": who.auth, "session_id": self.session, "seq": self.seq,
        }});
        ws.send(resume).await;
        let mut connection = Connection {
            ws,
            session: self.session.clone(),
            seq: self.seq,
            messages: self.messages.clone(),
        };
        loop {
            match connection
                .ws
                .receive_within(concord_testkit::gateway::PATIENCE)
                .await
            {
                Received::Payload(p) if p["op"] == 9 => return Resumption::Invalid,
                Received::Payload(p) => {
                    if connection.saw(&p) == Some("RESUMED") {
                        return Resumption::Resumed(Box::new(connection));
                    }
                }
                Received::Closed(code) => return Resumption::Closed(code),
                Received::Silent => panic!("no answer to RESUME"),
            }
        }
    }

    /// Keeps a dispatch's sequence and message; returns its type.
    fn saw<'a>(&mut self, payload: &'a Value) -> Option<&'a str> {
        if payload["op"] != 0 {
            return None;
        }
        if let Some(s) = payload["s"].as_u64() {
            self.seq = s;
        }
        if payload["t"] == "MESSAGE_CREATE" {
            let content = payload["d"]["content"].as_str().unwrap_or_default();
            self.messages.push(content.to_owned());
        }
        payload["t"].as_str()
    }

    /// Reads until a dispatch of type `t`.
    async fn until(&mut self, t: &str) {
        loop {
            let payload = self.ws.receive().await;
            if self.saw(&payload) == Some(t) {
                return;
            }
        }
    }

    /// Reads until the message `content` arrives.
    async fn message(&mut self, content: &str) {
        while !self.messages.iter().any(|m| m == content) {
            self.until("MESSAGE_CREATE").await;
        }
    }

    /// Reads until the server closes; its code.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.ws.receive_within(WITHIN).await {
                Received::Payload(p) => {
                    self.saw(&p);
                }
                Received::Closed(code) => return code,
                Received::Silent => panic!("the server did not close the connection"),
            }
        }
    }
}

/// A server on `args`, an owner and their guild's #general, the owner
/// connected to the gateway and hearing their first message.
async fn scene(args: &[&str], backend: &str) -> (TestServer, Account, String, Connection) {
    let server = TestServer::start(BIN, args);
    await_readiness(&server, backend, true).await;
    let owner = server.register("owner").await;
    let (_, general) = server.guild(&owner, "Outage").await;
    let mut connection = Connection::identify(&server, &owner).await;
    server.say(&owner, &general, "before").await;
    connection.message("before").await;
    (server, owner, general, connection)
}

async fn send(server: &TestServer, who: &Account, channel: &str, content: &str) -> Value {
    let path = format!("/channels/{channel}/messages");
    let reply = server
        .post(&path, &who.auth, json!({ "content": content }))
        .await;
    json!({ "status": reply.status, "body": reply.body })
}

/// The contents of the channel's messages, oldest first.
async fn history(server: &TestServer, who: &Account, channel: &str) -> Vec<String> {
    let page = server
        .get(&format!("/channels/{channel}/messages"), &who.auth)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let mut contents: Vec<String> = page
        .body
        .as_array()
        .expect("a page")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    contents.reverse();
    contents
}

/// 503 with Discord's body, which clients read as a server error.
fn assert_unavailable(reply: &Value) {
    assert_eq!(
        *reply,
        json!({ "status": 503, "body": { "message": "503: Service Unavailable", "code": 0 } })
    );
}

/// Without NATS no write can be announced: writes are refused (503)
/// before they are committed, never acknowledged and lost. The node's
/// subscription refills from the stream when the connection returns, so
/// a connection open across the outage misses nothing and stays open.
#[tokio::test]
async fn a_node_that_loses_nats_refuses_writes_and_recovers() {
    let Some(mut nats) = Backend::start("nats") else {
        return;
    };
    let url = nats.url().to_owned();
    let (server, owner, general, mut connection) = scene(&["--bus", &url], "nats").await;

    nats.stop();
    await_readiness(&server, "nats", false).await;
    assert_unavailable(&send(&server, &owner, &general, "during").await);
    // Reads go on.
    assert_eq!(history(&server, &owner, &general).await, ["before"]);

    nats.start_again();
    await_readiness(&server, "nats", true).await;
    server.say(&owner, &general, "after").await;
    connection.message("after").await;
    assert_eq!(connection.messages, ["before", "after"]);
    assert_eq!(
        history(&server, &owner, &general).await,
        ["before", "after"]
    );
}

/// A NATS server that comes back without its JetStream data has lost the
/// stream (the events' ids and history): the node creates it again,
/// numbering past every id it saw, and is ready once more. What the lost
/// stream held is gone, but new writes are announced again: a client that
/// connects afterwards hears them, and history keeps everything.
#[tokio::test]
async fn a_node_whose_nats_lost_its_stream_makes_it_again() {
    let Some(mut nats) = Backend::start("nats") else {
        return;
    };
    let url = nats.url().to_owned();
    let (server, owner, general, _before) = scene(&["--bus", &url], "nats").await;

    nats.stop();
    nats.lose_data();
    nats.start_again();
    await_readiness(&server, "nats", true).await;
    let mut after = Connection::identify(&server, &owner).await;
    server.say(&owner, &general, "after").await;
    after.message("after").await;
    assert_eq!(
        history(&server, &owner, &general).await,
        ["before", "after"]
    );
}

/// Without Redis the session directory cannot keep a session's frames, so
/// its connection is closed with 4000 at the next one (resumable) and a
/// RESUME is put off with 4000 again rather than refused for good. Writes
/// need only the store and the bus: they go on and are acknowledged. A
/// Redis restarted empty knows no session, so the client identifies anew
/// and finds every acknowledged message.
#[tokio::test]
async fn a_node_that_loses_redis_closes_sessions_resumably_and_recovers() {
    let Some(mut redis) = Backend::start("redis") else {
        return;
    };
    let url = redis.url().to_owned();
    let (server, owner, general, mut connection) = scene(&["--realtime", &url], "redis").await;

    redis.stop();
    await_readiness(&server, "redis", false).await;
    server.say(&owner, &general, "during").await;
    assert_eq!(connection.closed().await, Some(4000));
    match connection.resume(&server, &owner).await {
        Resumption::Closed(code) => assert_eq!(code, Some(4000), "a resume put off, not refused"),
        Resumption::Invalid => panic!("INVALID_SESSION while the directory is down"),
        Resumption::Resumed(_) => panic!("resumed without the session directory"),
    }

    redis.start_again();
    await_readiness(&server, "redis", true).await;
    let mut connection = match connection.resume(&server, &owner).await {
        Resumption::Resumed(mut resumed) => {
            resumed.message("during").await;
            *resumed
        }
        Resumption::Invalid => Connection::identify(&server, &owner).await,
        Resumption::Closed(code) => panic!("resume closed with {code:?} once Redis is back"),
    };
    assert_eq!(
        history(&server, &owner, &general).await,
        ["before", "during"]
    );
    server.say(&owner, &general, "after").await;
    connection.message("after").await;
}

/// Without PostgreSQL requests that need it fail within the pool's wait
/// with 503, and nothing is acknowledged; the gateway loses no event (none
/// can be written), so a connection stays open across the outage. The
/// pool reconnects by itself, and the search index catches up.
#[tokio::test]
async fn a_node_that_loses_postgres_fails_requests_cleanly_and_recovers() {
    let Some(mut postgres) = Backend::start("postgres") else {
        return;
    };
    let url = postgres.url().to_owned();
    let (server, owner, general, mut connection) = scene(&["--store", &url], "postgres").await;

    postgres.stop();
    await_readiness(&server, "postgres", false).await;
    assert_unavailable(&send(&server, &owner, &general, "during").await);

    postgres.start_again();
    await_readiness(&server, "postgres", true).await;
    server.say(&owner, &general, "after").await;
    connection.message("after").await;
    assert_eq!(connection.messages, ["before", "after"]);
    assert_eq!(
        history(&server, &owner, &general).await,
        ["before", "after"]
    );
    // The search feed may have read "before" back during the outage: what
    // it could not read was kept for its next commit, not dropped.
    let search = format!("/channels/{general}/messages/search?content=before");
    let found = server
        .get_until(&search, &owner.auth, |r| {
            r.status == 200 && r.body["total_results"] == 1
        })
        .await;
    assert_eq!(found.body["total_results"], 1);
}

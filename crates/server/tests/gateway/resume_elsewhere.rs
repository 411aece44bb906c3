//! A RESUME served by another node: two nodes in this process share one
//! store, bus and realtime state (`concord_server::Backends`), each with
//! its own listener and data directory.

use std::net::SocketAddr;
use std::sync::Arc;

use concord_bus::LocalBus;

use concord_config::{Config, Settings, Switch};
use concord_server::Backends;
use concord_testkit::TempDir;
use concord_testkit::gateway::GatewayClient;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{DEFAULT_INTENTS, GUILDS, MESSAGE_CONTENT};

const GUILD_PRESENCES: u64 = 1 << 8;

struct Node {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    _data: TempDir,
}

fn config(data: &TempDir, worker: u8) -> Config {
    let mut settings = Settings::defaults();
    settings.data_dir = Some(data.path().to_owned());
    settings.rate_limits = Some(Switch::Off);
    settings.search = Some(Switch::Off);
    settings.worker_id = Some(worker);
    Config::from_settings(settings).expect("config")
}

impl Node {
    async fn start(backends: &Backends, data: TempDir, worker: u8) -> Node {
        let config = config(&data, worker);
        concord_server::datadir::prepare(&config.data_dir).expect("data dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let backends = backends.clone();
        let task = tokio::spawn(async move {
            concord_server::run_node(config, backends, listener, shutdown)
                .await
                .expect("node runs");
        });
        Node {
            addr,
            stop: Some(stop),
            task,
            _data: data,
        }
    }

    /// Stops the node: its sockets are told to reconnect and closed.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }

    async fn post(&self, path: &str, auth: Option<&str>, body: Value) -> Value {
        let http = reqwest::Client::new();
        let mut request = http
            .post(format!("http://{}/api/v10{path}", self.addr))
            .json(&body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let reply = request.send().await.expect("request");
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.expect("json")
    }
}

/// Two nodes over one set of backends: an owner, a guild and a bot.
async fn cluster() -> (Node, Node, String, String, String) {
    cluster_keeping(None).await
}

/// [`cluster`] over a bus that keeps `events` (its default if `None`).
async fn cluster_keeping(events: Option<usize>) -> (Node, Node, String, String, String) {
    let (_, a, b, owner, general, bot) = cluster_over(events).await;
    (a, b, owner, general, bot)
}

/// [`cluster_keeping`], with the backends the nodes share.
async fn cluster_over(events: Option<usize>) -> (Backends, Node, Node, String, String, String) {
    let first = tempfile::tempdir().expect("temp dir");
    concord_server::datadir::prepare(first.path()).expect("data dir");
    let mut backends = Backends::open(&config(&first, 1)).await.expect("backends");
    if let Some(capacity) = events {
        backends.bus = Arc::new(LocalBus::new(capacity));
    }
    let a = Node::start(&backends, first, 1).await;
    let b = Node::start(&backends, tempfile::tempdir().expect("temp dir"), 2).await;
    let body =
        json!({ "username": "owner", "password": "password-owner", "email": "o@example.org" });
    let owner = b.post("/auth/register", None, body).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let guild = b
        .post("/guilds", Some(&owner), json!({ "name": "Home" }))
        .await;
    let general = guild["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == 0))
        .and_then(|c| c["id"].as_str())
        .expect("general")
        .to_owned();
    let guild = guild["id"].as_str().expect("guild").to_owned();
    let app = b
        .post("/applications", Some(&owner), json!({ "name": "helper" }))
        .await;
    let app = app["id"].as_str().expect("application").to_owned();
    let reset = b
        .post(
            &format!("/applications/{app}/bot/reset"),
            Some(&owner),
            json!({}),
        )
        .await;
    let bot = reset["token"].as_str().expect("bot token").to_owned();
    let path = format!("/oauth2/authorize?client_id={app}&scope=bot&permissions=0");
    let body = json!({ "guild_id": guild, "permissions": "0", "authorize": true });
    b.post(&path, Some(&owner), body).await;
    (backends, a, b, owner, general, bot)
}

async fn say(node: &Node, owner: &str, channel: &str, content: &str) {
    let path = format!("/channels/{channel}/messages");
    node.post(&path, Some(owner), json!({ "content": content }))
        .await;
}

async fn hello(node: &Node) -> GatewayClient {
    let mut ws = GatewayClient::connect(&format!("ws://{}", node.addr), "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    ws
}

/// A bot session on `node` that has seen one message: (socket, session id, its seq).
async fn watching(
    node: &Node,
    sender: &Node,
    owner: &str,
    general: &str,
    bot: &str,
) -> (GatewayClient, String, u64) {
    let mut ws = hello(node).await;
    ws.identify(bot, DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    let ready = ws.dispatch("READY").await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    assert_ne!(DEFAULT_INTENTS & GUILDS, 0);
    ws.dispatch("GUILD_CREATE").await;
    say(sender, owner, general, "seen").await;
    let seen = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(seen["d"]["content"], "seen");
    (ws, session, seen["s"].as_u64().unwrap())
}

/// Resumes `session` after `last` on `node`, expecting the two missed
/// messages, RESUMED, then live events, numbered on.
async fn resume_missed_two(
    node: &Node,
    owner: &str,
    general: &str,
    bot: &str,
    session: &str,
    last: u64,
) {
    let mut ws = hello(node).await;
    let resume = json!({ "op": 6, "d": { "token": bot, "session_id": session, "seq": last } });
    ws.send(resume).await;
    for (n, content) in ["missed one", "missed two"].iter().enumerate() {
        let missed = ws.dispatch("MESSAGE_CREATE").await;
        assert_eq!(
            (missed["d"]["content"].clone(), missed["s"].clone()),
            (json!(content), json!(last + 1 + n as u64))
        );
    }
    assert_eq!(ws.dispatch("RESUMED").await["s"], last + 3);
    say(node, owner, general, "after").await;
    let after = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (after["d"]["content"].clone(), after["s"].clone()),
        (json!("after"), json!(last + 4))
    );
}

/// The node holding a session stops; the client resumes on the other one
/// and gets every event it missed, numbered on from its last sequence.
#[tokio::test]
async fn a_session_resumes_on_another_node_after_its_node_stopped() {
    let (a, b, owner, general, bot) = cluster().await;
    let (ws, session, last) = watching(&a, &b, &owner, &general, &bot).await;
    a.stop().await;
    drop(ws);
    for content in ["missed one", "missed two"] {
        say(&b, &owner, &general, content).await;
    }
    resume_missed_two(&b, &owner, &general, &bot, &session, last).await;
    b.stop().await;
}

/// A client whose socket to a live node dropped resumes on another node,
/// which takes the session over; resuming back on the first node works
/// too (it learns the session moved and takes it back).
#[tokio::test]
async fn a_session_moves_between_live_nodes() {
    let (a, b, owner, general, bot) = cluster().await;
    let (ws, session, last) = watching(&a, &b, &owner, &general, &bot).await;
    drop(ws);
    for content in ["missed one", "missed two"] {
        say(&a, &owner, &general, content).await;
    }
    resume_missed_two(&b, &owner, &general, &bot, &session, last).await;
    // The socket on B is dropped after seeing "after" (seq last + 4).
    for content in ["missed one", "missed two"] {
        say(&b, &owner, &general, content).await;
    }
    resume_missed_two(&a, &owner, &general, &bot, &session, last + 4).await;
    a.stop().await;
    b.stop().await;
}

/// Events the old holder never handled that the bus no longer keeps: the
/// client is told to identify anew, never resumed across the hole.
#[tokio::test]
async fn a_resume_past_the_kept_history_is_refused() {
    let (a, b, owner, general, bot) = cluster_keeping(Some(4)).await;
    let (ws, session, last) = watching(&a, &b, &owner, &general, &bot).await;
    a.stop().await;
    drop(ws);
    for n in 0..8 {
        say(&b, &owner, &general, &format!("missed {n}")).await;
    }
    let mut ws = hello(&b).await;
    let resume = json!({ "op": 6, "d": { "token": bot, "session_id": session, "seq": last } });
    ws.send(resume).await;
    let answer = ws.receive().await;
    assert_eq!(
        (answer["op"].clone(), answer["d"].clone()),
        (json!(9), json!(false))
    );
    b.stop().await;
}

/// `count` members written into the guild through the store the nodes
/// share, as an import would: a large guild without a request each.
async fn fill_guild(backends: &Backends, guild: &str, count: usize) {
    use concord_model::records::{Member, User};
    use concord_model::snowflake::SnowflakeGenerator;
    let guild = concord_model::Snowflake(guild.parse().expect("guild id"));
    let ids = SnowflakeGenerator::new(31, 31);
    for n in 0..count {
        let id = ids.next();
        let user = User::new(id, format!("filler{n}"));
        backends.store.create_user(&user).await.expect("user");
        let member = Member::new(guild, id, 0);
        backends.store.put_member(&member).await.expect("member");
    }
}

/// The members a person's session follows (op 14) are part of what it
/// resumes with: taken over by another node, in a guild large for it, it
/// hears of their presences without its client asking again.
#[tokio::test]
async fn followed_presences_follow_a_session_to_another_node() {
    let (backends, a, b, owner, general, _) = cluster_over(None).await;
    let body = json!({ "username": "fan", "password": "password-fan", "email": "f@example.org" });
    let fan = b.post("/auth/register", None, body).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let invite = b
        .post(
            &format!("/channels/{general}/invites"),
            Some(&owner),
            json!({}),
        )
        .await;
    let code = invite["code"].as_str().expect("code");
    b.post(&format!("/invites/{code}"), Some(&fan), json!({}))
        .await;
    let mut ws = hello(&a).await;
    ws.identify(&fan, GUILDS | GUILD_PRESENCES).await;
    let session = ws.dispatch("READY").await["d"]["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let created = ws.dispatch("GUILD_CREATE").await;
    let guild = created["d"]["id"].as_str().expect("guild id").to_owned();
    fill_guild(&backends, &guild, 60).await;
    let owner_id = created["d"]["owner_id"].as_str().expect("owner").to_owned();
    let follow = json!({ "op": 14, "d": { "guild_id": guild, "members": [owner_id] } });
    ws.send(follow).await;
    ws.send(json!({ "op": 1, "d": null })).await;
    let mut last = created["s"].as_u64().expect("seq");
    loop {
        let p = ws.receive().await;
        if p["op"] == 11 {
            break;
        }
        last = p["s"].as_u64().unwrap_or(last);
    }
    a.stop().await;
    drop(ws);

    let mut ws = hello(&b).await;
    let resume = json!({ "op": 6, "d": { "token": fan, "session_id": session, "seq": last } });
    ws.send(resume).await;
    ws.dispatch("RESUMED").await;
    let mut owning = hello(&b).await;
    owning.identify(&owner, GUILDS).await;
    owning.dispatch("READY").await;
    let heard = ws.dispatch("PRESENCE_UPDATE").await;
    assert_eq!(heard["d"]["user"]["id"], owner_id.as_str());
    assert_eq!(heard["d"]["status"], "online");
    b.stop().await;
}

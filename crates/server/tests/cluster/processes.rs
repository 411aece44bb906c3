//! Nodes as real `concord serve` processes over PostgreSQL, NATS and Redis
//! (testkit's `ProcessCluster`): a node killed or stopped while messages
//! flow loses nothing its clients were told of, and clients on different
//! nodes see each other. Each test skips without the three backends (see
//! `scripts/services`), and fails then under `CONCORD_TEST_SERVICES_REQUIRED`.
//!
//! The tests run on a multi-threaded runtime: starting and reaping a node
//! blocks a thread, and the gateway clients must keep heartbeating meanwhile.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use concord_service::sessions::presence::SWEEP_EVERY;
use concord_testkit::gateway::{GatewayClient, PATIENCE, Received};
use concord_testkit::processes::ProcessCluster;
use concord_testkit::{Account, Client};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{GUILD_MESSAGES, GUILD_PRESENCES, GUILDS, MESSAGE_CONTENT};

const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
const GUILD_MESSAGE_TYPING: u64 = 1 << 11;

/// The nodes' gateway heartbeat interval: short, because a session's
/// presence lives a heartbeat and a quarter unless renewed, and the test
/// of a killed node waits for that.
const HEARTBEAT_MS: u64 = 5_000;

/// `count` nodes over the test backends, search off; `None` to skip.
async fn cluster(count: usize) -> Option<ProcessCluster> {
    let heartbeat = HEARTBEAT_MS.to_string();
    let args = [
        "--gateway-heartbeat-ms",
        heartbeat.as_str(),
        "--search",
        "off",
    ];
    ProcessCluster::start(env!("CARGO_BIN_EXE_concord"), count, &args).await
}

/// A gateway connection whose socket a task of its own reads and keeps
/// alive, heartbeating as client libraries do, so that a test may attend
/// to other things for a while; everything received is kept in `log`.
struct Live {
    received: mpsc::UnboundedReceiver<Received>,
    outgoing: mpsc::UnboundedSender<Value>,
    pump: JoinHandle<()>,
    /// Every payload read so far, in order.
    log: Vec<Value>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl Live {
    /// Connects to `node`, reads HELLO, sends `opening` (IDENTIFY or
    /// RESUME) and leaves the socket to the pump.
    async fn open(node: &Client, opening: Value) -> Live {
        let mut ws = GatewayClient::connect(&node.ws_url(), "v=10&encoding=json").await;
        let hello = ws.receive().await;
        assert_eq!(hello["op"], 10, "HELLO first: {hello}");
        let interval = hello["d"]["heartbeat_interval"].as_u64().expect("interval");
        ws.send(opening).await;
        let (to_test, received) = mpsc::unbounded_channel();
        let (outgoing, to_send) = mpsc::unbounded_channel();
        let pump = tokio::spawn(pump(ws, Duration::from_millis(interval), to_test, to_send));
        Live {
            received,
            outgoing,
            pump,
            log: Vec::new(),
        }
    }

    /// A new session of `who` on `node`, and its id, once READY came.
    async fn identify(node: &Client, who: &Account, intents: u64) -> (Live, String) {
        let identify = json!({ "op": 2, "d": {
            "token": who.auth.trim_start_matches("Bot "), "intents": intents,
            "properties": { "os": "linux", "browser": "concord-tests", "device": "concord-tests" }
        }});
        let mut live = Live::open(node, identify).await;
        let ready = live.until("READY", |p| p["t"] == "READY").await;
        let session = ready["d"]["session_id"].as_str().expect("session id");
        (live, session.to_owned())
    }

    /// Resumes `who`'s `session` on `node` after `seq`.
    async fn resume(node: &Client, who: &Account, session: &str, seq: u64) -> Live {
        let resume =
            json!({ "op": 6, "d": { "token": who.auth, "session_id": session, "seq": seq } });
        Live::open(node, resume).await
    }

    fn send(&self, payload: Value) {
        self.outgoing.send(payload).expect("connection open");
    }

    /// Reads until a payload satisfies `done` and returns it; panics if
    /// the socket closes first or none does within `within`.
    async fn until_within(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.received.recv()).await {
                Ok(Some(Received::Payload(p))) => {
                    self.log.push(p.clone());
                    if done(&p) {
                        return p;
                    }
                }
                Ok(Some(closed)) => panic!("closed ({closed:?}) before {what}"),
                Ok(None) => panic!("closed before {what}"),
                Err(_) => {
                    let recent = self.log.iter().rev().take(20).rev();
                    let recent: Vec<String> =
                        recent.map(|p| format!("{} {}", p["op"], p["t"])).collect();
                    panic!("no {what} within {within:?}; last received: {recent:?}")
                }
            }
        }
    }

    async fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.until_within(what, PATIENCE, done).await
    }

    /// The first payload received so far that satisfies `done`, else the
    /// next one to, as [`until_within`](Self::until_within).
    async fn received_within(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        match self.log.iter().find(|p| done(p)) {
            Some(p) => p.clone(),
            None => self.until_within(what, within, done).await,
        }
    }

    /// Reads until the server closes the socket (or it breaks).
    async fn until_closed(&mut self) {
        loop {
            match tokio::time::timeout(PATIENCE, self.received.recv()).await {
                Ok(Some(Received::Payload(p))) => self.log.push(p),
                Ok(Some(_) | None) => return,
                Err(_) => panic!("the socket stayed open"),
            }
        }
    }

    /// The last sequence number received.
    fn seq(&self) -> u64 {
        self.log
            .iter()
            .filter_map(|p| p["s"].as_u64())
            .max()
            .unwrap_or(0)
    }
}

/// Forwards what `ws` receives to the test and what the test gives to
/// `ws`, and heartbeats every `interval`, until the socket closes.
async fn pump(
    mut ws: GatewayClient,
    interval: Duration,
    to_test: mpsc::UnboundedSender<Received>,
    mut to_send: mpsc::UnboundedReceiver<Value>,
) {
    let mut seq: Option<u64> = None;
    let mut beat = Instant::now() + interval;
    loop {
        let wait = beat.saturating_duration_since(Instant::now());
        let outgoing = tokio::select! {
            received = ws.receive_within(wait) => match received {
                Received::Payload(p) => {
                    seq = p["s"].as_u64().or(seq);
                    if to_test.send(Received::Payload(p)).is_err() {
                        return;
                    }
                    None
                }
                Received::Silent => None,
                closed => {
                    let _ = to_test.send(closed);
                    return;
                }
            },
            Some(payload) = to_send.recv() => Some(payload),
        };
        let beating = Instant::now() >= beat;
        if beating {
            beat = Instant::now() + interval;
        }
        let heartbeat = beating.then(|| json!({ "op": 1, "d": seq }));
        for payload in outgoing.into_iter().chain(heartbeat) {
            if ws.try_send_raw(payload.to_string()).await.is_err() {
                let _ = to_test.send(Received::Closed(None));
                return;
            }
        }
    }
}

/// Whether `p` is a PRESENCE_UPDATE saying `user` is `status`.
fn presence(p: &Value, user: &str, status: &str) -> bool {
    p["t"] == "PRESENCE_UPDATE" && p["d"]["user"]["id"] == user && p["d"]["status"] == status
}

/// The ids of the MESSAGE_CREATE dispatches in `log`, in order.
fn created(log: &[Value]) -> Vec<String> {
    log.iter()
        .filter(|p| p["t"] == "MESSAGE_CREATE")
        .filter_map(|p| p["d"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// Every message id in `channel`, read through `node`.
async fn history(node: &Client, who: &Account, channel: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(id) => format!("/channels/{channel}/messages?limit=100&before={id}"),
            None => format!("/channels/{channel}/messages?limit=100"),
        };
        let page = node.get(&path, &who.auth).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let page = concord_testkit::ids(&page.body);
        let Some(last) = page.last().cloned() else {
            return ids;
        };
        ids.extend(page);
        before = Some(last);
    }
}

/// How a node goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Loss {
    /// `kill -9`: its sockets break, nothing is handed over.
    Kill,
    /// SIGTERM: its sessions are asked to reconnect elsewhere (op 7).
    Terminate,
}

/// Messages the sender posts in all.
const MESSAGES: usize = 60;
/// Messages acknowledged before the doomed node goes.
const LOSE_AFTER: usize = 15;
/// The node that goes: not the first, which holds the cluster's singleton
/// leases (the presence sweep among them) since it started first.
const DOOMED: usize = 2;

/// Posts [`MESSAGES`] messages one after another, each through the next
/// node that still answers; returns the ids acknowledged (in order) and how
/// many posts were not. Only the doomed node may fail to acknowledge one.
async fn send_in_turn(
    nodes: Vec<Client>,
    doomed: usize,
    auth: String,
    channel: String,
    acknowledged: watch::Sender<usize>,
) -> (Vec<String>, usize) {
    let path = format!("/channels/{channel}/messages");
    let mut down = vec![false; nodes.len()];
    let (mut acked, mut unacknowledged) = (Vec::new(), 0);
    for i in 0..MESSAGES {
        let node = (0..nodes.len())
            .map(|k| (i + k) % nodes.len())
            .find(|n| !down[*n])
            .expect("a node answers");
        let body = json!({ "content": format!("message {i}") });
        let reply = nodes[node]
            .try_request("POST", &path, Some(&auth), Some(body), &[])
            .await;
        match reply {
            Ok(reply) if reply.status == 200 => {
                acked.push(reply.body["id"].as_str().expect("id").to_owned());
                acknowledged.send_replace(acked.len());
            }
            other => {
                assert_eq!(node, doomed, "a surviving node failed a post: {other:?}");
                down[node] = true;
                unacknowledged += 1;
            }
        }
    }
    (acked, unacknowledged)
}

/// Four members of one guild, each on a gateway connection: a watcher on
/// node 0 (with presences), ada on node 1, and bob and a lurker on the
/// doomed node. Messages flow through every node in turn; the doomed node
/// goes (`loss`) after [`LOSE_AFTER`] of them. Bob resumes on node 0
/// (after the socket breaks, or on op 7) and the lurker does not return.
///
/// Then every acknowledged message is in history, and each client saw
/// each of them once, in the order sent; bob's sequence numbers run
/// without a gap across both nodes and he never had to identify again;
/// and the lurker goes offline for the watcher within the presence TTL
/// (and the time the sweep may take to notice), while bob does not.
/// Started again, the node serves its share.
async fn a_node_goes_while_messages_flow(loss: Loss) {
    let Some(mut cluster) = cluster(3).await else {
        return;
    };
    let first = cluster.node(0);
    let owner = first.register("owner").await;
    let (_, general) = first.guild(&owner, "Flowing").await;
    let mut people = Vec::new();
    for name in ["watcher", "ada", "bob", "lurker"] {
        let member = first.register(name).await;
        first.join(&owner, &general, &member).await;
        people.push(member);
    }
    let [watcher, ada, bob, lurker] = &people[..] else {
        unreachable!()
    };
    let reading = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT;
    let (mut watching, _) = Live::identify(first, watcher, reading | GUILD_PRESENCES).await;
    let (mut on_one, _) = Live::identify(cluster.node(1), ada, reading).await;
    let (mut bobs, session) = Live::identify(cluster.node(DOOMED), bob, reading).await;
    let (_lurking, _) = Live::identify(cluster.node(DOOMED), lurker, GUILDS).await;
    watching
        .until("the lurker online", |p| presence(p, &lurker.id, "online"))
        .await;

    let nodes = (0..cluster.len())
        .map(|i| Client::new(cluster.node(i).addr))
        .collect();
    let (acknowledged, mut progress) = watch::channel(0);
    let sender = tokio::spawn(send_in_turn(
        nodes,
        DOOMED,
        owner.auth.clone(),
        general.clone(),
        acknowledged,
    ));
    progress
        .wait_for(|n| *n >= LOSE_AFTER)
        .await
        .expect("the sender runs");
    let lost_at = Instant::now();
    match loss {
        Loss::Kill => cluster.kill9(DOOMED),
        Loss::Terminate => cluster.signal_terminate(DOOMED),
    }
    let first = cluster.node(0);

    match loss {
        Loss::Kill => bobs.until_closed().await,
        Loss::Terminate => {
            bobs.until("RECONNECT", |p| p["op"] == 7).await;
        }
    }
    let seq = bobs.seq();
    let mut bob_log = std::mem::take(&mut bobs.log);
    drop(bobs);
    let mut bobs = Live::resume(first, bob, &session, seq).await;
    bobs.until("RESUMED", |p| p["t"] == "RESUMED").await;

    let (acked, unacknowledged) = sender.await.expect("sender");
    assert!(acked.len() > LOSE_AFTER, "messages flowed after the loss");
    let last = acked.last().expect("acknowledged").clone();
    let is_last = |p: &Value| p["t"] == "MESSAGE_CREATE" && p["d"]["id"] == last.as_str();
    for live in [&mut watching, &mut on_one, &mut bobs] {
        live.until("the last message", is_last).await;
    }
    bob_log.append(&mut bobs.log.clone());

    let stored = history(first, &owner, &general).await;
    let acked_set: HashSet<&String> = acked.iter().collect();
    for (who, log) in [
        ("watcher", &watching.log),
        ("ada", &on_one.log),
        ("bob", &bob_log),
    ] {
        let seen = created(log);
        let distinct: HashSet<&String> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "{who} saw a message twice");
        let acked_seen: Vec<&String> = seen.iter().filter(|id| acked_set.contains(id)).collect();
        assert_eq!(
            acked_seen,
            acked.iter().collect::<Vec<_>>(),
            "{who} saw every acknowledged message, in the order sent"
        );
        assert!(
            seen.len() - acked_seen.len() <= unacknowledged,
            "{who} saw messages nobody sent"
        );
        for id in &seen {
            assert!(stored.contains(id), "{who} saw {id}, which is not stored");
        }
    }
    for id in &acked {
        assert!(stored.contains(id), "acknowledged {id} is not stored");
    }
    let numbered: Vec<u64> = bob_log.iter().filter_map(|p| p["s"].as_u64()).collect();
    let expected: Vec<u64> = (1..=numbered.len() as u64).collect();
    assert_eq!(numbered, expected, "bob's events run without a gap");
    assert!(
        !bob_log.iter().any(|p| p["op"] == 9),
        "bob never had to identify again"
    );

    if loss == Loss::Terminate {
        let exit = tokio::task::block_in_place(|| cluster.terminate_wait(DOOMED));
        assert!(exit.success(), "the node stopped cleanly: {exit:?}");
    }
    // A session's presence lives a heartbeat and a quarter without
    // renewal; the sweep that notices it expired runs every SWEEP_EVERY.
    // (A node that stops keeps its clients' presence, as it tells them to
    // reconnect: the lurker, who does not, goes offline the same way.)
    let ttl = Duration::from_millis(HEARTBEAT_MS + HEARTBEAT_MS / 4);
    let within = ttl + SWEEP_EVERY + Duration::from_secs(10);
    watching
        .received_within("the lurker offline", within, |p| {
            presence(p, &lurker.id, "offline")
        })
        .await;
    println!(
        "{loss:?}: the watcher knew the lurker offline {:?} after the loss (presence TTL {ttl:?}, sweep every {SWEEP_EVERY:?})",
        lost_at.elapsed()
    );
    // Bob's connection on the lost node ended (at once after op 7, or
    // when its presence expired); his session on node 0 keeps him online,
    // and no one saw him go offline and come back on the way.
    assert!(
        !watching.log.iter().any(|p| presence(p, &bob.id, "offline")),
        "bob, who came back at once, was never shown offline"
    );
    let about_bob = watching
        .log
        .iter()
        .rev()
        .find(|p| p["t"] == "PRESENCE_UPDATE" && p["d"]["user"]["id"] == bob.id.as_str());
    assert_eq!(
        about_bob.map(|p| &p["d"]["status"]),
        Some(&json!("online")),
        "bob, resumed elsewhere, shows online"
    );

    // Started again, the node serves its share: the lurker comes back
    // through it and hears what is said through another.
    tokio::task::block_in_place(|| cluster.restart(DOOMED));
    let (mut back, _) = Live::identify(cluster.node(DOOMED), lurker, reading).await;
    let said = cluster.node(0).say(&owner, &general, "welcome back").await;
    back.until("a message after the restart", |p| {
        p["t"] == "MESSAGE_CREATE" && p["d"]["id"] == said.as_str()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_messages_flow_loses_nothing_and_its_sessions_resume_elsewhere() {
    a_node_goes_while_messages_flow(Loss::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_while_messages_flow_moves_its_sessions_without_loss() {
    a_node_goes_while_messages_flow(Loss::Terminate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_two_nodes_see_each_others_messages_edits_reactions_typing_presence_and_threads()
{
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    // Set up through both nodes in turn, as behind a load balancer.
    let any = cluster.round_robin();
    assert_ne!(any.ws_url(), any.ws_url(), "one node, then the other");
    let alice = any.register("alice").await;
    let (_, general) = any.guild(&alice, "Across").await;
    let bob = any.register("bob").await;
    any.join(&alice, &general, &bob).await;
    let intents = GUILDS
        | GUILD_PRESENCES
        | GUILD_MESSAGES
        | GUILD_MESSAGE_REACTIONS
        | GUILD_MESSAGE_TYPING
        | MESSAGE_CONTENT;
    let (mut on_a, _) = Live::identify(a, &alice, intents).await;
    let (mut on_b, _) = Live::identify(b, &bob, intents).await;
    on_a.until("bob online", |p| presence(p, &bob.id, "online"))
        .await;

    let said = a.say(&alice, &general, "from A").await;
    let seen = on_b
        .until("alice's message", |p| {
            p["t"] == "MESSAGE_CREATE" && p["d"]["id"] == said.as_str()
        })
        .await;
    assert_eq!(seen["d"]["content"], "from A");
    let answer = b.say(&bob, &general, "from B").await;
    on_a.until("bob's message", |p| {
        p["t"] == "MESSAGE_CREATE" && p["d"]["id"] == answer.as_str()
    })
    .await;

    let message = format!("/channels/{general}/messages/{said}");
    let edited = a
        .patch(
            &message,
            &alice.auth,
            json!({ "content": "from A, edited" }),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    on_b.until("the edit", |p| {
        p["t"] == "MESSAGE_UPDATE" && p["d"]["content"] == "from A, edited"
    })
    .await;

    let reacted = b
        .put(
            &format!("{message}/reactions/%F0%9F%91%8D/@me"),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(reacted.status, 204, "{:?}", reacted.body);
    on_a.until("bob's reaction", |p| {
        p["t"] == "MESSAGE_REACTION_ADD"
            && p["d"]["user_id"] == bob.id.as_str()
            && p["d"]["message_id"] == said.as_str()
    })
    .await;

    let typing = b
        .post(&format!("/channels/{general}/typing"), &bob.auth, json!({}))
        .await;
    assert_eq!(typing.status, 204, "{:?}", typing.body);
    on_a.until("bob typing", |p| {
        p["t"] == "TYPING_START" && p["d"]["user_id"] == bob.id.as_str()
    })
    .await;

    on_b.send(json!({ "op": 3, "d": {
        "since": null, "activities": [], "status": "dnd", "afk": false
    }}));
    on_a.until("bob's dnd", |p| presence(p, &bob.id, "dnd"))
        .await;

    let thread = a
        .post(
            &format!("/channels/{general}/threads"),
            &alice.auth,
            json!({ "name": "across", "type": 11 }),
        )
        .await;
    assert_eq!(thread.status, 201, "{:?}", thread.body);
    let thread = thread.body["id"].as_str().expect("thread id").to_owned();
    on_b.until("the thread", |p| {
        p["t"] == "THREAD_CREATE" && p["d"]["id"] == thread.as_str()
    })
    .await;
    let in_thread = b.say(&bob, &thread, "in the thread, from B").await;
    on_a.until("bob's message in the thread", |p| {
        p["t"] == "MESSAGE_CREATE"
            && p["d"]["id"] == in_thread.as_str()
            && p["d"]["channel_id"] == thread.as_str()
    })
    .await;
    let archived = a
        .patch(
            &format!("/channels/{thread}"),
            &alice.auth,
            json!({ "archived": true }),
        )
        .await;
    assert_eq!(archived.status, 200, "{:?}", archived.body);
    on_b.until("the archiving", |p| {
        p["t"] == "THREAD_UPDATE"
            && p["d"]["id"] == thread.as_str()
            && p["d"]["thread_metadata"]["archived"] == true
    })
    .await;

    let deleted = b
        .delete(&format!("/channels/{general}/messages/{answer}"), &bob.auth)
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    on_a.until("the deletion", |p| {
        p["t"] == "MESSAGE_DELETE" && p["d"]["id"] == answer.as_str()
    })
    .await;
}

/// Whichever node runs the presence sweep (the holder of its lease), a
/// kill hands the sweep to a node still running. Each of two nodes is
/// killed in turn while a user is connected to it alone, and a watcher on
/// the other node hears that user go offline: one of the two kills is of
/// the sweep's holder, so a survivor must have taken the lease over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presence_sweep_moves_to_another_node_when_its_holder_dies() {
    let Some(mut cluster) = cluster(2).await else {
        return;
    };
    let first = cluster.node(0);
    let owner = first.register("owner").await;
    let (_, general) = first.guild(&owner, "Sweeping").await;
    let watcher = first.register("watcher").await;
    let lurker = first.register("lurker").await;
    for member in [&watcher, &lurker] {
        first.join(&owner, &general, member).await;
    }
    // The lurker's presence outlives the kill by its TTL; the sweep's
    // lease outlives its holder by up to three sweeps.
    let ttl = Duration::from_millis(HEARTBEAT_MS + HEARTBEAT_MS / 4);
    let within = ttl + SWEEP_EVERY * 4 + Duration::from_secs(10);
    for (doomed, survivor) in [(0, 1), (1, 0)] {
        let (mut watching, _) =
            Live::identify(cluster.node(survivor), &watcher, GUILDS | GUILD_PRESENCES).await;
        let (_lurking, _) = Live::identify(cluster.node(doomed), &lurker, GUILDS).await;
        watching
            .until("the lurker online", |p| presence(p, &lurker.id, "online"))
            .await;
        cluster.kill9(doomed);
        watching
            .received_within("the lurker offline", within, |p| {
                presence(p, &lurker.id, "offline")
            })
            .await;
        tokio::task::block_in_place(|| cluster.restart(doomed));
    }
}

/// Voice across nodes, each with its own voice endpoint: members joining
/// through different nodes are sent to the same voice server (the node
/// the first of them joined through), and the members of a node killed
/// without ending its sessions leave their channel once their states
/// expire, told by the node holding the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_members_share_one_endpoint_and_a_killed_nodes_members_leave() {
    const GUILD_VOICE_STATES: u64 = 1 << 7;
    let heartbeat = HEARTBEAT_MS.to_string();
    let args = [
        "--gateway-heartbeat-ms",
        heartbeat.as_str(),
        "--search",
        "off",
    ];
    let binary = env!("CARGO_BIN_EXE_concord");
    let Some(mut cluster) = ProcessCluster::start(binary, 0, &args).await else {
        return;
    };
    // Each node's voice server on a port of its own, known beforehand.
    let free = || {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("its address").to_string()
    };
    let voice = [free(), free()];
    for listen in &voice {
        cluster.add_node_with(&["--voice-listen", listen.as_str()]);
    }
    let (a, b) = (cluster.node(0), cluster.node(1));
    let alice = a.register("alice").await;
    let (guild, general) = a.guild(&alice, "Voice").await;
    let bob = a.register("bob").await;
    a.join(&alice, &general, &bob).await;
    let room = a
        .post(
            &format!("/guilds/{guild}/channels"),
            &alice.auth,
            json!({ "name": "Room", "type": 2 }),
        )
        .await;
    assert_eq!(room.status, 201, "{:?}", room.body);
    let room = room.body["id"].as_str().expect("channel id").to_owned();
    let join = json!({ "op": 4, "d": {
        "guild_id": guild, "channel_id": room, "self_mute": false, "self_deaf": false
    }});
    let intents = GUILDS | GUILD_VOICE_STATES;

    let (mut on_b, _) = Live::identify(b, &bob, intents).await;
    on_b.until("GUILD_CREATE", |p| p["t"] == "GUILD_CREATE")
        .await;
    on_b.send(join.clone());
    let server = on_b
        .until("bob's voice server", |p| p["t"] == "VOICE_SERVER_UPDATE")
        .await;
    assert_eq!(server["d"]["endpoint"], voice[1].as_str());

    let (mut on_a, _) = Live::identify(a, &alice, intents).await;
    let created = on_a
        .until("GUILD_CREATE", |p| p["t"] == "GUILD_CREATE")
        .await;
    let listed = &created["d"]["voice_states"];
    assert_eq!(listed[0]["user_id"], bob.id.as_str(), "{listed}");
    on_a.send(join);
    let server = on_a
        .until("alice's voice server", |p| p["t"] == "VOICE_SERVER_UPDATE")
        .await;
    assert_eq!(
        server["d"]["endpoint"],
        voice[1].as_str(),
        "the guild's voice server, not this node's"
    );

    cluster.kill9(1);
    let left = on_a
        .until_within("bob's leave", Duration::from_secs(90), |p| {
            p["t"] == "VOICE_STATE_UPDATE"
                && p["d"]["user_id"] == bob.id.as_str()
                && p["d"]["channel_id"].is_null()
        })
        .await;
    assert_eq!(left["d"]["guild_id"], guild.as_str());
}

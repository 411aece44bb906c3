//! Several nodes sharing one store, bus and realtime backend (testkit's
//! cluster harness): whatever a client does through one node, every other
//! node must agree with. Each test here failed while some piece of state
//! lived in one process's memory.

use std::collections::HashSet;
use std::time::Duration;

use concord_testkit::Account;
use concord_testkit::cluster::{Cluster, Node};
use concord_testkit::gateway::{GatewayClient, Received};
use futures_util::future::join_all;
use serde_json::{Value, json};

mod outages;
mod postgres;
mod processes;
mod push;
mod redis;

const GUILDS: u64 = 1;
const GUILD_PRESENCES: u64 = 1 << 8;
const GUILD_MESSAGES: u64 = 1 << 9;
const MESSAGE_CONTENT: u64 = 1 << 15;

/// The owner of a guild, its #general, and `others` members, all made
/// through the first node.
async fn guild_with(cluster: &Cluster, others: &[&str]) -> (Account, String, Vec<Account>) {
    let a = cluster.node(0);
    let owner = a.register("owner").await;
    let (_, general) = a.guild(&owner, "Cluster").await;
    let mut members = Vec::new();
    for name in others {
        let member = a.register(name).await;
        a.join(&owner, &general, &member).await;
        members.push(member);
    }
    (owner, general, members)
}

/// A gateway connection to `node` that has seen READY.
async fn connect(node: &Node, token: &str, intents: u64) -> (GatewayClient, Value) {
    let url = format!("ws://{}", node.addr);
    let mut ws = GatewayClient::connect(&url, "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    ws.identify(token.trim_start_matches("Bot "), intents).await;
    let ready = ws.dispatch("READY").await;
    (ws, ready)
}

/// The dispatches of type `t` that arrive until the socket is quiet.
async fn quiet_dispatches(ws: &mut GatewayClient, t: &str, quiet: Duration) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Received::Payload(p) = ws.receive_within(quiet).await {
        if p["t"] == t {
            seen.push(p["d"].clone());
        }
    }
    seen
}

#[tokio::test]
async fn a_token_revoked_on_one_node_is_refused_on_another() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let ada = a.register("ada").await;
    assert_eq!(
        b.get("/users/@me", &ada.auth).await.status,
        200,
        "known on B"
    );
    let change = json!({ "password": "password-ada", "new_password": "a brand new one" });
    let changed = a.patch("/users/@me", &ada.auth, change).await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let fresh = changed.body["token"].as_str().unwrap();
    for node in [a, b] {
        assert_eq!(node.get("/users/@me", &ada.auth).await.status, 401);
        assert_eq!(node.get("/users/@me", fresh).await.status, 200);
    }
}

#[tokio::test]
async fn a_user_with_sockets_on_two_nodes_goes_offline_only_when_both_close() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let (_, _, people) = guild_with(&cluster, &["watcher", "ada"]).await;
    let (watcher, ada) = (&people[0], &people[1]);
    let (mut watching, _) = connect(a, &watcher.auth, GUILDS | GUILD_PRESENCES).await;
    let (mut on_a, _) = connect(a, &ada.auth, GUILDS).await;
    let (mut on_b, _) = connect(b, &ada.auth, GUILDS).await;
    let quiet = Duration::from_millis(500);
    let seen = quiet_dispatches(&mut watching, "PRESENCE_UPDATE", quiet).await;
    assert!(
        seen.iter()
            .any(|p| p["user"]["id"] == ada.id.as_str() && p["status"] == "online"),
        "ada came online: {seen:?}"
    );
    on_a.close(1000).await;
    let seen = quiet_dispatches(&mut watching, "PRESENCE_UPDATE", quiet).await;
    assert!(
        !seen.iter().any(|p| p["status"] == "offline"),
        "ada is still connected to B: {seen:?}"
    );
    on_b.close(1000).await;
    let seen = quiet_dispatches(&mut watching, "PRESENCE_UPDATE", quiet).await;
    assert!(
        seen.iter()
            .any(|p| p["user"]["id"] == ada.id.as_str() && p["status"] == "offline"),
        "ada's last socket closed: {seen:?}"
    );
}

#[tokio::test]
async fn message_rate_limits_hold_across_nodes() {
    let cluster = Cluster::start_with(2, |s| {
        s.rate_limits = Some(concord_config::Switch::On);
        s.message_rate_limit = Some(5);
        s.message_rate_window_ms = Some(60_000);
    })
    .await;
    let (owner, general, _) = guild_with(&cluster, &[]).await;
    let path = format!("/channels/{general}/messages");
    let mut sent = 0;
    for i in 0..10 {
        let node = cluster.node(i % 2);
        let reply = node
            .post(&path, &owner.auth, json!({ "content": format!("m{i}") }))
            .await;
        match reply.status {
            200 => sent += 1,
            429 => {}
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
    }
    assert_eq!(sent, 5, "one limit for the user, whichever node counts");
}

#[tokio::test]
async fn slowmode_holds_across_nodes() {
    let cluster = Cluster::start(2).await;
    let (owner, general, people) = guild_with(&cluster, &["cat"]).await;
    let cat = &people[0];
    let set = cluster
        .node(0)
        .patch(
            &format!("/channels/{general}"),
            &owner.auth,
            json!({ "rate_limit_per_user": 60 }),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let path = format!("/channels/{general}/messages");
    let first = cluster
        .node(0)
        .post(&path, &cat.auth, json!({ "content": "one" }))
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let second = cluster
        .node(1)
        .post(&path, &cat.auth, json!({ "content": "two" }))
        .await;
    assert_eq!(
        (second.status, second.body["code"].clone()),
        (429, json!(20016)),
        "slowmode counted on A holds on B"
    );
}

#[tokio::test]
async fn an_invite_with_five_uses_admits_five_of_twenty_joining_through_three_nodes() {
    invite_uses_hold_across_nodes(Cluster::start(3).await).await;
}

/// Of twenty joins through three nodes, an invite of five uses admits five.
async fn invite_uses_hold_across_nodes(cluster: Cluster) {
    let a = cluster.node(0);
    let owner = a.register("owner").await;
    let (guild, general) = a.guild(&owner, "Scarce").await;
    let invite = a
        .post(
            &format!("/channels/{general}/invites"),
            &owner.auth,
            json!({ "max_uses": 5 }),
        )
        .await;
    assert_eq!(invite.status, 200, "{:?}", invite.body);
    let code = invite.body["code"].as_str().unwrap().to_owned();
    let mut people = Vec::new();
    for i in 0..20 {
        people.push(a.register(&format!("joiner{i}")).await);
    }
    let joins = people.iter().enumerate().map(|(i, who)| {
        let node = cluster.node(i % 3);
        let path = format!("/invites/{code}");
        async move { node.post(&path, &who.auth, json!({})).await.status }
    });
    let statuses = join_all(joins).await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(admitted, 5, "statuses: {statuses:?}");
    let members = a
        .get(&format!("/guilds/{guild}/members?limit=100"), &owner.auth)
        .await;
    assert_eq!(members.body.as_array().map(Vec::len), Some(6), "owner + 5");
}

#[tokio::test]
async fn fifty_concurrent_thread_messages_over_two_nodes_count_fifty() {
    thread_counts_hold_across_nodes(Cluster::start(2).await).await;
}

/// Fifty messages sent at once into a thread through two nodes count fifty.
async fn thread_counts_hold_across_nodes(cluster: Cluster) {
    let (owner, general, _) = guild_with(&cluster, &[]).await;
    let thread = cluster
        .node(0)
        .post(
            &format!("/channels/{general}/threads"),
            &owner.auth,
            json!({ "name": "busy", "type": 11 }),
        )
        .await;
    assert_eq!(thread.status, 201, "{:?}", thread.body);
    let thread = thread.body["id"].as_str().unwrap().to_owned();
    let sends = (0..50).map(|i| {
        let node = cluster.node(i % 2);
        let (owner, thread) = (&owner, &thread);
        async move { node.say(owner, thread, &format!("m{i}")).await }
    });
    let ids: HashSet<String> = join_all(sends).await.into_iter().collect();
    assert_eq!(ids.len(), 50);
    for node in [cluster.node(0), cluster.node(1)] {
        let read = node.get(&format!("/channels/{thread}"), &owner.auth).await;
        assert_eq!(read.body["message_count"], 50, "{:?}", read.body);
        assert_eq!(read.body["total_message_sent"], 50, "{:?}", read.body);
    }
}

#[tokio::test]
async fn history_on_one_node_includes_a_write_just_made_on_another() {
    history_follows_writes_across_nodes(Cluster::start(2).await).await;
}

/// A page read through one node has the message, edit and deletion just
/// made through another.
async fn history_follows_writes_across_nodes(cluster: Cluster) {
    let (a, b) = (cluster.node(0), cluster.node(1));
    let (owner, general, _) = guild_with(&cluster, &[]).await;
    let path = format!("/channels/{general}/messages?limit=50");
    a.say(&owner, &general, "before").await;
    // B reads (and may cache) the channel's newest page.
    assert_eq!(b.get(&path, &owner.auth).await.status, 200);
    let written = a.say(&owner, &general, "after").await;
    let edited = a
        .patch(
            &format!("/channels/{general}/messages/{written}"),
            &owner.auth,
            json!({ "content": "after, edited" }),
        )
        .await;
    assert_eq!(edited.status, 200);
    let page = b.get(&path, &owner.auth).await;
    assert_eq!(page.body[0]["id"], written.as_str(), "{:?}", page.body);
    assert_eq!(page.body[0]["content"], "after, edited");
    let deleted = a
        .delete(
            &format!("/channels/{general}/messages/{written}"),
            &owner.auth,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let page = b.get(&path, &owner.auth).await;
    assert_ne!(page.body[0]["id"], written.as_str(), "deleted on A");
}

#[tokio::test]
async fn a_session_resumed_on_another_node_after_its_node_stops_replays_what_it_missed() {
    resumed_elsewhere_replays_what_it_missed(Cluster::start(2).await).await;
}

/// The same over NATS (`CONCORD_TEST_NATS`), each node on its own
/// connection to a stream of its own: the events missed come back from the
/// stream.
#[tokio::test]
async fn a_session_resumed_on_another_node_replays_from_nats() {
    let Some(buses) = concord_testkit::nats_buses(2).await else {
        return;
    };
    resumed_elsewhere_replays_what_it_missed(Cluster::start_on_buses(2, buses).await).await;
}

async fn resumed_elsewhere_replays_what_it_missed(mut cluster: Cluster) {
    let (owner, general, people) = guild_with(&cluster, &["ada"]).await;
    let ada = &people[0];
    let intents = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT;
    let (mut ws, ready) = connect(cluster.node(0), &ada.auth, intents).await;
    cluster.node(1).say(&owner, &general, "seen").await;
    let seen = ws.dispatch("MESSAGE_CREATE").await;
    let last_seq = seen["s"].as_u64().unwrap();
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();

    // A stops: its sessions are asked to reconnect (op 7), then it closes.
    cluster.stop(0).await;
    drop(ws);
    let b = cluster.node(1);
    b.say(&owner, &general, "missed one").await;
    b.say(&owner, &general, "missed two").await;

    let mut ws = GatewayClient::connect(&format!("ws://{}", b.addr), "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    ws.send(json!({ "op": 6, "d": { "token": ada.auth, "session_id": session, "seq": last_seq } }))
        .await;
    let one = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (one["d"]["content"].clone(), one["s"].clone()),
        (json!("missed one"), json!(last_seq + 1))
    );
    let two = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (two["d"]["content"].clone(), two["s"].clone()),
        (json!("missed two"), json!(last_seq + 2))
    );
    let resumed = ws.dispatch("RESUMED").await;
    assert_eq!(resumed["s"], last_seq + 3);
    b.say(&owner, &general, "live").await;
    let live = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (live["d"]["content"].clone(), live["s"].clone()),
        (json!("live"), json!(last_seq + 4))
    );
}

/// The worker and process bits of a snowflake: what a node owns.
fn node_bits(id: &str) -> u64 {
    (id.parse::<u64>().unwrap() >> 12) & 0x3ff
}

#[tokio::test]
async fn two_nodes_never_mint_the_same_id() {
    let cluster = Cluster::start(2).await;
    let (owner, general, _) = guild_with(&cluster, &[]).await;
    let sends = (0..200).map(|i| {
        let node = cluster.node(i % 2);
        let (owner, general) = (&owner, &general);
        async move { (i % 2, node.say(owner, general, &format!("m{i}")).await) }
    });
    let sent = join_all(sends).await;
    let ids: HashSet<&str> = sent.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), 200, "every message has its own id");
    let bits: Vec<HashSet<u64>> = (0..2)
        .map(|n| {
            sent.iter()
                .filter(|(node, _)| *node == n)
                .map(|(_, id)| node_bits(id))
                .collect()
        })
        .collect();
    assert!(bits[0].is_disjoint(&bits[1]), "{bits:?}");
    let mut stored = 0;
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(id) => format!("/channels/{general}/messages?limit=100&before={id}"),
            None => format!("/channels/{general}/messages?limit=100"),
        };
        let page = cluster.node(0).get(&path, &owner.auth).await;
        let page = page.body.as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            break;
        }
        stored += page.iter().filter(|m| m["type"] == 0).count();
        before = page
            .last()
            .and_then(|m| m["id"].as_str())
            .map(str::to_owned);
    }
    assert_eq!(stored, 200, "no message replaced another");
}

/// Posts a message carrying one file through `node`; the message.
async fn send_file(node: &Node, who: &Account, channel: &str, bytes: &[u8]) -> Value {
    let payload = json!({ "content": "", "attachments": [{ "id": 0, "filename": "f.bin" }] });
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("f.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("payload_json", payload.to_string())
        .part("files[0]", part);
    let reply = reqwest::Client::new()
        .post(node.url(&format!("/api/v10/channels/{channel}/messages")))
        .header("authorization", &who.auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.json().await.unwrap()
}

#[tokio::test]
async fn a_file_sent_through_one_node_is_served_by_another_and_outlives_a_copy_deleted_meanwhile() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let (owner, general, _) = guild_with(&cluster, &[]).await;
    for round in 0..20 {
        let bytes = format!("the same file, round {round}").into_bytes();
        let first = send_file(a, &owner, &general, &bytes).await;
        let first_id = first["id"].as_str().unwrap();
        let delete_path = format!("/channels/{general}/messages/{first_id}");
        let (deleted, second) = tokio::join!(
            a.delete(&delete_path, &owner.auth),
            send_file(b, &owner, &general, &bytes)
        );
        assert_eq!(deleted.status, 204);
        let url = second["attachments"][0]["url"].as_str().unwrap();
        let through_a = url.replace(&b.addr.to_string(), &a.addr.to_string());
        assert_ne!(through_a, url);
        let fetched = reqwest::get(&through_a).await.unwrap();
        assert_eq!(
            fetched.status(),
            200,
            "round {round}: the blob went with the first copy"
        );
        assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
}

/// The ids of a search's hits, in order.
fn hits(reply: &concord_testkit::Reply) -> Vec<String> {
    let groups = reply.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    groups
        .iter()
        .filter_map(|g| g[0]["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_node_searches_one_index_and_another_node_takes_its_writing_over() {
    let mut cluster = Cluster::start_with(2, |s| s.search = Some(concord_config::Switch::On)).await;
    let (owner, general, _) = guild_with(&cluster, &[]).await;
    let path = format!("/channels/{general}/messages/search?content=needle");
    let first = cluster.node(0).say(&owner, &general, "a needle here").await;
    for node in [cluster.node(0), cluster.node(1)] {
        let found = node
            .get_until(&path, &owner.auth, |r| {
                r.status == 200 && hits(r) == [first.clone()]
            })
            .await;
        assert_eq!(
            found.body["total_results"], 1,
            "indexed once: {:?}",
            found.body
        );
    }
    // The first node writes the index; once it stops, the other takes over.
    cluster.stop(0).await;
    let b = cluster.node(1);
    let second = b.say(&owner, &general, "another needle").await;
    let found = b
        .get_until(&path, &owner.auth, |r| {
            r.status == 200 && hits(r) == [second.clone(), first.clone()]
        })
        .await;
    assert_eq!(found.body["total_results"], 2, "{:?}", found.body);
}

#[tokio::test]
async fn poll_votes_through_two_nodes_all_count_and_the_poll_ends_once() {
    poll_votes_hold_across_nodes(Cluster::start(2).await).await;
}

/// Ten people vote at once through two nodes: every vote counts, as both
/// nodes read it; the author ending the poll through both nodes at once
/// ends it once, with one result message.
async fn poll_votes_hold_across_nodes(cluster: Cluster) {
    let names: Vec<String> = (0..10).map(|i| format!("voter{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (owner, general, voters) = guild_with(&cluster, &names).await;
    let poll = json!({ "poll": {
        "question": { "text": "Lunch?" },
        "answers": [{ "poll_media": { "text": "pizza" } }, { "poll_media": { "text": "soup" } }],
    }});
    let sent = cluster
        .node(0)
        .post(&format!("/channels/{general}/messages"), &owner.auth, poll)
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let votes = voters.iter().enumerate().map(|(i, voter)| {
        let node = cluster.node(i % 2);
        let path = format!("/channels/{general}/polls/{id}/answers/@me");
        async move {
            let answer = (i % 2 + 1).to_string();
            node.put(&path, &voter.auth, json!({ "answer_ids": [answer] }))
                .await
                .status
        }
    });
    assert!(join_all(votes).await.iter().all(|s| *s == 204));
    for node in [cluster.node(0), cluster.node(1)] {
        let read = node
            .get(&format!("/channels/{general}/messages/{id}"), &owner.auth)
            .await;
        assert_eq!(
            read.body["poll"]["results"]["answer_counts"],
            json!([
                { "id": 1, "count": 5, "me_voted": false },
                { "id": 2, "count": 5, "me_voted": false },
            ])
        );
    }
    let expire = format!("/channels/{general}/polls/{id}/expire");
    let ends =
        [cluster.node(0), cluster.node(1)].map(|node| node.post(&expire, &owner.auth, json!({})));
    let mut statuses: Vec<u16> = join_all(ends).await.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "ended once");
    let page = cluster
        .node(1)
        .get(
            &format!("/channels/{general}/messages?limit=10"),
            &owner.auth,
        )
        .await;
    let results = page
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == 46)
        .count();
    assert_eq!(results, 1, "one result message");
}

//! Presence: set in IDENTIFY and op 3, told once per watching session to
//! the members of shared guilds that asked for presences, invisible shown
//! as offline, offline when the last connection ends, and listed in
//! GUILD_CREATE.

use std::time::Duration;

use concord_testkit::gateway::{GatewayClient, Received};
use serde_json::{Value, json};

use crate::{GUILDS, World};

const GUILD_PRESENCES: u64 = 1 << 8;

/// Every PRESENCE_UPDATE that arrives until the socket is quiet.
async fn presence_updates(ws: &mut GatewayClient) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Received::Payload(p) = ws.receive_within(Duration::from_millis(400)).await {
        if p["t"] == "PRESENCE_UPDATE" {
            seen.push(p["d"].clone());
        }
    }
    seen
}

/// A member of the world's guild, connected with GUILD_PRESENCES.
async fn watcher(w: &World) -> GatewayClient {
    let watcher = w.s.register("watcher").await;
    w.s.join(&w.owner, &w.general, &watcher).await;
    let mut watching = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    watching
        .identify(&watcher.auth, GUILDS | GUILD_PRESENCES)
        .await;
    watching.dispatch("READY").await;
    watching
}

async fn set_status(ws: &mut GatewayClient, status: &str, activities: Value) {
    let d = json!({ "status": status, "activities": activities, "since": null, "afk": false });
    ws.send(json!({ "op": 3, "d": d })).await;
}

#[tokio::test]
async fn presence_reaches_members_once_and_goes_offline() {
    let w = World::new(&[]).await;
    let (second, second_channel) = w.s.guild(&w.owner, "Second").await;
    let watcher = w.s.register("watcher").await;
    let quiet = w.s.register("quiet").await;
    for who in [&watcher, &quiet] {
        w.s.join(&w.owner, &w.general, who).await;
        w.s.join(&w.owner, &second_channel, who).await;
    }
    let mut watching = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    watching
        .identify(&watcher.auth, GUILDS | GUILD_PRESENCES)
        .await;
    watching.dispatch("READY").await;
    let (mut quiet_ws, _) = w.connect(&quiet.auth, GUILDS).await;
    presence_updates(&mut watching).await;

    // The owner comes online idle, playing chess.
    let mut owner = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    let presence = json!({ "status": "idle", "activities": [{ "name": "chess", "type": 0 }], "since": null, "afk": false });
    owner
        .send(json!({ "op": 2, "d": {
            "token": w.owner.auth, "intents": GUILDS, "presence": presence,
            "properties": { "os": "linux", "browser": "tests", "device": "tests" },
        }}))
        .await;
    owner.dispatch("READY").await;
    let seen = presence_updates(&mut watching).await;
    assert_eq!(
        seen.len(),
        1,
        "one update although two guilds are shared: {seen:?}"
    );
    let update = &seen[0];
    assert_eq!(update["user"]["id"], w.owner.id.as_str());
    assert_eq!(update["status"], "idle");
    assert_eq!(update["activities"][0]["name"], "chess");
    assert_eq!(update["client_status"]["desktop"], "idle");
    let guild = update["guild_id"].as_str().unwrap();
    assert!(guild == w.guild || guild == second, "{guild}");

    // A new connection lists the owner's presence in GUILD_CREATE.
    let mut later = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    later
        .identify(&watcher.auth, GUILDS | GUILD_PRESENCES)
        .await;
    let created = later.dispatch("GUILD_CREATE").await;
    let listed = created["d"]["presences"].as_array().unwrap();
    let owners: Vec<&Value> = listed
        .iter()
        .filter(|p| p["user"]["id"] == w.owner.id.as_str())
        .collect();
    assert_eq!(owners.len(), 1, "{listed:?}");
    assert_eq!(owners[0]["status"], "idle");
    later.close(1000).await;

    // Large guilds list nobody up front: clients ask with op 8.
    let ask = json!({ "op": 8, "d": {
        "guild_id": w.guild, "user_ids": [w.owner.id], "presences": true, "nonce": "who",
    }});
    watching.send(ask.clone()).await;
    let chunk = watching.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["nonce"], "who");
    assert_eq!(
        chunk["d"]["presences"][0]["user"]["id"],
        w.owner.id.as_str()
    );
    assert_eq!(chunk["d"]["presences"][0]["status"], "idle");
    quiet_ws.send(ask).await;
    let chunk = quiet_ws.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert!(
        chunk["d"].get("presences").is_none(),
        "presences need GUILD_PRESENCES"
    );

    for (status, shown) in [
        ("dnd", "dnd"),
        ("invisible", "offline"),
        ("online", "online"),
    ] {
        set_status(&mut owner, status, json!([])).await;
        let seen = presence_updates(&mut watching).await;
        assert_eq!(seen.len(), 1, "{status}: {seen:?}");
        assert_eq!(seen[0]["status"], shown);
        assert_eq!(seen[0]["activities"], json!([]));
    }
    set_status(&mut owner, "online", json!([])).await;
    assert!(
        presence_updates(&mut watching).await.is_empty(),
        "no change, no update"
    );

    owner.close(1000).await;
    let seen = presence_updates(&mut watching).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["status"], "offline");
    assert!(
        presence_updates(&mut quiet_ws).await.is_empty(),
        "no GUILD_PRESENCES intent, no presence updates"
    );
}

#[tokio::test]
async fn a_dropped_connection_goes_offline_and_a_resume_comes_back() {
    let w = World::new(&[]).await;
    let mut watching = watcher(&w).await;
    let (mut owner, ready) = w.connect(&w.owner.auth, GUILDS).await;
    set_status(&mut owner, "dnd", json!([])).await;
    presence_updates(&mut watching).await;

    // Dropped without a close: the session waits for a resume, the user is offline.
    drop(owner);
    let seen = presence_updates(&mut watching).await;
    assert_eq!(
        seen.last().map(|p| p["status"].clone()),
        Some("offline".into()),
        "{seen:?}"
    );

    let mut back = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    let session_id = ready["d"]["session_id"].clone();
    back.send(
        json!({ "op": 6, "d": { "token": w.owner.auth, "session_id": session_id, "seq": 0 } }),
    )
    .await;
    let seen = presence_updates(&mut watching).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0]["status"], "dnd",
        "the resumed session keeps its status"
    );
}

#[tokio::test]
async fn large_guilds_send_presences_only_when_asked() {
    const GUILD_MEMBERS: u64 = 1 << 1;
    let w = World::new(&[]).await;
    let watcher = w.s.register("watcher").await;
    w.s.join(&w.owner, &w.general, &watcher).await;
    // With the owner, the watcher and the bot: 51 members, above 50.
    for i in 0..48 {
        let member = w.s.register(&format!("member{i}")).await;
        w.s.join(&w.owner, &w.general, &member).await;
    }
    let mut owner = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    owner.identify(&w.owner.auth, GUILDS).await;
    owner.dispatch("READY").await;

    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.send(json!({ "op": 2, "d": {
        "token": watcher.auth, "intents": GUILDS | GUILD_MEMBERS | GUILD_PRESENCES,
        "large_threshold": 50,
        "properties": { "os": "linux", "browser": "tests", "device": "tests" },
    }}))
    .await;
    let created = ws.dispatch("GUILD_CREATE").await["d"].clone();
    assert_eq!(created["large"], true);
    assert_eq!(created["member_count"], 51);
    assert_eq!(
        created["members"].as_array().unwrap().len(),
        1,
        "only the watcher"
    );
    assert_eq!(created["presences"], json!([]), "no presences up front");

    let ask = json!({ "op": 8, "d": {
        "guild_id": w.guild, "query": "", "limit": 0, "presences": true, "nonce": "everyone",
    }});
    ws.send(ask).await;
    let chunk = ws.dispatch("GUILD_MEMBERS_CHUNK").await["d"].clone();
    assert_eq!(chunk["nonce"], "everyone");
    assert_eq!(
        (chunk["chunk_index"].as_u64(), chunk["chunk_count"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(chunk["members"].as_array().unwrap().len(), 51);
    let online: Vec<&str> = chunk["presences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["id"].as_str().unwrap())
        .collect();
    assert!(online.contains(&w.owner.id.as_str()), "{online:?}");
    assert!(online.contains(&watcher.id.as_str()), "{online:?}");
    assert_eq!(
        online.len(),
        2,
        "the offline members are left out: {online:?}"
    );
}

#[tokio::test]
async fn a_user_who_stops_heartbeating_goes_offline() {
    let w = World::new(&["--gateway-heartbeat-ms", "1000"]).await;
    let mut watching = watcher(&w).await;
    watching.send(json!({ "op": 1, "d": null })).await;

    // The owner identifies, then falls silent without closing the socket.
    let mut owner = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    owner.identify(&w.owner.auth, GUILDS).await;
    owner.dispatch("READY").await;

    let mut statuses = Vec::new();
    let start = std::time::Instant::now();
    let mut beat = start;
    while !statuses.iter().any(|s| s == "offline") && start.elapsed() < Duration::from_secs(10) {
        // The watcher keeps its own connection alive.
        if beat.elapsed() > Duration::from_millis(400) {
            watching.send(json!({ "op": 1, "d": null })).await;
            beat = std::time::Instant::now();
        }
        if let Received::Payload(p) = watching.receive_within(Duration::from_millis(100)).await
            && p["t"] == "PRESENCE_UPDATE"
            && p["d"]["user"]["id"] == w.owner.id.as_str()
        {
            statuses.push(p["d"]["status"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(
        statuses,
        ["online", "offline"],
        "online, then offline when the heartbeats stop"
    );
    assert_eq!(owner.closed().await, Some(4009), "session timed out");
}

#[tokio::test]
async fn a_newcomer_brings_their_presence() {
    let w = World::new(&[]).await;
    let mut watching = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    watching
        .identify(&w.owner.auth, GUILDS | GUILD_PRESENCES)
        .await;
    watching.dispatch("READY").await;
    let newcomer = w.s.register("newcomer").await;
    let mut online = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    online.identify(&newcomer.auth, GUILDS).await;
    online.dispatch("READY").await;
    assert!(
        presence_updates(&mut watching).await.is_empty(),
        "no guild in common yet"
    );

    w.s.join(&w.owner, &w.general, &newcomer).await;
    let seen = presence_updates(&mut watching).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["user"]["id"], newcomer.id.as_str());
    assert_eq!(seen[0]["status"], "online");
    assert_eq!(seen[0]["guild_id"], w.guild.as_str());
}

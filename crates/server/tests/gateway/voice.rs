//! Voice states on the main gateway: op 4 joins, moves and leaves with
//! VOICE_STATE_UPDATE to the guild (GUILD_VOICE_STATES) and
//! VOICE_SERVER_UPDATE to the session, a new token on every channel
//! change; CONNECT and the user limit; GUILD_CREATE's `voice_states`;
//! moderators muting, deafening, moving and disconnecting through member
//! edits; sessions that end and channels deleted take their members out.

use std::time::Duration;

use concord_testkit::Account;
use concord_testkit::gateway::{GatewayClient, Received};
use serde_json::{Value, json};

use crate::{GUILDS, World};

const GUILD_VOICE_STATES: u64 = 1 << 7;
const CONNECT: u64 = 1 << 20;

/// Voice is on by default: each node's voice server listens on a free
/// loopback port.
async fn world() -> World {
    World::new(&[]).await
}

/// A voice channel of the world's guild; its id.
async fn voice_channel(w: &World, name: &str, extra: Value) -> String {
    let mut body = json!({ "name": name, "type": 2 });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r =
        w.s.post(
            &format!("/guilds/{}/channels", w.guild),
            &w.owner.auth,
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A session of `who` with the voice intent; its READY's session id.
async fn connect(w: &World, who: &Account) -> (GatewayClient, String) {
    let (ws, ready) = w.connect(&who.auth, GUILDS | GUILD_VOICE_STATES).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    (ws, session)
}

async fn member(w: &World, name: &str) -> Account {
    let who = w.s.register(name).await;
    w.s.join(&w.owner, &w.general, &who).await;
    who
}

fn op4(guild: &str, channel: Option<&str>, self_mute: bool) -> Value {
    json!({ "op": 4, "d": {
        "guild_id": guild, "channel_id": channel, "self_mute": self_mute, "self_deaf": false
    }})
}

/// Every voice dispatch (VOICE_STATE_UPDATE, VOICE_SERVER_UPDATE) until
/// the socket is quiet.
async fn voice_events(ws: &mut GatewayClient) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Received::Payload(p) = ws.receive_within(Duration::from_millis(700)).await {
        if p["t"].as_str().is_some_and(|t| t.starts_with("VOICE_")) {
            seen.push(p);
        }
    }
    seen
}

/// The next VOICE_STATE_UPDATE about `user`.
async fn state_of(ws: &mut GatewayClient, user: &str) -> Value {
    loop {
        let p = ws.dispatch("VOICE_STATE_UPDATE").await;
        if p["d"]["user_id"] == user {
            return p["d"].clone();
        }
    }
}

/// The next VOICE_STATE_UPDATE about `user` in `channel` (null: a leave).
async fn state_in(ws: &mut GatewayClient, user: &str, channel: &Value) -> Value {
    loop {
        let d = state_of(ws, user).await;
        if d["channel_id"] == *channel {
            return d;
        }
    }
}

/// Joins (or moves) `ws` and returns its VOICE_STATE_UPDATE and
/// VOICE_SERVER_UPDATE, which may come in either order.
async fn join(ws: &mut GatewayClient, guild: &str, channel: &str) -> (Value, Value) {
    ws.send(op4(guild, Some(channel), false)).await;
    let (mut state, mut server) = (None, None);
    while state.is_none() || server.is_none() {
        let p = ws.receive().await;
        match p["t"].as_str() {
            Some("VOICE_STATE_UPDATE") => state = Some(p["d"].clone()),
            Some("VOICE_SERVER_UPDATE") => server = Some(p["d"].clone()),
            _ => {}
        }
    }
    (state.unwrap(), server.unwrap())
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|p| p["t"].as_str()).collect()
}

#[tokio::test]
async fn joining_moving_and_leaving_tell_the_guild_with_a_new_token_per_channel() {
    let w = world().await;
    let lounge = voice_channel(&w, "Lounge", json!({})).await;
    let hall = voice_channel(&w, "Hall", json!({})).await;
    let ann = member(&w, "ann").await;
    let (mut watching, _) = connect(&w, &w.owner).await;
    let (mut unwatching, _) = w.connect(&w.owner.auth, GUILDS).await;
    let (mut ws, session) = connect(&w, &ann).await;

    let (state, server) = join(&mut ws, &w.guild, &lounge).await;
    assert_eq!(state["channel_id"], lounge);
    assert_eq!(state["guild_id"], w.guild);
    assert_eq!(state["user_id"], ann.id);
    assert_eq!(state["session_id"], session);
    assert_eq!(state["member"]["user"]["id"], ann.id);
    for flag in [
        "mute",
        "deaf",
        "self_mute",
        "self_deaf",
        "self_video",
        "self_stream",
    ] {
        assert_eq!(state[flag], false, "{flag}: {state}");
    }
    assert!(state.get("request_to_speak_timestamp").is_some());
    let endpoint = server["endpoint"].as_str().unwrap();
    let port = endpoint.strip_prefix("127.0.0.1:").map(str::parse::<u16>);
    assert!(
        matches!(port, Some(Ok(p)) if p > 0),
        "host:port, no scheme: {endpoint}"
    );
    assert_eq!(server["guild_id"], w.guild);
    let first_token = server["token"].as_str().unwrap().to_owned();
    assert!(first_token.len() >= 16);
    assert_eq!(state_of(&mut watching, &ann.id).await["channel_id"], lounge);

    // Muting oneself in the same channel: a new state, the same voice server.
    ws.send(op4(&w.guild, Some(&lounge), true)).await;
    let events = voice_events(&mut ws).await;
    assert_eq!(kinds(&events), ["VOICE_STATE_UPDATE"]);
    assert_eq!(events[0]["d"]["self_mute"], true);

    let (state, server) = join(&mut ws, &w.guild, &hall).await;
    assert_eq!(state["channel_id"], hall);
    assert_ne!(
        server["token"],
        first_token.as_str(),
        "a new token per channel"
    );
    state_in(&mut watching, &ann.id, &json!(hall)).await;

    ws.send(op4(&w.guild, None, false)).await;
    let left = state_of(&mut ws, &ann.id).await;
    assert_eq!(left["channel_id"], Value::Null);
    assert_eq!(left["session_id"], session);
    let events = voice_events(&mut ws).await;
    assert!(
        !kinds(&events).contains(&"VOICE_SERVER_UPDATE"),
        "{events:?}"
    );
    state_in(&mut watching, &ann.id, &Value::Null).await;
    assert!(voice_events(&mut unwatching).await.is_empty(), "no intent");
}

#[tokio::test]
async fn a_join_without_connect_or_into_a_full_channel_changes_nothing() {
    let w = world().await;
    let deny = json!([{ "id": w.guild, "type": 0, "allow": "0", "deny": CONNECT.to_string() }]);
    let locked = voice_channel(&w, "Locked", json!({ "permission_overwrites": deny })).await;
    let small = voice_channel(&w, "Small", json!({ "user_limit": 1 })).await;
    let ann = member(&w, "ann").await;
    let bob = member(&w, "bob").await;
    let (mut ann_ws, _) = connect(&w, &ann).await;
    let (mut bob_ws, _) = connect(&w, &bob).await;

    ann_ws.send(op4(&w.guild, Some(&locked), false)).await;
    assert!(voice_events(&mut ann_ws).await.is_empty(), "no CONNECT");

    join(&mut ann_ws, &w.guild, &small).await;
    voice_events(&mut bob_ws).await;
    bob_ws.send(op4(&w.guild, Some(&small), false)).await;
    let events = voice_events(&mut bob_ws).await;
    assert!(
        !events.iter().any(|p| p["d"]["user_id"] == bob.id),
        "full: {events:?}"
    );

    // The owner may move members: the limit does not hold them back.
    let (mut owner_ws, _) = connect(&w, &w.owner).await;
    let (state, _) = join(&mut owner_ws, &w.guild, &small).await;
    assert_eq!(state["channel_id"], small);

    // A new session's GUILD_CREATE lists who is in voice.
    let mut fresh = GatewayClient::connect(&w.s.ws_url(), "v=10&encoding=json").await;
    fresh.receive().await;
    fresh.identify(&bob.auth, GUILDS | GUILD_VOICE_STATES).await;
    let created = fresh.dispatch("GUILD_CREATE").await;
    let mut listed: Vec<(String, String)> = created["d"]["voice_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s.get("guild_id").is_none(), "{s}");
            (
                s["user_id"].as_str().unwrap().to_owned(),
                s["channel_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![(ann.id.clone(), small.clone()), (w.owner.id.clone(), small)];
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn one_state_per_user_and_an_ended_session_leaves() {
    let w = world().await;
    let lounge = voice_channel(&w, "Lounge", json!({})).await;
    let ann = member(&w, "ann").await;
    let (mut watching, _) = connect(&w, &w.owner).await;
    let (mut first, _) = connect(&w, &ann).await;
    let (mut second, second_session) = connect(&w, &ann).await;
    join(&mut first, &w.guild, &lounge).await;
    state_of(&mut watching, &ann.id).await;

    // The second session joins: the state moves to it, with a new token.
    let (state, _) = join(&mut second, &w.guild, &lounge).await;
    assert_eq!(state["session_id"], second_session);
    assert_eq!(
        state_of(&mut watching, &ann.id).await["session_id"],
        second_session
    );

    // The first session ends: the state is not its own any more.
    first.close(1000).await;
    assert!(voice_events(&mut watching).await.is_empty());

    second.close(1000).await;
    let left = state_of(&mut watching, &ann.id).await;
    assert_eq!(left["channel_id"], Value::Null);
    assert_eq!(left["session_id"], second_session);
}

#[tokio::test]
async fn a_deleted_channel_disconnects_its_members() {
    let w = world().await;
    let lounge = voice_channel(&w, "Lounge", json!({})).await;
    let ann = member(&w, "ann").await;
    let (mut watching, _) = connect(&w, &w.owner).await;
    let (mut ws, _) = connect(&w, &ann).await;
    join(&mut ws, &w.guild, &lounge).await;
    state_of(&mut watching, &ann.id).await;
    let r =
        w.s.delete(&format!("/channels/{lounge}"), &w.owner.auth)
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        state_of(&mut watching, &ann.id).await["channel_id"],
        Value::Null
    );
}

#[tokio::test]
async fn moderators_mute_deafen_move_and_disconnect_with_audit_entries() {
    let w = world().await;
    let deny = json!([{ "id": w.guild, "type": 0, "allow": "0", "deny": CONNECT.to_string() }]);
    let lounge = voice_channel(&w, "Lounge", json!({})).await;
    let hall = voice_channel(&w, "Hall", json!({ "user_limit": 1 })).await;
    let locked = voice_channel(&w, "Locked", json!({ "permission_overwrites": deny })).await;
    let ann = member(&w, "ann").await;
    let bob = member(&w, "bob").await;
    let (mut watching, _) = connect(&w, &w.owner).await;
    let (mut ws, _) = connect(&w, &ann).await;
    let (_, server) = join(&mut ws, &w.guild, &lounge).await;
    state_of(&mut watching, &ann.id).await;
    let ann_path = format!("/guilds/{}/members/{}", w.guild, ann.id);

    let r =
        w.s.patch(&ann_path, &bob.auth, json!({ "mute": true }))
            .await;
    assert_eq!((r.status, r.body["code"].as_u64()), (403, Some(50013)));
    let r =
        w.s.patch(&ann_path, &bob.auth, json!({ "channel_id": hall }))
            .await;
    assert_eq!((r.status, r.body["code"].as_u64()), (403, Some(50013)));
    let bob_path = format!("/guilds/{}/members/{}", w.guild, bob.id);
    for body in [json!({ "mute": true }), json!({ "channel_id": lounge })] {
        let r = w.s.patch(&bob_path, &w.owner.auth, body).await;
        assert_eq!(
            (r.status, r.body["code"].as_u64()),
            (400, Some(40032)),
            "{}",
            r.body
        );
    }

    let r =
        w.s.patch(
            &ann_path,
            &w.owner.auth,
            json!({ "mute": true, "deaf": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["mute"].as_bool(), r.body["deaf"].as_bool()),
        (Some(true), Some(true))
    );
    let state = state_of(&mut watching, &ann.id).await;
    assert_eq!(
        (state["mute"].as_bool(), state["deaf"].as_bool()),
        (Some(true), Some(true))
    );

    // Moves: only where ann may connect, and not into a text channel.
    let r =
        w.s.patch(&ann_path, &w.owner.auth, json!({ "channel_id": locked }))
            .await;
    assert_eq!((r.status, r.body["code"].as_u64()), (403, Some(50013)));
    let r =
        w.s.patch(&ann_path, &w.owner.auth, json!({ "channel_id": w.general }))
            .await;
    assert_eq!(r.status, 400, "{}", r.body);
    voice_events(&mut ws).await;
    let r =
        w.s.patch(&ann_path, &w.owner.auth, json!({ "channel_id": hall }))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = voice_events(&mut ws).await;
    let moved = events
        .iter()
        .find(|p| p["t"] == "VOICE_STATE_UPDATE")
        .unwrap();
    assert_eq!(moved["d"]["channel_id"], hall);
    assert_eq!(moved["d"]["mute"], true, "server mute follows the member");
    let new_server = events
        .iter()
        .find(|p| p["t"] == "VOICE_SERVER_UPDATE")
        .unwrap();
    assert_ne!(new_server["d"]["token"], server["token"]);

    let r =
        w.s.patch(&ann_path, &w.owner.auth, json!({ "channel_id": null }))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    state_in(&mut watching, &ann.id, &Value::Null).await;

    let log =
        w.s.get(&format!("/guilds/{}/audit-logs", w.guild), &w.owner.auth)
            .await;
    let entries = log.body["audit_log_entries"].as_array().unwrap();
    let of = |kind: u64| entries.iter().find(|e| e["action_type"] == kind).cloned();
    let update = of(24).expect("MEMBER_UPDATE");
    assert_eq!(update["target_id"], ann.id);
    let keys: Vec<&str> = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert_eq!(keys, ["mute", "deaf"]);
    let moved = of(26).expect("MEMBER_MOVE");
    assert_eq!(moved["options"]["channel_id"], hall);
    assert_eq!(moved["options"]["count"], "1");
    assert_eq!(of(27).expect("MEMBER_DISCONNECT")["options"]["count"], "1");
}

#[tokio::test]
async fn a_revoked_session_leaves_its_voice_channel() {
    let w = world().await;
    let lounge = voice_channel(&w, "Lounge", json!({})).await;
    let ann = member(&w, "ann").await;
    let (mut watching, _) = connect(&w, &w.owner).await;
    let (mut ws, session) = connect(&w, &ann).await;
    join(&mut ws, &w.guild, &lounge).await;
    state_of(&mut watching, &ann.id).await;
    let change = json!({ "password": "password-ann", "new_password": "a brand new one" });
    let reply = w.s.patch("/users/@me", &ann.auth, change).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let left = state_in(&mut watching, &ann.id, &Value::Null).await;
    assert_eq!(left["session_id"], session);
}

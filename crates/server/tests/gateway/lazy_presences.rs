//! Presences in large guilds go to those who asked, as Discord's lazy
//! guilds do: in a guild with more members than a session's
//! `large_threshold`, a person's session hears of a member's presence only
//! if it followed that member (op 8 with presences, op 14, op 37); bots
//! with GUILD_PRESENCES hear all of them, and small guilds broadcast.

use std::time::Duration;

use concord_testkit::Account;
use concord_testkit::gateway::{GatewayClient, Received};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::{GUILDS, World};

const GUILD_PRESENCES: u64 = 1 << 8;

/// Registers `count` accounts, a few at a time, and makes them members of
/// the world's guild through one invite: a guild above the lowest
/// `large_threshold` (50) in a couple of seconds.
async fn crowd(w: &World, count: usize) -> Vec<Account> {
    let invite =
        w.s.post(
            &format!("/channels/{}/invites", w.general),
            &w.owner.auth,
            json!({ "max_age": 0 }),
        )
        .await;
    let code = invite.body["code"]
        .as_str()
        .expect("invite code")
        .to_owned();
    futures_util::stream::iter(0..count)
        .map(|n| {
            let code = code.clone();
            async move {
                let member = w.s.register(&format!("crowd{n}")).await;
                let joined =
                    w.s.post(&format!("/invites/{code}"), &member.auth, json!({}))
                        .await;
                assert_eq!(joined.status, 200, "{:?}", joined.body);
                member
            }
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// A person's session with GUILD_PRESENCES and `large_threshold`, past its
/// GUILD_CREATE, and whether that said the guild is large.
async fn person(w: &World, who: &Account, large_threshold: u64) -> (GatewayClient, bool) {
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.send(json!({ "op": 2, "d": {
        "token": who.auth, "intents": GUILDS | GUILD_PRESENCES,
        "large_threshold": large_threshold,
        "properties": { "os": "linux", "browser": "tests", "device": "tests" },
    }}))
    .await;
    let created = ws.dispatch("GUILD_CREATE").await;
    (ws, created["d"]["large"] == true)
}

/// Sends `payload`, then waits for a heartbeat's ACK: the connection
/// handles payloads in order, so what `payload` asked is in place.
async fn send_settled(ws: &mut GatewayClient, payload: Value) {
    ws.send(payload).await;
    ws.send(json!({ "op": 1, "d": null })).await;
    loop {
        if ws.receive().await["op"] == 11 {
            return;
        }
    }
}

/// The users whose PRESENCE_UPDATEs arrive until the socket is quiet.
async fn presences_heard(ws: &mut GatewayClient) -> Vec<String> {
    let mut heard = Vec::new();
    while let Received::Payload(p) = ws.receive_within(Duration::from_millis(400)).await {
        if p["t"] == "PRESENCE_UPDATE" {
            heard.push(p["d"]["user"]["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    heard
}

async fn set_status(ws: &mut GatewayClient, status: &str) {
    let d = json!({ "status": status, "activities": [], "since": null, "afk": false });
    ws.send(json!({ "op": 3, "d": d })).await;
}

#[tokio::test]
async fn in_a_large_guild_only_sessions_that_asked_hear_a_presence() {
    let w = World::new(&[]).await;
    // The owner, the bot and 50 more: 52 members, large below 52.
    let crowd = crowd(&w, 50).await;
    let (mut silent, large) = person(&w, &crowd[0], 50).await;
    assert!(large);
    let (mut by_op14, _) = person(&w, &crowd[1], 50).await;
    let op14 = json!({ "op": 14, "d": {
        "guild_id": w.guild, "typing": true, "activities": true, "threads": true,
        "members": [w.owner.id], "channels": { w.general.clone(): [[0, 99]] },
    }});
    send_settled(&mut by_op14, op14).await;
    let (mut by_op37, _) = person(&w, &crowd[2], 50).await;
    let op37 = json!({ "op": 37, "d": { "subscriptions": {
        w.guild.clone(): { "typing": true, "members": [w.owner.id], "member_updates": false },
    }}});
    send_settled(&mut by_op37, op37).await;
    let (mut by_op8, _) = person(&w, &crowd[3], 50).await;
    by_op8
        .send(json!({ "op": 8, "d": {
            "guild_id": w.guild, "user_ids": [w.owner.id], "presences": true, "nonce": "n",
        }}))
        .await;
    by_op8.dispatch("GUILD_MEMBERS_CHUNK").await;
    // 52 members are not many for a session whose threshold is 250.
    let (mut roomy, large) = person(&w, &crowd[4], 250).await;
    assert!(!large);
    let (mut bot, _) = w.connect_bot(GUILDS | GUILD_PRESENCES).await;
    let mut all = [
        &mut silent,
        &mut by_op14,
        &mut by_op37,
        &mut by_op8,
        &mut roomy,
        &mut bot,
    ];
    for ws in all.iter_mut() {
        presences_heard(ws).await;
    }

    let (mut owner, _) = w.connect(&w.owner.auth, GUILDS).await;
    set_status(&mut owner, "dnd").await;
    let owner_id = w.owner.id.as_str();
    for (name, ws) in ["op 14", "op 37", "op 8", "threshold 250", "bot"]
        .into_iter()
        .zip(all.iter_mut().skip(1))
    {
        let heard = presences_heard(ws).await;
        assert_eq!(heard, [owner_id, owner_id], "{name}: online, then dnd");
    }
    assert_eq!(
        presences_heard(&mut silent).await,
        Vec::<String>::new(),
        "a session that asked for nobody hears of nobody"
    );

    // Op 14 names the whole set: an empty one follows nobody.
    let unfollow = json!({ "op": 14, "d": { "guild_id": w.guild, "members": [] } });
    send_settled(&mut by_op14, unfollow).await;
    set_status(&mut owner, "idle").await;
    assert!(presences_heard(&mut by_op14).await.is_empty());
    assert_eq!(presences_heard(&mut by_op37).await, [owner_id]);
}

#[tokio::test]
async fn in_a_small_guild_every_member_hears_presences_whatever_it_subscribed() {
    let w = World::new(&[]).await;
    let crowd = crowd(&w, 2).await;
    let (mut watcher, large) = person(&w, &crowd[0], 50).await;
    assert!(!large);
    // Discord's client subscribes to every guild it opens, naming no member.
    let op14 = json!({ "op": 14, "d": { "guild_id": w.guild, "typing": true, "members": [] } });
    send_settled(&mut watcher, op14).await;
    let op37 =
        json!({ "op": 37, "d": { "subscriptions": { w.guild.clone(): { "threads": true } } } });
    send_settled(&mut watcher, op37).await;
    presences_heard(&mut watcher).await;
    let (mut owner, _) = w.connect(&w.owner.auth, GUILDS).await;
    set_status(&mut owner, "dnd").await;
    let owner_id = w.owner.id.as_str();
    assert_eq!(presences_heard(&mut watcher).await, [owner_id, owner_id]);
}

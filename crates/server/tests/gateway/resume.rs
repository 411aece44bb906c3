use std::time::Duration;

use concord_testkit::gateway::{GatewayClient, Received};
use serde_json::{Value, json};

use crate::{DEFAULT_INTENTS, MESSAGE_CONTENT, World};

fn resume(token: &str, session: &str, seq: u64) -> Value {
    json!({ "op": 6, "d": { "token": token, "session_id": session, "seq": seq } })
}

async fn reconnect(w: &World, ready: &Value) -> GatewayClient {
    let url = ready["d"]["resume_gateway_url"].as_str().unwrap();
    let mut ws = GatewayClient::connect(url, "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    let _ = w;
    ws
}

#[tokio::test]
async fn resume_replays_what_a_dropped_socket_missed() {
    let w = World::new(&[]).await;
    let (mut ws, ready) = w.connect_bot(DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    w.say("seen").await;
    let seen = ws.dispatch("MESSAGE_CREATE").await;
    let last_seq = seen["s"].as_u64().unwrap();
    drop(ws); // the TCP connection just goes away

    w.say("missed one").await;
    w.say("missed two").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut ws = reconnect(&w, &ready).await;
    let session = ready["d"]["session_id"].as_str().unwrap();
    ws.send(resume(w.bot_token(), session, last_seq)).await;
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
    assert_eq!(
        resumed["d"],
        json!({}),
        "an object: discord.py writes into it"
    );
    assert_eq!(resumed["s"], last_seq + 3);
    w.say("after").await;
    assert_eq!(ws.dispatch("MESSAGE_CREATE").await["s"], last_seq + 4);
}

#[tokio::test]
async fn a_resume_can_also_replay_what_was_already_delivered() {
    let w = World::new(&[]).await;
    let (mut ws, ready) = w.connect_bot(DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    w.say("first").await;
    let first = ws.dispatch("MESSAGE_CREATE").await;
    ws.close(4000).await;
    let mut ws = reconnect(&w, &ready).await;
    let seq = first["s"].as_u64().unwrap() - 1;
    ws.send(resume(
        w.bot_token(),
        ready["d"]["session_id"].as_str().unwrap(),
        seq,
    ))
    .await;
    assert_eq!(ws.dispatch("MESSAGE_CREATE").await["d"]["content"], "first");
    ws.dispatch("RESUMED").await;
}

#[tokio::test]
async fn unknown_or_closed_sessions_get_invalid_session_false() {
    let w = World::new(&[]).await;
    let (mut ws, ready) = w.connect_bot(DEFAULT_INTENTS).await;
    ws.close(1000).await; // a clean close ends the session
    tokio::time::sleep(Duration::from_millis(100)).await;
    for session in [
        ready["d"]["session_id"].as_str().unwrap(),
        "no-such-session",
    ] {
        let mut ws = reconnect(&w, &ready).await;
        ws.send(resume(w.bot_token(), session, 1)).await;
        let invalid = ws.receive().await;
        assert_eq!(
            invalid,
            json!({ "op": 9, "d": false, "s": null, "t": null })
        );
    }
    // Another user's session cannot be taken over.
    let (_, theirs) = w.connect_bot(DEFAULT_INTENTS).await;
    let mut ws = reconnect(&w, &ready).await;
    ws.send(resume(
        &w.owner.auth,
        theirs["d"]["session_id"].as_str().unwrap(),
        1,
    ))
    .await;
    assert_eq!(ws.receive().await["op"], 9);
}

#[tokio::test]
async fn a_slow_consumer_is_dropped_without_slowing_others_and_can_resume() {
    // The longest heartbeat interval: the slow reader never heartbeats,
    // and the server must find it slow before that deadline drops it.
    let w = World::new(&["--fsync", "off", "--gateway-heartbeat-ms", "59999"]).await;
    // A reader with a tiny receive window that stops reading after READY.
    let mut slow =
        GatewayClient::connect_small_buffer(&w.s.ws_url(), "v=10&encoding=json", 4096).await;
    assert_eq!(slow.receive().await["op"], 10);
    slow.identify(w.bot_token(), DEFAULT_INTENTS | MESSAGE_CONTENT)
        .await;
    let ready = slow.dispatch("READY").await;
    slow.dispatch("GUILD_CREATE").await;
    let (mut fast, _) = w.connect_bot(DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    // Write until the server gives up on the slow reader (more than the
    // kernel buffers on both ends hold), while the fast one keeps up.
    // Large events (near the content and embed limits), ten requests at a
    // time, fill those buffers well within the interval on a loaded
    // machine.
    let message = json!({
        "content": "x".repeat(1_990),
        "embeds": [{ "description": "y".repeat(4_000) }],
    });
    let path = format!("/channels/{}/messages", w.general);
    let mut total = 0;
    while total < 5_000 {
        for _ in 0..10 {
            let posts = (0..10).map(|_| w.s.post(&path, &w.owner.auth, message.clone()));
            for posted in futures::future::join_all(posts).await {
                assert_eq!(posted.status, 200, "{:?}", posted.body);
            }
            for _ in 0..10 {
                fast.dispatch("MESSAGE_CREATE").await;
            }
        }
        total += 100;
        // The fast one heartbeats, as clients do: on a loaded machine
        // this loop can outlast a heartbeat interval, and a 4009 is not
        // what is tested. (The slow one is dropped long before.)
        fast.send(json!({ "op": 1, "d": null })).await;
        if w.s
            .metrics()
            .await
            .contains("concord_gateway_slow_consumers_total 1")
        {
            break;
        }
    }
    assert!(total < 5_000, "the slow consumer was never dropped");
    // The slow client read nothing meanwhile; the server has let it go.
    let mut frames = 0;
    let code = loop {
        match slow.receive_within(Duration::from_secs(5)).await {
            Received::Payload(_) => frames += 1,
            Received::Closed(code) => break code,
            Received::Silent => {
                panic!("the slow consumer was never dropped ({frames} frames buffered)")
            }
        }
    };
    assert!(
        frames < total,
        "it was cut off before the end ({frames} frames)"
    );
    assert!(
        matches!(code, None | Some(4000)),
        "a resumable close: {code:?}"
    );
    // It resumes from where it stopped reading and gets the rest.
    let mut again = reconnect(&w, &ready).await;
    let last = 2 + frames as u64;
    again
        .send(resume(
            w.bot_token(),
            ready["d"]["session_id"].as_str().unwrap(),
            last,
        ))
        .await;
    let mut replayed = 0;
    loop {
        let p = again.receive().await;
        if p["t"] == "RESUMED" {
            break;
        }
        if p["t"] == "MESSAGE_CREATE" {
            replayed += 1;
        }
    }
    assert_eq!(frames + replayed, total, "nothing lost");
}

#[tokio::test]
async fn shutdown_asks_sessions_to_reconnect() {
    let mut w = World::single(&[]).await;
    let (mut ws, ready) = w.connect_bot(DEFAULT_INTENTS).await;
    w.s.signal_terminate();
    // Events of the guild's setup that the bus handed on late may come
    // first, as dispatches.
    let reconnect = loop {
        let payload = ws.receive().await;
        if payload["op"] != 0 {
            break payload;
        }
    };
    assert_eq!(
        reconnect,
        json!({ "op": 7, "d": null, "s": null, "t": null })
    );
    assert!(matches!(ws.closed().await, None | Some(4000)));
    assert!(w.s.terminate_wait().success());

    // The client comes back to the restarted server: its session did not
    // survive, so it is told to identify afresh, and that works.
    w.s.restart();
    let mut again = GatewayClient::connect(&w.s.ws_url(), "v=10&encoding=json").await;
    assert_eq!(again.receive().await["op"], 10);
    again
        .send(json!({ "op": 6, "d": {
            "token": w.bot_token(),
            "session_id": ready["d"]["session_id"],
            "seq": 1,
        } }))
        .await;
    let invalid = again.receive().await;
    assert_eq!(
        (invalid["op"].clone(), invalid["d"].clone()),
        (json!(9), json!(false))
    );
    let (mut fresh_ws, fresh) = w.connect_bot(DEFAULT_INTENTS).await;
    assert_ne!(fresh["d"]["session_id"], ready["d"]["session_id"]);
    let id = w.say("after the restart").await;
    assert_eq!(
        fresh_ws.dispatch("MESSAGE_CREATE").await["d"]["id"],
        id.as_str()
    );
}

#[tokio::test]
async fn a_session_logged_out_everywhere_closes_with_4004_and_cannot_resume() {
    let w = World::new(&[]).await;
    let (mut ws, ready) = w.connect(&w.owner.auth, DEFAULT_INTENTS).await;
    let session = ready["d"]["session_id"].as_str().unwrap();
    let out =
        w.s.post("/auth/logout-everywhere", &w.owner.auth, json!({}))
            .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    assert_eq!(ws.closed().await, Some(4004), "authentication failed");
    // Not even through another node: the session ended with its token.
    let mut again = reconnect(&w, &ready).await;
    again.send(resume(&w.owner.auth, session, 1)).await;
    assert_eq!(again.closed().await, Some(4004));
}

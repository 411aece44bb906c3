//! What a gateway socket may hold of the server: it must read what it is
//! sent, identify soon after HELLO, and its token never reaches the log.

use std::time::Duration;

use concord_testkit::TestServer;
use concord_testkit::gateway::{GatewayClient, Received};
use serde_json::json;
use tokio::time::{Instant, timeout};

use crate::{ALL_INTENTS, World};

/// The longest a test waits for the server to act.
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn gateway_socket_that_stops_reading_is_closed() {
    let w = World::single(&["--gateway-heartbeat-ms", "1000", "--fsync", "off"]).await;
    // A tiny receive window, and after READY the client reads nothing more.
    let mut ws =
        GatewayClient::connect_small_buffer(&w.s.ws_url(), "v=10&encoding=json", 4096).await;
    assert_eq!(ws.receive().await["op"], 10);
    ws.identify(&w.owner.auth, ALL_INTENTS).await;
    ws.dispatch("READY").await;
    ws.dispatch("GUILD_CREATE").await;
    // It keeps heartbeating all along, so only a blocked write can tell.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let beating = tokio::spawn(async move {
        loop {
            let beat = ws.send(json!({ "op": 1, "d": null }));
            let _ = timeout(Duration::from_millis(200), beat).await;
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(Duration::from_millis(300)) => {}
            }
        }
    });
    // Big messages (within Discord's limits), more than the kernel buffers
    // on both ends hold (about 3 MB on loopback), but fewer than make a
    // slow consumer: only the deadline can close this socket.
    let message = json!({
        "content": "x".repeat(2_000),
        "embeds": [{
            "title": "t".repeat(200),
            "description": "d".repeat(4_000),
            "fields": [{ "name": "n", "value": "v".repeat(1_000) }],
        }],
    });
    let path = format!("/channels/{}/messages", w.general);
    for sent in 0..480 {
        let reply = w.s.post(&path, &w.owner.auth, message.clone()).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        if sent % 60 == 59
            && w.s
                .metrics()
                .await
                .contains("concord_gateway_connections 0")
        {
            break;
        }
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let metrics = w.s.metrics().await;
        if metrics.contains("concord_gateway_connections 0") {
            assert!(
                !metrics.contains("concord_gateway_slow_consumers_total"),
                "closed by the heartbeat deadline, not as a slow consumer"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a socket that stopped reading is still open: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    beating.await.unwrap();
}

#[tokio::test]
async fn unidentified_socket_is_closed() {
    let w = World::single(&["--gateway-heartbeat-ms", "1000"]).await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    // Heartbeats, acknowledged, but never an IDENTIFY.
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "an unidentified socket stayed open"
        );
        ws.send(json!({ "op": 1, "d": null })).await;
        let beat_due = Instant::now() + Duration::from_millis(400);
        loop {
            match ws.receive_within(beat_due - Instant::now()).await {
                Received::Payload(p) => assert_eq!(p["op"], 11),
                Received::Silent => break,
                Received::Closed(code) => {
                    assert_eq!(code, Some(4003), "not authenticated");
                    return;
                }
            }
        }
    }
}

#[tokio::test]
async fn tokens_are_not_logged() {
    let mut s = TestServer::start_logging(env!("CARGO_BIN_EXE_concord"), "trace", &[]);
    let ada = s.register("ada").await;
    let token = ada.auth.clone();
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    ws.identify(&token, ALL_INTENTS).await;
    let ready = ws.dispatch("READY").await;
    let session_id = ready["d"]["session_id"].as_str().unwrap().to_owned();
    ws.close(4000).await;
    let mut again = GatewayClient::connect(&s.ws_url(), "v=10&encoding=json").await;
    assert_eq!(again.receive().await["op"], 10);
    again
        .send(json!({ "op": 6, "d": { "token": token, "session_id": session_id, "seq": 1 } }))
        .await;
    again.dispatch("RESUMED").await;
    assert_eq!(s.get("/users/@me", &token).await.status, 200);
    let control = std::fs::read_to_string(s.data_dir().join("control.token")).unwrap();
    let logged = s.stop_and_read_log();
    assert!(
        !logged.contains(control.trim()),
        "the control token was logged"
    );
    assert!(logged.contains("DEBUG"), "the server logged verbosely");
    // The signature is the secret part of a token.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!logged.contains(signature), "a token was logged");
    assert!(!logged.contains("password-ada"), "a password was logged");
}

#[tokio::test]
async fn gateway_sockets_count_against_the_connection_limits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The limits are each process's own.
    let s = TestServer::start_single(
        env!("CARGO_BIN_EXE_concord"),
        &["--max-connections-per-address", "2"],
    );
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let mut ws = GatewayClient::connect(&s.ws_url(), "v=10&encoding=json").await;
        assert_eq!(ws.receive().await["op"], 10);
        sockets.push(ws);
    }
    // Upgraded, they still hold their address's connections.
    let mut third = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: concord\r\n\r\n")
        .await;
    let mut answer = [0u8; 64];
    let read = timeout(PATIENCE, third.read(&mut answer))
        .await
        .expect("neither answered nor closed");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "a third connection was served: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

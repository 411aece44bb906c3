//! Web Push over several nodes: whichever node stores a message, each of
//! the recipient's devices gets its push once, and delivery goes on when
//! nodes stop (the queue is in the store, the drainer under a lease).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_testkit::cluster::Cluster;
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::json;

/// Counts the pushes each device (`/push/{device}`) received.
async fn push_service() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let log = Arc::clone(&counts);
    let app = axum::Router::new().route(
        "/push/{device}",
        axum::routing::post(move |Path(device): Path<String>| {
            let log = Arc::clone(&log);
            async move {
                *log.lock().unwrap().entry(device).or_default() += 1;
                StatusCode::CREATED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, counts)
}

async fn wait_for_total(counts: &Mutex<HashMap<String, usize>>, total: usize) {
    for _ in 0..600 {
        if counts.lock().unwrap().values().sum::<usize>() >= total {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never got {total} pushes: {:?}", counts.lock().unwrap());
}

#[tokio::test]
async fn each_device_gets_each_push_once_whichever_node_stored_it() {
    let mut cluster = Cluster::start_with(3, |s| {
        s.outbound_allow = Some(vec!["127.0.0.1".into()]);
    })
    .await;
    let (base, counts) = push_service().await;
    let a = cluster.node(0);
    let alice = a.register("alice").await;
    let bob = a.register("bob").await;
    let public = SecretKey::from_slice(&[9; 32]).unwrap().public_key();
    for device in ["phone", "laptop"] {
        let body = json!({
            "endpoint": format!("{base}/push/{device}"),
            "keys": {
                "p256dh": B64.encode(public.to_encoded_point(false).as_bytes()),
                "auth": B64.encode([1u8; 16]),
            },
        });
        let reply = a
            .put("/users/@me/push-subscriptions", &bob.auth, body)
            .await;
        assert_eq!(reply.status, 204, "{:?}", reply.body);
    }
    let dm = a
        .post(
            "/users/@me/channels",
            &alice.auth,
            json!({ "recipient_id": bob.id }),
        )
        .await;
    let channel = dm.body["id"].as_str().unwrap().to_owned();

    // Messages stored by every node in turn.
    const SENT: usize = 9;
    for i in 0..SENT {
        cluster
            .node(i % 3)
            .say(&alice, &channel, &format!("message {i}"))
            .await;
    }
    wait_for_total(&counts, 2 * SENT).await;
    // One more after them all, through the first node: once it is in on
    // both devices, nothing sent before it was delivered twice.
    cluster.node(0).say(&alice, &channel, "last").await;
    wait_for_total(&counts, 2 * SENT + 2).await;
    let seen = counts.lock().unwrap().clone();
    assert_eq!(seen.get("phone"), Some(&(SENT + 1)), "{seen:?}");
    assert_eq!(seen.get("laptop"), Some(&(SENT + 1)), "{seen:?}");

    // With two nodes gone (the lease holder among them, whichever it
    // was), the last one delivers.
    cluster.stop(0).await;
    cluster.stop(1).await;
    cluster.node(2).say(&alice, &channel, "still here").await;
    wait_for_total(&counts, 2 * SENT + 4).await;
    let seen = counts.lock().unwrap().clone();
    assert_eq!(seen.get("phone"), Some(&(SENT + 2)), "{seen:?}");
    assert_eq!(seen.get("laptop"), Some(&(SENT + 2)), "{seen:?}");
}

//! The same-run baseline: the least a WebSocket broadcast server can do.
//! `POST /broadcast` with a message's content sends one frame of the asked
//! size, carrying that content, to every connected socket; no storage, no
//! permissions, no sessions. Concord's fan-out is reported against it.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::broadcast;

#[derive(Deserialize)]
struct Frame {
    /// Pad the frame to this many bytes.
    size: usize,
}

pub(crate) async fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let (sender, _) = broadcast::channel::<Bytes>(65_536);
    let app = Router::new()
        .route("/", get(upgrade))
        .route("/broadcast", post(broadcast_one))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn upgrade(
    State(sender): State<broadcast::Sender<Bytes>>,
    ws: WebSocketUpgrade,
) -> axum::response::Response {
    let receiver = sender.subscribe();
    ws.read_buffer_size(4096)
        .on_upgrade(move |socket| forward(socket, receiver))
}

async fn forward(mut socket: WebSocket, mut frames: broadcast::Receiver<Bytes>) {
    while let Ok(frame) = frames.recv().await {
        let Ok(text) = axum::extract::ws::Utf8Bytes::try_from(frame) else {
            continue;
        };
        if socket.send(Message::Text(text)).await.is_err() {
            return;
        }
    }
}

async fn broadcast_one(
    State(sender): State<broadcast::Sender<Bytes>>,
    Query(frame): Query<Frame>,
    content: String,
) -> &'static str {
    let head =
        format!(r#"{{"op":0,"s":1,"t":"MESSAGE_CREATE","d":{{"content":"{content}","pad":""#);
    let pad = frame.size.saturating_sub(head.len() + 3);
    let body = format!("{head}{}\"}}}}", "x".repeat(pad));
    let _ = sender.send(Bytes::from(body));
    "ok"
}

//! The same-run baseline: the least a WebSocket broadcast server can do.
//! `POST /broadcast` with a message's content sends one frame of the asked
//! size, carrying that content, to every connected socket; no storage, no
//! permissions, no sessions. Concord's fan-out is reported against it.
//! A socket that asks for zlib-stream gets each frame through its own
//! deflate stream at the library's default window, kept for the socket's
//! life: what compression costs anyone, and the ratio a full window gives.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::routing::{get, post};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::Deserialize;
use tokio::sync::broadcast;

/// A socket's zlib stream, writing into the bytes of the next frame.
type Deflate = ZlibEncoder<Vec<u8>>;

#[derive(Deserialize)]
struct Connect {
    compress: Option<String>,
}

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
    Query(connect): Query<Connect>,
    ws: WebSocketUpgrade,
) -> axum::response::Response {
    let receiver = sender.subscribe();
    let deflate = (connect.compress.as_deref() == Some("zlib-stream"))
        .then(|| Box::new(ZlibEncoder::new(Vec::new(), Compression::fast())));
    ws.read_buffer_size(4096)
        .on_upgrade(move |socket| forward(socket, receiver, deflate))
}

async fn forward(
    mut socket: WebSocket,
    mut frames: broadcast::Receiver<Bytes>,
    mut deflate: Option<Box<Deflate>>,
) {
    while let Ok(frame) = frames.recv().await {
        let message = match &mut deflate {
            Some(deflate) => match compress(deflate, &frame) {
                Some(bytes) => Message::Binary(bytes.into()),
                None => return,
            },
            None => match axum::extract::ws::Utf8Bytes::try_from(frame) {
                Ok(text) => Message::Text(text),
                Err(_) => continue,
            },
        };
        if socket.send(message).await.is_err() {
            return;
        }
    }
}

/// `input` through the socket's stream, ended with a sync flush (what
/// `flush` writes) as zlib-stream clients expect.
fn compress(deflate: &mut Deflate, input: &[u8]) -> Option<Vec<u8>> {
    deflate.write_all(input).ok()?;
    deflate.flush().ok()?;
    Some(std::mem::take(deflate.get_mut()))
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

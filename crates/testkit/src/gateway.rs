//! A minimal gateway client for tests: connect, send and receive JSON
//! payloads, with transport decompression, and observe how the server closes.

use std::time::Duration;

use flate2::{Decompress, FlushDecompress};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How a test waits for one frame before deciding none is coming.
pub const PATIENCE: Duration = Duration::from_secs(10);

enum Inflate {
    None,
    Zlib(Box<Decompress>),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>),
}

pub struct GatewayClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    inflate: Inflate,
    /// How many text and binary frames arrived.
    pub text_frames: usize,
    pub binary_frames: usize,
}

/// What reading found.
#[derive(Debug)]
pub enum Received {
    Payload(Value),
    /// The server closed with this code.
    Closed(Option<u16>),
    /// Nothing arrived in time.
    Silent,
}

impl GatewayClient {
    /// `url` is the gateway URL; `query` is appended as given (`v=10&...`).
    pub async fn connect(url: &str, query: &str) -> GatewayClient {
        let full = format!("{url}/?{query}");
        let (socket, _) = tokio_tungstenite::connect_async(full)
            .await
            .expect("gateway connect");
        let inflate = if query.contains("compress=zlib-stream") {
            Inflate::Zlib(Box::new(Decompress::new(true)))
        } else if query.contains("compress=zstd-stream") {
            Inflate::Zstd(Box::new(zstd::stream::raw::Decoder::new().expect("zstd")))
        } else {
            Inflate::None
        };
        GatewayClient {
            socket,
            inflate,
            text_frames: 0,
            binary_frames: 0,
        }
    }

    /// Like [`connect`](Self::connect), with a small socket receive buffer,
    /// for a client that stops reading.
    pub async fn connect_small_buffer(url: &str, query: &str, bytes: u32) -> GatewayClient {
        let full = format!("{url}/?{query}");
        let host = url.trim_start_matches("ws://");
        let addr: std::net::SocketAddr = host.parse().expect("ws://ip:port");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let (socket, _) = tokio_tungstenite::client_async(full, MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
        GatewayClient {
            socket,
            inflate: Inflate::None,
            text_frames: 0,
            binary_frames: 0,
        }
    }

    pub async fn send(&mut self, payload: Value) {
        self.socket
            .send(Message::Text(payload.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, text: String) {
        self.try_send_raw(text).await.expect("send");
    }

    /// Sends a text frame; an error if the socket is already gone.
    pub async fn try_send_raw(
        &mut self,
        text: String,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.socket.send(Message::Text(text.into())).await
    }

    pub async fn identify(&mut self, token: &str, intents: u64) {
        self.send(json!({ "op": 2, "d": {
            "token": token, "intents": intents,
            "properties": { "os": "linux", "browser": "concord-tests", "device": "concord-tests" }
        }}))
        .await;
    }

    /// Closes with `code` as a client would.
    pub async fn close(&mut self, code: u16) {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        let _ = self.socket.close(Some(frame)).await;
    }

    /// The next payload, close, or silence after `wait`.
    pub async fn receive_within(&mut self, wait: Duration) -> Received {
        loop {
            let next = match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_) => return Received::Silent,
                Ok(next) => next,
            };
            let bytes = match next {
                None | Some(Err(_)) => return Received::Closed(None),
                Some(Ok(Message::Close(frame))) => {
                    return Received::Closed(frame.map(|f| f.code.into()));
                }
                Some(Ok(Message::Text(text))) => {
                    self.text_frames += 1;
                    text.as_bytes().to_vec()
                }
                Some(Ok(Message::Binary(bytes))) => {
                    self.binary_frames += 1;
                    self.decompress(&bytes)
                }
                Some(Ok(_)) => continue,
            };
            return Received::Payload(serde_json::from_slice(&bytes).expect("payload is JSON"));
        }
    }

    fn decompress(&mut self, bytes: &[u8]) -> Vec<u8> {
        match &mut self.inflate {
            Inflate::None => bytes.to_vec(),
            Inflate::Zlib(z) => {
                assert!(
                    bytes.ends_with(&[0, 0, 0xff, 0xff]),
                    "zlib-stream frames end in a sync flush"
                );
                let mut out = Vec::with_capacity(bytes.len() * 8 + 1024);
                let mut consumed = 0;
                loop {
                    let before = z.total_in();
                    z.decompress_vec(&bytes[consumed..], &mut out, FlushDecompress::Sync)
                        .expect("zlib stream");
                    consumed += (z.total_in() - before) as usize;
                    if consumed == bytes.len() && out.len() < out.capacity() {
                        break;
                    }
                    out.reserve(out.capacity());
                }
                out
            }
            Inflate::Zstd(z) => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                let mut out = vec![0u8; bytes.len() * 16 + 4096];
                let mut input = InBuffer::around(bytes);
                let mut written = 0;
                while input.pos() < bytes.len() {
                    let mut output = OutBuffer::around_pos(&mut out, written);
                    z.run(&mut input, &mut output).expect("zstd frame");
                    written = output.pos();
                    if written == out.len() {
                        out.resize(out.len() * 2, 0);
                    }
                }
                out.truncate(written);
                out
            }
        }
    }

    /// The next payload; panics on close or silence.
    pub async fn receive(&mut self) -> Value {
        match self.receive_within(PATIENCE).await {
            Received::Payload(v) => v,
            other => panic!("expected a payload, got {other:?}"),
        }
    }

    /// The next dispatch of type `t`, skipping heartbeat ACKs and other dispatches.
    pub async fn dispatch(&mut self, t: &str) -> Value {
        loop {
            let payload = self.receive().await;
            if payload["op"] == 0 && payload["t"] == t {
                return payload;
            }
        }
    }

    /// Reads until the server closes; returns its close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.receive_within(PATIENCE).await {
                Received::Payload(_) => continue,
                Received::Closed(code) => return code,
                Received::Silent => panic!("the server did not close the connection"),
            }
        }
    }
}

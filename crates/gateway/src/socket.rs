//! The gateway's WebSocket: the HTTP/1.1 upgrade, and a socket whose
//! memory follows what it does rather than the largest thing it ever did.
//!
//! An idle connection is most of what a busy server holds, so what stays
//! between messages is kept small:
//! - writes are gathered by [`Buffered`], which gives its buffer back once a
//!   flush has written it: an idle socket holds no write buffer at all;
//! - the WebSocket layer formats each frame into a buffer of its own that
//!   keeps the capacity of the largest frame it wrote, so a message longer
//!   than [`FRAGMENT`] (READY, GUILD_CREATE) goes out in fragments
//!   ([`frames`]), which every WebSocket client puts back together, and
//!   that buffer stays within about twice a fragment.
//!
//! Hence the upgrade here rather than axum's: its messages cannot carry a
//! raw frame. And `Buffered` rather than tokio's `BufWriter`, which keeps
//! its buffer for the socket's life.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// Socket read chunk. Client payloads are small (heartbeats, at most 4 KiB),
/// and this is held by every idle connection.
const READ_BUFFER: usize = 512;
/// Writes are gathered up to this size before they reach the socket.
const WRITE_BUFFER: usize = 16 * 1024;
/// The first allocation of an empty write buffer: most flushes fit.
const WRITE_CHUNK: usize = 4096;
/// Beyond this, a message from the client is refused by the socket layer.
const MAX_MESSAGE: usize = 16 * 1024;
/// The longest frame written: longer messages are fragmented.
pub(crate) const FRAGMENT: usize = 1024;

/// A gateway connection's socket.
pub(crate) type Socket = WebSocketStream<Buffered<TokioIo<Upgraded>>>;

/// A refused upgrade: the status and why.
pub(crate) type Refused = (StatusCode, &'static str);

/// The `Sec-WebSocket-Accept` answering a WebSocket upgrade request, or
/// why the request is not one.
pub(crate) fn accept(method: &Method, headers: &HeaderMap) -> Result<HeaderValue, Refused> {
    let refuse = |status: StatusCode, why: &'static str| Err((status, why));
    if method != Method::GET {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET",
        );
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return refuse(StatusCode::BAD_REQUEST, "Connection must include upgrade");
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return refuse(StatusCode::BAD_REQUEST, "Upgrade must be websocket");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        return refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13");
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing");
    };
    match HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        Ok(accept) => Ok(accept),
        Err(_) => refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is not valid"),
    }
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The 101 answer that switches the connection to WebSocket.
pub(crate) fn switching(accept: HeaderValue) -> Response {
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// The WebSocket over an upgraded connection.
pub(crate) async fn open(upgraded: Upgraded) -> Socket {
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        // Every frame goes on to `Buffered` as it is formatted, which
        // gathers them until the flush.
        .write_buffer_size(0)
        .max_write_buffer_size(usize::MAX)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let io = Buffered::new(TokioIo::new(upgraded));
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
}

/// `message` as the frames that carry it: itself, or fragments of at most
/// [`FRAGMENT`] bytes. A text message is cut between characters.
pub(crate) fn frames(message: Message) -> Frames {
    let (bytes, text) = match message {
        Message::Text(text) if text.len() > FRAGMENT => (Bytes::from(text), true),
        Message::Binary(bytes) if bytes.len() > FRAGMENT => (bytes, false),
        whole => return Frames::Whole(Some(whole)),
    };
    Frames::Split {
        rest: bytes,
        text,
        first: true,
    }
}

pub(crate) enum Frames {
    Whole(Option<Message>),
    Split {
        rest: Bytes,
        text: bool,
        first: bool,
    },
}

impl Iterator for Frames {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        let (rest, text, first) = match self {
            Frames::Whole(message) => return message.take(),
            Frames::Split { rest, text, first } => (rest, *text, first),
        };
        if rest.is_empty() {
            return None;
        }
        let cut = match rest.len() {
            short if short <= FRAGMENT => short,
            // A UTF-8 continuation byte is never where a character starts.
            _ if text => (1..=FRAGMENT)
                .rev()
                .find(|&i| rest[i] & 0xc0 != 0x80)
                .unwrap_or(FRAGMENT),
            _ => FRAGMENT,
        };
        let chunk = rest.split_to(cut);
        let opcode = match (std::mem::take(first), text) {
            (true, true) => Data::Text,
            (true, false) => Data::Binary,
            (false, _) => Data::Continue,
        };
        let last = rest.is_empty();
        Some(Message::Frame(Frame::message(
            chunk,
            OpCode::Data(opcode),
            last,
        )))
    }
}

/// Gathers writes until a flush, then writes them at once and lets the
/// buffer go: a connection holds a write buffer only while it has
/// something to send.
pub(crate) struct Buffered<T> {
    inner: T,
    buffer: Vec<u8>,
    /// How much of `buffer` reached `inner`.
    written: usize,
}

impl<T> Buffered<T> {
    pub(crate) fn new(inner: T) -> Buffered<T> {
        Buffered {
            inner,
            buffer: Vec::new(),
            written: 0,
        }
    }

    /// The bytes the buffer holds room for (for tests).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buffer.capacity()
    }
}

impl<T: AsyncWrite + Unpin> Buffered<T> {
    /// Writes what is buffered to `inner`, keeping the buffer's room.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buffer.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buffer[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buffer.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Buffered<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Buffered<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buffer.len() + data.len() > WRITE_BUFFER {
            ready!(this.poll_drain(cx))?;
        }
        if this.buffer.capacity() == 0 {
            this.buffer.reserve(data.len().max(WRITE_CHUNK));
        }
        this.buffer.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.buffer = Vec::new();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Counts the writes that reach it.
    #[derive(Default)]
    struct Counting {
        writes: usize,
        bytes: Vec<u8>,
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            this.writes += 1;
            this.bytes.extend_from_slice(data);
            Poll::Ready(Ok(data.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn writes_are_gathered_and_the_buffer_goes_after_the_flush() {
        let mut socket = Buffered::new(Counting::default());
        for frame in [&b"one"[..], b"two", b"three"] {
            socket.write_all(frame).await.unwrap();
        }
        assert_eq!(
            socket.inner.writes, 0,
            "nothing is written before the flush"
        );
        assert!(socket.capacity() > 0);
        socket.flush().await.unwrap();
        assert_eq!(socket.inner.writes, 1, "one write for the flush");
        assert_eq!(socket.inner.bytes, b"onetwothree");
        assert_eq!(socket.capacity(), 0, "an idle socket holds no write buffer");
    }

    #[tokio::test]
    async fn a_full_buffer_is_written_before_more_is_taken() {
        let mut socket = Buffered::new(Counting::default());
        let frame = vec![7u8; WRITE_BUFFER / 2 + 1];
        for _ in 0..3 {
            socket.write_all(&frame).await.unwrap();
        }
        assert_eq!(socket.inner.writes, 2);
        socket.flush().await.unwrap();
        assert_eq!(socket.inner.bytes.len(), 3 * frame.len());
    }

    fn payloads(message: Message) -> Vec<(OpCode, bool, Bytes)> {
        frames(message)
            .map(|m| match m {
                Message::Frame(f) => (f.header().opcode, f.header().is_final, f.into_payload()),
                whole => panic!("a fragment was expected, not {whole:?}"),
            })
            .collect()
    }

    #[test]
    fn short_messages_go_whole() {
        let message = Message::text("x".repeat(FRAGMENT));
        let sent: Vec<_> = frames(message.clone()).collect();
        assert_eq!(sent, vec![message]);
    }

    #[test]
    fn long_text_is_cut_between_characters_and_put_back_together() {
        // Three-byte characters, so that most cuts fall inside one.
        let text = "€".repeat(FRAGMENT);
        let fragments = payloads(Message::text(text.clone()));
        assert!(fragments.len() > 3);
        assert_eq!(fragments[0].0, OpCode::Data(Data::Text));
        let mut joined = Vec::new();
        for (i, (opcode, last, payload)) in fragments.iter().enumerate() {
            assert!(payload.len() <= FRAGMENT);
            assert!(
                std::str::from_utf8(payload).is_ok(),
                "fragment {i} cut a character"
            );
            assert_eq!(*last, i == fragments.len() - 1);
            if i > 0 {
                assert_eq!(*opcode, OpCode::Data(Data::Continue));
            }
            joined.extend_from_slice(payload);
        }
        assert_eq!(joined, text.as_bytes());
    }

    #[test]
    fn long_binary_is_cut_anywhere() {
        let bytes = Bytes::from(vec![0x80u8; 2 * FRAGMENT + 1]);
        let fragments = payloads(Message::Binary(bytes));
        let sizes: Vec<_> = fragments.iter().map(|f| f.2.len()).collect();
        assert_eq!(sizes, [FRAGMENT, FRAGMENT, 1]);
        assert_eq!(fragments[0].0, OpCode::Data(Data::Binary));
        assert!(fragments[2].1);
    }
}

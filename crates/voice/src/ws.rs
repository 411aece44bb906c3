//! The voice WebSocket: TLS, the `?v=` check, Hello, then one task per
//! connection reading the client's messages and writing the server's.
//!
//! What an anonymous client can hold is bounded: [`MAX_UNIDENTIFIED`]
//! connections between accept and Identify, each for at most
//! [`IDENTIFY_DEADLINE`] (TLS handshake included), and frames of at most
//! [`MAX_MESSAGE`] bytes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async_with_config};

use crate::crypto::Mode;
use crate::protocol::{self, Frame, close, op};
use crate::sfu::{ConnId, Identity, Link, Sfu};

/// Connections between accept and Identify (or RESUME).
pub(crate) const MAX_UNIDENTIFIED: usize = 256;
/// From accept to Identify.
pub(crate) const IDENTIFY_DEADLINE: Duration = Duration::from_secs(10);
/// The largest message a client may send: its messages are a few hundred
/// bytes, but for a WebRTC offer. The web client's, with its camera,
/// screen and receiving tracks offering VP8 alone, is about 11 KB; a
/// browser's offer of the same tracks with every codec it has, about 18 KB.
pub(crate) const MAX_MESSAGE: usize = 32 * 1024;
/// Hello's interval, Discord's.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(13_750);
/// The most a late heartbeat is forgiven beyond two intervals.
const HEARTBEAT_GRACE: Duration = Duration::from_secs(5);

/// Silence after which an identified connection is taken for dead (4009,
/// resumable): two missed heartbeats and a grace of at most
/// [`HEARTBEAT_GRACE`] (32.5 s at Discord's interval).
fn silence_allowed(interval: Duration) -> Duration {
    interval * 2 + interval.min(HEARTBEAT_GRACE)
}
/// Server messages queued for one connection before it counts as stuck.
/// A joiner is told of everyone present at once (an op 5 each, queued in
/// one go), so this also bounds the channels one can join: a few thousand
/// participants. The queue takes memory only for what it holds.
const OUTBOX: usize = 4096;

type Socket = WebSocketStream<tokio_rustls::server::TlsStream<TcpStream>>;

pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    sfu: Arc<Sfu>,
    mut stop: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
    heartbeat: Duration,
) {
    let unidentified = Arc::new(Semaphore::new(MAX_UNIDENTIFIED));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(error) => {
                tracing::debug!(%error, "voice accept");
                // Out of descriptors, typically: let some close.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = unidentified.clone().try_acquire_owned() else {
            continue;
        };
        let connection = Connection {
            sfu: sfu.clone(),
            stop: stop.clone(),
            permit: Some(permit),
            heartbeat,
            _done: done.clone(),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + IDENTIFY_DEADLINE;
            if let Ok(Some(socket)) = timeout_at(deadline, handshake(tcp, acceptor)).await {
                connection.run(socket, deadline).await;
            }
        });
    }
}

/// TLS, then the WebSocket upgrade of a request with `?v=` 4 or more.
async fn handshake(tcp: TcpStream, acceptor: TlsAcceptor) -> Option<(Socket, u8)> {
    let _ = tcp.set_nodelay(true);
    let tls = acceptor.accept(tcp).await.ok()?;
    let mut version = 0;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    // The shape tungstenite's callback must have.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        version = protocol::version(request.uri().query());
        if version < protocol::MIN_VERSION {
            let mut refusal = ErrorResponse::new(Some(format!(
                "voice gateway version {} or later required",
                protocol::MIN_VERSION
            )));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        Ok(response)
    };
    let socket = accept_hdr_async_with_config(tls, check, Some(config))
        .await
        .ok()?;
    Some((socket, version))
}

struct Connection {
    sfu: Arc<Sfu>,
    stop: watch::Receiver<bool>,
    /// Held until Identify or RESUME succeeds.
    permit: Option<OwnedSemaphorePermit>,
    /// The interval Hello names.
    heartbeat: Duration,
    /// Dropped when the task ends; the server waits for all of them.
    _done: mpsc::Sender<()>,
}

/// What the loop does after a message.
enum Next {
    Go,
    /// Close with this code (the connection, if any, already let go).
    Close(u16),
}

/// How the connection's socket ended.
enum Ended {
    /// The client closed it normally: it left.
    Left,
    /// The server closed it (and took the connection out first).
    Closed,
    /// It broke: the connection may be resumed.
    Dropped,
}

impl Connection {
    async fn run(mut self, (socket, version): (Socket, u8), deadline: Instant) {
        let (mut sink, mut stream) = socket.split();
        let link_id = self.sfu.next_link();
        let (outbox, mut outgoing) = mpsc::channel::<Arc<str>>(OUTBOX);
        let (closer, mut closing) = watch::channel(None);
        let link = || Link {
            id: link_id,
            outbox: outbox.clone(),
            close: closer.clone(),
        };
        let interval = self.heartbeat.as_millis() as u64;
        let hello = json!({ "op": op::HELLO, "d": { "heartbeat_interval": interval } });
        if sink.send(text(hello.to_string())).await.is_err() {
            return;
        }
        let mut session: Option<ConnId> = None;
        let mut last_heard = Instant::now();
        let ended = loop {
            let quiet_until = match session {
                None => deadline,
                Some(_) => last_heard + silence_allowed(self.heartbeat),
            };
            let next = tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(message))) => {
                        last_heard = Instant::now();
                        self.on_message(&message, version, &mut session, &mut sink, link).await
                    }
                    // DAVE's binary frames; this server offers no DAVE.
                    Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {
                        last_heard = Instant::now();
                        Next::Go
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // As on the main gateway: 1000, 1001 or no code ends the session,
                        // any other code keeps it resumable.
                        let normal = frame.is_none_or(|f| matches!(u16::from(f.code), 1000 | 1001));
                        break if normal { Ended::Left } else { Ended::Dropped };
                    }
                    Some(Ok(Message::Frame(_))) => Next::Go,
                    Some(Err(_)) | None => break Ended::Dropped,
                },
                Some(message) = outgoing.recv() => {
                    if sink.send(text(message.to_string())).await.is_err() {
                        break Ended::Dropped;
                    }
                    Next::Go
                }
                Ok(()) = closing.changed() => {
                    let code = *closing.borrow_and_update();
                    match code {
                        Some(code) => {
                            close_with(&mut sink, code).await;
                            break Ended::Closed;
                        }
                        None => Next::Go,
                    }
                }
                () = sleep_until(quiet_until) => Next::Close(match session {
                    None => close::NOT_AUTHENTICATED,
                    Some(_) => close::SESSION_TIMEOUT,
                }),
                _ = self.stop.changed() => Next::Close(close::GOING_AWAY),
            };
            if let Next::Close(code) = next {
                if let Some(id) = session {
                    // A timeout may be resumed; anything else ends it.
                    if code == close::SESSION_TIMEOUT {
                        self.sfu.detach(id, link_id);
                    } else {
                        self.sfu.leave(id, link_id);
                    }
                }
                close_with(&mut sink, code).await;
                return;
            }
        };
        if let Some(id) = session {
            match ended {
                Ended::Left => self.sfu.leave(id, link_id),
                Ended::Dropped => self.sfu.detach(id, link_id),
                Ended::Closed => {}
            }
        }
    }

    async fn on_message(
        &mut self,
        message: &str,
        version: u8,
        session: &mut Option<ConnId>,
        sink: &mut futures_util::stream::SplitSink<Socket, Message>,
        link: impl Fn() -> Link,
    ) -> Next {
        let Ok(frame) = serde_json::from_str::<Frame>(message) else {
            return Next::Close(close::DECODE_ERROR);
        };
        match (frame.op, *session) {
            (op::HEARTBEAT, _) => {
                let ack =
                    json!({ "op": op::HEARTBEAT_ACK, "d": protocol::heartbeat_ack(&frame.d) });
                if sink.send(text(ack.to_string())).await.is_err() {
                    return Next::Close(close::SESSION_TIMEOUT);
                }
                Next::Go
            }
            (op::IDENTIFY | op::RESUME, Some(_)) => Next::Close(close::ALREADY_AUTHENTICATED),
            (op::IDENTIFY, None) => {
                let Some(identify) = payload::<protocol::Identify>(frame.d) else {
                    return Next::Close(close::DECODE_ERROR);
                };
                let admitted = self
                    .sfu
                    .admission
                    .admit(
                        identify.server_id,
                        identify.user_id,
                        &identify.session_id,
                        &identify.token,
                    )
                    .await;
                let Some(admitted) = admitted else {
                    return Next::Close(close::AUTHENTICATION_FAILED);
                };
                let identity = Identity {
                    guild_id: identify.server_id,
                    user_id: identify.user_id,
                    session_id: identify.session_id,
                    token: identify.token,
                };
                let numbered = version >= protocol::SEQ_VERSION;
                let Some(id) = self.sfu.join(identity, admitted, numbered, link()) else {
                    return Next::Close(close::AUTHENTICATION_FAILED);
                };
                *session = Some(id);
                self.permit = None;
                Next::Go
            }
            (op::RESUME, None) => {
                let Some(resume) = payload::<protocol::Resume>(frame.d) else {
                    return Next::Close(close::DECODE_ERROR);
                };
                let resumed = self
                    .sfu
                    .resume(
                        resume.server_id,
                        &resume.session_id,
                        &resume.token,
                        resume.seq_ack,
                        link(),
                    )
                    .await;
                let Some(id) = resumed else {
                    return Next::Close(close::SESSION_INVALID);
                };
                *session = Some(id);
                self.permit = None;
                let resumed = json!({ "op": op::RESUMED, "d": null });
                if sink.send(text(resumed.to_string())).await.is_err() {
                    return Next::Close(close::SESSION_TIMEOUT);
                }
                Next::Go
            }
            (_, None) => Next::Close(close::NOT_AUTHENTICATED),
            (op::SELECT_PROTOCOL, Some(id)) => {
                let Some(select) = payload::<protocol::SelectProtocol>(frame.d) else {
                    return Next::Close(close::DECODE_ERROR);
                };
                match select.protocol.as_str() {
                    "udp" => {
                        let Some(mode) = select.mode().and_then(Mode::parse) else {
                            return Next::Close(close::UNKNOWN_ENCRYPTION_MODE);
                        };
                        self.sfu.select(id, mode);
                        Next::Go
                    }
                    "webrtc" => match select.offer() {
                        Some(offer) if self.sfu.select_webrtc(id, offer, &select.streams) => {
                            Next::Go
                        }
                        _ => Next::Close(close::DECODE_ERROR),
                    },
                    _ => Next::Close(close::UNKNOWN_PROTOCOL),
                }
            }
            (op::SPEAKING, Some(id)) => {
                let Some(speaking) = payload::<protocol::Speaking>(frame.d) else {
                    return Next::Close(close::DECODE_ERROR);
                };
                self.sfu.speaking(id, speaking.speaking);
                Next::Go
            }
            // Client Connect (12), video and DAVE messages, anything newer:
            // nothing this server acts on.
            _ => Next::Go,
        }
    }
}

fn payload<T: DeserializeOwned>(d: serde_json::Value) -> Option<T> {
    serde_json::from_value(d).ok()
}

fn text(message: String) -> Message {
    Message::Text(Utf8Bytes::from(message))
}

async fn close_with(sink: &mut futures_util::stream::SplitSink<Socket, Message>, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(""),
    };
    let _ = timeout(
        Duration::from_secs(1),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
}

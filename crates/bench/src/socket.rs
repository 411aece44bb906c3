//! One gateway socket as the generator holds it: small buffers, and a
//! receive path that looks for the bench marker by byte search instead of
//! parsing every frame.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flate2::{Decompress, FlushDecompress};
use futures_util::{SinkExt, StreamExt};
use memchr::memmem;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Content of every bench message starts with this, then the message index.
pub(crate) const MARKER: &[u8] = b"bench-";

/// Size of the last bench frame received, so the baseline sends the same.
pub(crate) static FRAME_BYTES: AtomicU64 = AtomicU64::new(0);

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) struct Socket {
    pub(crate) ws: Ws,
    inflate: Option<Box<Decompress>>,
    pub(crate) heartbeat: Duration,
    /// When HELLO came: heartbeats keep time from it, however long the
    /// rest of a fleet takes to connect.
    hello_at: Instant,
    /// The address the connection comes from.
    pub(crate) local: IpAddr,
    /// How the server ended the socket, once it did.
    ended: Option<String>,
    /// The size on the wire of the last message read.
    last_wire: usize,
}

/// Deliveries seen by one socket: (message index, nanoseconds since the run's epoch).
pub(crate) type Seen = Arc<std::sync::Mutex<Vec<(u32, u64)>>>;

/// What a socket identifies with unless a phase asks for more: guilds,
/// guild messages and their content.
pub(crate) const INTENTS: u64 = 1 | (1 << 9) | (1 << 15);
/// The GUILD_PRESENCES intent.
pub(crate) const GUILD_PRESENCES: u64 = 1 << 8;

/// What a receiving socket counts into, and the frames a phase has it send.
#[derive(Default)]
pub(crate) struct Lane {
    /// Bench messages seen by every socket of a fleet.
    pub(crate) deliveries: Arc<AtomicU64>,
    /// This socket's bench messages.
    pub(crate) seen: Seen,
    /// This socket's PRESENCE_UPDATEs.
    pub(crate) presences: Arc<AtomicU64>,
    /// Payloads to send (op 3, op 14), in order.
    pub(crate) outbox: Option<mpsc::UnboundedReceiver<String>>,
    /// The bench messages' bytes, as sent and as read, over a fleet.
    pub(crate) traffic: Arc<Traffic>,
}

/// Bytes of the bench messages a fleet received: on the wire, and once
/// inflated; the same for plain sockets.
#[derive(Default)]
pub(crate) struct Traffic {
    pub(crate) wire: AtomicU64,
    pub(crate) payload: AtomicU64,
}

impl Traffic {
    /// Both counts now.
    pub(crate) fn read(&self) -> (u64, u64) {
        (
            self.wire.load(Ordering::Relaxed),
            self.payload.load(Ordering::Relaxed),
        )
    }
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(16 << 20))
}

/// Where a gateway URL (`ws://` or `wss://`, an address or a host name,
/// maybe a path) points.
#[derive(Debug, PartialEq)]
pub(crate) struct GatewayUrl {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The path, without a query.
    pub(crate) path: String,
}

impl GatewayUrl {
    pub(crate) fn parse(url: &str) -> std::io::Result<GatewayUrl> {
        let bad = |why: &str| std::io::Error::other(format!("gateway URL {url:?}: {why}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(bad("not ws:// or wss://")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(GatewayUrl {
            tls,
            host,
            port,
            path: uri.path().to_owned(),
        })
    }

    /// The URL to open, with `query`.
    fn with_query(&self, query: &str) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}{}?{query}", self.port, self.path)
    }
}

/// Connects a WebSocket to gateway `url` with `query`; to a loopback IPv4
/// address from `source` when given (beyond one address's local ports a
/// fleet spreads its sockets over 127.0.0.2, .3, ...).
pub(crate) async fn connect(
    url: &str,
    query: &str,
    source: Option<Ipv4Addr>,
    zlib: bool,
) -> std::io::Result<Socket> {
    let url = GatewayUrl::parse(url)?;
    let stream = open_tcp(&url.host, url.port, source).await?;
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?.ip();
    let query = if zlib {
        format!("{query}&compress=zlib-stream")
    } else {
        query.to_owned()
    };
    let request = url.with_query(&query);
    let (ws, _) =
        tokio_tungstenite::client_async_tls_with_config(request, stream, Some(config()), None)
            .await
            .map_err(std::io::Error::other)?;
    let inflate = zlib.then(|| Box::new(Decompress::new(true)));
    Ok(Socket {
        ws,
        inflate,
        heartbeat: Duration::from_secs(40),
        hello_at: Instant::now(),
        local,
        ended: None,
        last_wire: 0,
    })
}

/// A TCP connection to `host`: each address it resolves to in turn (a
/// name such as `localhost` may resolve to `::1` first while the server
/// listens on 127.0.0.1 only).
async fn open_tcp(host: &str, port: u16, source: Option<Ipv4Addr>) -> std::io::Result<TcpStream> {
    let mut failure = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let (Some(from), IpAddr::V4(to)) = (source, addr.ip())
            && to.is_loopback()
        {
            socket.bind(SocketAddr::new(from.into(), 0))?;
        }
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => failure = Some(std::io::Error::new(e.kind(), format!("{addr}: {e}"))),
        }
    }
    Err(failure.unwrap_or_else(|| std::io::Error::other(format!("{host} has no address"))))
}

impl Socket {
    /// The next message's bytes (inflated), or `None` when the socket ended.
    pub(crate) async fn next_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            let Some(message) = self.ws.next().await else {
                self.ended
                    .get_or_insert_with(|| "the connection ended".into());
                return None;
            };
            match message {
                Ok(Message::Text(t)) => {
                    self.last_wire = t.len();
                    return Some(t.as_bytes().to_vec());
                }
                Ok(Message::Binary(b)) => {
                    self.last_wire = b.len();
                    return Some(self.inflate(&b));
                }
                Ok(Message::Close(frame)) => {
                    self.ended = Some(match frame {
                        Some(f) => format!("closed with {} {}", u16::from(f.code), f.reason),
                        None => "closed without a code".into(),
                    });
                    return None;
                }
                Err(e) => {
                    self.ended = Some(e.to_string());
                    return None;
                }
                Ok(_) => continue,
            }
        }
    }

    fn inflate(&mut self, bytes: &[u8]) -> Vec<u8> {
        let Some(z) = &mut self.inflate else {
            return bytes.to_vec();
        };
        let mut out = Vec::with_capacity(bytes.len() * 4 + 256);
        let mut consumed = 0;
        loop {
            let before = z.total_in();
            if z.decompress_vec(&bytes[consumed..], &mut out, FlushDecompress::Sync)
                .is_err()
            {
                return Vec::new();
            }
            consumed += (z.total_in() - before) as usize;
            if consumed == bytes.len() && out.len() < out.capacity() {
                return out;
            }
            out.reserve(out.capacity());
        }
    }

    pub(crate) async fn send(&mut self, text: String) -> bool {
        self.ws.send(Message::Text(text.into())).await.is_ok()
    }

    /// HELLO, IDENTIFY with `intents`, READY; returns the IDENTIFY→READY
    /// time, or what went wrong (the server's close code, say).
    pub(crate) async fn identify(
        &mut self,
        token: &str,
        intents: u64,
    ) -> std::io::Result<Duration> {
        self.identify_ready(token, intents)
            .await
            .map(|(took, _)| took)
    }

    /// HELLO, IDENTIFY, READY; returns the IDENTIFY→READY time and READY's frame.
    pub(crate) async fn identify_ready(
        &mut self,
        token: &str,
        intents: u64,
    ) -> std::io::Result<(Duration, Vec<u8>)> {
        let fail = |this: &Self, step: &str| {
            let why = this.ended.as_deref().unwrap_or("an unexpected frame");
            std::io::Error::other(format!("{step}: {why}"))
        };
        let hello = self
            .next_frame()
            .await
            .ok_or_else(|| fail(self, "waiting for HELLO"))?;
        let interval = serde_json::from_slice::<serde_json::Value>(&hello)
            .ok()
            .and_then(|h| h["d"]["heartbeat_interval"].as_u64())
            .ok_or_else(|| fail(self, "reading HELLO"))?;
        self.heartbeat = Duration::from_millis(interval);
        self.hello_at = Instant::now();
        let identify = serde_json::json!({ "op": 2, "d": {
            "token": token, "intents": intents,
            "properties": { "os": "linux", "browser": "concord-bench", "device": "concord-bench" }
        }});
        let started = Instant::now();
        if !self.send(identify.to_string()).await {
            return Err(fail(self, "sending IDENTIFY"));
        }
        let ready = memmem::Finder::new(b"\"t\":\"READY\"");
        loop {
            let frame = self
                .next_frame()
                .await
                .ok_or_else(|| fail(self, "waiting for READY"))?;
            if ready.find(&frame).is_some() {
                return Ok((started.elapsed(), frame));
            }
        }
    }

    /// Reads until `stop`, heartbeating and sending what the lane's outbox
    /// holds, and records each bench message and presence seen.
    pub(crate) async fn receive(
        mut self,
        epoch: Instant,
        lane: Lane,
        mut stop: watch::Receiver<bool>,
    ) {
        let Lane {
            deliveries,
            seen,
            presences,
            mut outbox,
            traffic,
        } = lane;
        let finder = memmem::Finder::new(MARKER);
        let seq_finder = memmem::Finder::new(b"\"s\":");
        let presence_finder = memmem::Finder::new(b"\"t\":\"PRESENCE_UPDATE\"");
        let mut last_seq: Option<u64> = None;
        // The first heartbeat half an interval after HELLO (clients start
        // at a random point of the first interval), then every interval.
        let first = self.hello_at + self.heartbeat / 2;
        let mut beat = tokio::time::interval_at(first.into(), self.heartbeat);
        loop {
            let next_out = async {
                match &mut outbox {
                    Some(outbox) => outbox.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                out = next_out => match out {
                    Some(text) => {
                        if !self.send(text).await {
                            return;
                        }
                    }
                    None => outbox = None,
                },
                _ = beat.tick() => {
                    let d = last_seq.map_or_else(|| "null".to_owned(), |s| s.to_string());
                    if !self.send(format!(r#"{{"op":1,"d":{d}}}"#)).await {
                        return;
                    }
                }
                frame = self.next_frame() => {
                    let Some(frame) = frame else { return };
                    if let Some(seq) = number_after(&seq_finder, &frame) {
                        last_seq = Some(seq.into());
                    }
                    if presence_finder.find(&frame).is_some() {
                        presences.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if let Some(index) = marker_index(&finder, &frame) {
                        let at = epoch.elapsed().as_nanos() as u64;
                        seen.lock().unwrap_or_else(|e| e.into_inner()).push((index, at));
                        deliveries.fetch_add(1, Ordering::Relaxed);
                        traffic.wire.fetch_add(self.last_wire as u64, Ordering::Relaxed);
                        traffic.payload.fetch_add(frame.len() as u64, Ordering::Relaxed);
                        FRAME_BYTES.store(frame.len() as u64, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// The index after the marker, if the frame carries one.
fn marker_index(finder: &memmem::Finder<'_>, frame: &[u8]) -> Option<u32> {
    number_after(finder, frame)
}

/// The decimal number right after the first match of `finder`.
fn number_after(finder: &memmem::Finder<'_>, frame: &[u8]) -> Option<u32> {
    let at = finder.find(frame)? + finder.needle().len();
    let digits = frame[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&frame[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_index() {
        let finder = memmem::Finder::new(MARKER);
        assert_eq!(
            marker_index(&finder, br#"{"d":{"content":"bench-42-xxxx"}}"#),
            Some(42)
        );
        assert_eq!(marker_index(&finder, br#"{"d":{"content":"hello"}}"#), None);
    }

    #[test]
    fn gateway_urls_name_a_host_a_port_and_a_path() {
        let parse = |url: &str| GatewayUrl::parse(url).unwrap();
        let plain = parse("ws://127.0.0.1:8080");
        assert_eq!(
            (plain.tls, plain.port, plain.path.as_str()),
            (false, 8080, "/")
        );
        let named = parse("wss://chat.example.org/api/gateway/");
        assert_eq!(named.host, "chat.example.org");
        assert_eq!((named.tls, named.port), (true, 443));
        assert_eq!(
            named.with_query("v=10"),
            "wss://chat.example.org:443/api/gateway/?v=10"
        );
        let v6 = parse("ws://[::1]:9000/?v=9");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9000));
        assert_eq!(v6.with_query("v=10"), "ws://[::1]:9000/?v=10");
        assert!(GatewayUrl::parse("http://127.0.0.1:1").is_err());
        assert!(GatewayUrl::parse("127.0.0.1:1").is_err());
    }

    #[tokio::test]
    async fn a_host_name_reaches_the_server_on_any_of_its_addresses() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = open_tcp("localhost", port, None)
            .await
            .expect("localhost reaches 127.0.0.1");
        assert_eq!(
            stream.peer_addr().unwrap().ip(),
            IpAddr::from([127, 0, 0, 1])
        );
    }

    #[tokio::test]
    async fn a_source_address_is_used_for_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let from = Ipv4Addr::new(127, 0, 0, 3);
        let _stream = open_tcp("127.0.0.1", port, Some(from))
            .await
            .expect("connects");
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip(), IpAddr::from(from));
    }

    #[tokio::test]
    async fn wss_speaks_tls_and_a_failed_handshake_is_an_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 1];
            stream.read_exact(&mut first).await.unwrap();
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            first[0]
        });
        let url = format!("wss://127.0.0.1:{port}/gateway");
        let result = connect(&url, "v=10", None, false).await;
        assert!(result.is_err(), "a plain-text answer is no TLS server");
        // 0x16: a TLS handshake record, the client's hello.
        assert_eq!(server.await.unwrap(), 0x16);
    }
}

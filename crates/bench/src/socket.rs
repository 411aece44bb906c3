//! One gateway socket as the generator holds it: small buffers, and a
//! receive path that looks for the bench marker by byte search instead of
//! parsing every frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flate2::{Decompress, FlushDecompress};
use futures_util::{SinkExt, StreamExt};
use memchr::memmem;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
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
}

/// Deliveries seen by one socket: (message index, nanoseconds since the run's epoch).
pub(crate) type Seen = Arc<std::sync::Mutex<Vec<(u32, u64)>>>;

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

/// Connects a WebSocket to gateway `url` with `query`, from `source` if
/// given (then to an address of the same family).
pub(crate) async fn connect(
    url: &str,
    query: &str,
    source: Option<IpAddr>,
    zlib: bool,
) -> std::io::Result<Socket> {
    let url = GatewayUrl::parse(url)?;
    let addrs = tokio::net::lookup_host((url.host.as_str(), url.port)).await?;
    let addr = addrs
        .into_iter()
        .find(|a| source.is_none_or(|s| s.is_ipv4() == a.is_ipv4()))
        .ok_or_else(|| std::io::Error::other(format!("{} has no usable address", url.host)))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
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
    })
}

impl Socket {
    /// The next message's bytes (inflated), or `None` when the socket ended.
    pub(crate) async fn next_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => return Some(t.as_bytes().to_vec()),
                Ok(Message::Binary(b)) => return Some(self.inflate(&b)),
                Ok(Message::Close(_)) | Err(_) => return None,
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

    /// HELLO, IDENTIFY, READY; returns the IDENTIFY→READY time.
    pub(crate) async fn identify(&mut self, token: &str) -> Option<Duration> {
        self.identify_ready(token).await.map(|(took, _)| took)
    }

    /// HELLO, IDENTIFY, READY; returns the IDENTIFY→READY time and READY's frame.
    pub(crate) async fn identify_ready(&mut self, token: &str) -> Option<(Duration, Vec<u8>)> {
        let hello = self.next_frame().await?;
        let hello: serde_json::Value = serde_json::from_slice(&hello).ok()?;
        let interval = hello["d"]["heartbeat_interval"].as_u64()?;
        self.heartbeat = Duration::from_millis(interval);
        let identify = serde_json::json!({ "op": 2, "d": {
            "token": token, "intents": 513 | (1 << 15),
            "properties": { "os": "linux", "browser": "concord-bench", "device": "concord-bench" }
        }});
        let started = Instant::now();
        if !self.send(identify.to_string()).await {
            return None;
        }
        let ready = memmem::Finder::new(b"\"t\":\"READY\"");
        loop {
            let frame = self.next_frame().await?;
            if ready.find(&frame).is_some() {
                return Some((started.elapsed(), frame));
            }
        }
    }

    /// Reads until `stop`, heartbeating, and records each bench message seen.
    pub(crate) async fn receive(
        mut self,
        epoch: Instant,
        deliveries: Arc<AtomicU64>,
        seen: Seen,
        mut stop: watch::Receiver<bool>,
    ) {
        let finder = memmem::Finder::new(MARKER);
        let seq_finder = memmem::Finder::new(b"\"s\":");
        let mut last_seq: Option<u64> = None;
        let mut beat = tokio::time::interval(self.heartbeat);
        beat.tick().await;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
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
                    if let Some(index) = marker_index(&finder, &frame) {
                        let at = epoch.elapsed().as_nanos() as u64;
                        seen.lock().unwrap_or_else(|e| e.into_inner()).push((index, at));
                        deliveries.fetch_add(1, Ordering::Relaxed);
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
}

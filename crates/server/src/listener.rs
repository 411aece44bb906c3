//! The HTTP listener: accepts connections within the configured bounds and
//! serves each with hyper, so that no client, signed in or not, can hold
//! the server's connections or file descriptors.
//!
//! - A client has [`Bounds::header_timeout`] to send each request's headers
//!   (hyper's header read timeout, which also ends idle keep-alive
//!   connections), and a request body must keep up [`Bounds::min_body_rate`]
//!   ([`body::MinRate`]) or the request is answered 408 and the connection
//!   closed.
//! - At most [`Bounds::max_connections`] connections are served in full; the
//!   next [`HEALTH_RESERVE`] answer only `/healthz` and `/readyz` (anything
//!   else gets 503 and the connection is closed), so health checks keep
//!   working at the cap; beyond that, connections are closed as accepted.
//! - One client address (an IPv6 client: its /64) holds at most
//!   [`Bounds::per_address`] connections; more are closed as accepted,
//!   other addresses unaffected. Behind a reverse proxy every client has
//!   the proxy's address: the proxy must limit its clients itself.
//!
//! A connection counts until its socket is closed, including after it was
//! upgraded to a gateway WebSocket: the count is held by the socket itself
//! ([`Held`]).

mod body;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use concord_config::ClientBounds;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// Connections above the cap that may still ask for health.
pub const HEALTH_RESERVE: usize = 64;

/// What the listener allows each client.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Time to send a request's headers (and to start one on an idle connection).
    pub header_timeout: Duration,
    /// Bytes per second a request body must average after its first second (0: no bound).
    pub min_body_rate: u64,
    /// Connections served in full.
    pub max_connections: usize,
    /// Connections from one address.
    pub per_address: usize,
}

impl From<&ClientBounds> for Bounds {
    fn from(bounds: &ClientBounds) -> Bounds {
        Bounds {
            header_timeout: Duration::from_millis(bounds.http_header_timeout_ms),
            min_body_rate: bounds.http_min_body_rate,
            max_connections: bounds.max_connections as usize,
            per_address: bounds.max_connections_per_address as usize,
        }
    }
}

/// How a connection is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Everything.
    Full,
    /// Health checks only: the server is at its connection cap.
    Health,
}

/// Open connections, in all and by client address.
#[derive(Default)]
struct Tally {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Admits connections and counts them until they close.
struct Gate {
    bounds: Bounds,
    tally: Arc<Mutex<Tally>>,
}

impl Gate {
    fn admit(&self, address: IpAddr) -> Option<(Permit, Lane)> {
        let address = client(address);
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let lane = match tally.total {
            n if n < self.bounds.max_connections => Lane::Full,
            n if n < self.bounds.max_connections + HEALTH_RESERVE => Lane::Health,
            _ => return None,
        };
        let from_address = tally.by_address.entry(address).or_default();
        if *from_address >= self.bounds.per_address {
            return None;
        }
        *from_address += 1;
        tally.total += 1;
        let permit = Permit {
            tally: Arc::clone(&self.tally),
            address,
        };
        Some((permit, lane))
    }
}

/// Whom a connection counts against: its IPv4 address, or the /64 of its
/// IPv6 address, since one IPv6 client commonly holds a whole /64.
fn client(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// One admitted connection; it stops counting when dropped.
struct Permit {
    tally: Arc<Mutex<Tally>>,
    address: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        tally.total -= 1;
        if let Some(n) = tally.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                tally.by_address.remove(&self.address);
            }
        }
    }
}

/// A socket with its permit: an upgraded connection takes the socket, and
/// with it the permit, so a WebSocket counts as long as it is open.
struct Held {
    stream: TcpStream,
    _permit: Permit,
}

impl Held {
    /// Writes go out at once (`TCP_NODELAY`). With Nagle's algorithm a
    /// write made while an earlier one is unacknowledged waits for the
    /// peer's ACK, which the peer may hold back for up to 40 ms: a
    /// gateway flush that writes a long batch in two parts, or a second
    /// flush right after a first, stalled for that long.
    fn new(stream: TcpStream, permit: Permit) -> Held {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        Held {
            stream,
            _permit: permit,
        }
    }
}

impl AsyncRead for Held {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, lets each connection finish its request and waits for them.
/// Handlers see the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    shutdown: impl Future<Output = ()>,
) {
    let gate = Gate {
        bounds,
        tally: Arc::default(),
    };
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a receiver; all are gone when all closed.
    let (closed, open) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Refused: closed at once, before a byte is read.
        let Some((permit, lane)) = gate.admit(peer.ip()) else {
            metrics::counter!("concord_http_connections_refused_total").increment(1);
            continue;
        };
        let held = Held::new(stream, permit);
        let connection = Connection {
            app: app.clone(),
            peer,
            lane,
            bounds,
        };
        tokio::spawn(connection.serve(held, stopping.clone(), open.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    closed.closed().await;
}

/// Like hyper's server: a refused or reset connection is nothing, but
/// running out of descriptors is worth a line and a pause.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[derive(Clone)]
struct Connection {
    app: Router,
    peer: SocketAddr,
    lane: Lane,
    bounds: Bounds,
}

impl Connection {
    async fn serve(
        self,
        held: Held,
        mut stopping: watch::Receiver<bool>,
        _open: watch::Receiver<()>,
    ) {
        let lane = self.lane;
        let header_timeout = self.bounds.header_timeout;
        let service = hyper::service::service_fn(move |request| self.clone().answer(request));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // A health-check connection answers once and makes room.
            .keep_alive(lane == Lane::Full);
        let connection = builder
            .serve_connection(TokioIo::new(held), service)
            .with_upgrades();
        let mut connection = pin!(connection);
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stop => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result {
            tracing::trace!(error = %e, "connection ended");
        }
    }

    async fn answer(
        self,
        mut request: Request<Incoming>,
    ) -> Result<Response<axum::body::Body>, Infallible> {
        if self.lane == Lane::Health && !matches!(request.uri().path(), "/healthz" | "/readyz") {
            return Ok(closing(
                StatusCode::SERVICE_UNAVAILABLE,
                "at connection capacity",
            ));
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let slow = body::Slow::default();
        let request = request
            .map(|incoming| body::MinRate::new(incoming, self.bounds.min_body_rate, slow.clone()));
        let response = self.app.oneshot(request).await?;
        if slow.happened() {
            return Ok(closing(
                StatusCode::REQUEST_TIMEOUT,
                "request body too slow",
            ));
        }
        Ok(response)
    }
}

/// A short plain answer after which the connection is closed.
fn closing(status: StatusCode, text: &'static str) -> Response<axum::body::Body> {
    let mut response = Response::new(axum::body::Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_connections: usize, per_address: usize) -> Gate {
        Gate {
            bounds: Bounds {
                header_timeout: Duration::from_secs(1),
                min_body_rate: 0,
                max_connections,
                per_address,
            },
            tally: Arc::default(),
        }
    }

    #[tokio::test]
    async fn accepted_connections_write_without_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        assert!(!stream.nodelay().unwrap(), "sockets start with Nagle on");
        let (permit, _) = gate(1, 1).admit(peer.ip()).unwrap();
        assert!(Held::new(stream, permit).stream.nodelay().unwrap());
    }

    #[test]
    fn the_reserve_serves_health_then_connections_are_refused() {
        let gate = gate(2, usize::MAX);
        let a = IpAddr::from([10, 0, 0, 1]);
        let held: Vec<_> = (0..2 + HEALTH_RESERVE)
            .map(|_| gate.admit(a).expect("admitted"))
            .collect();
        assert_eq!(held[1].1, Lane::Full);
        assert_eq!(held[2].1, Lane::Health);
        assert!(gate.admit(a).is_none());
        drop(held);
        assert_eq!(gate.admit(a).map(|(_, lane)| lane), Some(Lane::Full));
    }

    #[test]
    fn each_address_has_its_own_limit_and_mapped_addresses_are_one() {
        let gate = gate(100, 2);
        let v4 = IpAddr::from([10, 0, 0, 1]);
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        let _first = gate.admit(v4).expect("first");
        let second = gate.admit(mapped).expect("second");
        assert!(gate.admit(v4).is_none(), "a third from the same address");
        assert!(gate.admit(IpAddr::from([10, 0, 0, 2])).is_some());
        drop(second);
        assert!(gate.admit(v4).is_some(), "room again once one closed");
        let one_64: Vec<IpAddr> = ["2001:db8::1", "2001:db8::ffff:2", "2001:db8::3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let _held = [gate.admit(one_64[0]), gate.admit(one_64[1])];
        assert!(
            gate.admit(one_64[2]).is_none(),
            "one IPv6 client is its /64"
        );
        assert!(gate.admit("2001:db8:0:1::1".parse().unwrap()).is_some());
    }
}

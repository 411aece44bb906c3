//! What one client may hold of the server's connections: slow headers and
//! bodies are cut off, one address holds a bounded number of connections,
//! and health checks still answer when the server is full.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

use crate::server_with;

/// How long a test waits for the server to act before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// A connection from `from` (a loopback address) to the server.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(to).await.expect("connect")
}

/// Sends `GET path` on `stream` and reads the whole answer; returns its
/// status code, or `None` if the server closed the connection unanswered.
async fn get_on(stream: &mut TcpStream, path: &str) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: concord\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match timeout(PATIENCE, stream.read(&mut byte)).await {
            Err(_) => panic!("no answer and no close for GET {path}"),
            Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(_)) => head.push(byte[0]),
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a content length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("the body");
    head.split(' ').nth(1).and_then(|code| code.parse().ok())
}

/// Reads until the server closes the connection; panics if it does not
/// within [`PATIENCE`].
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match timeout(PATIENCE, stream.read(&mut chunk)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Holds `n` connections from 127.0.0.1, each answered once (so the
/// server has accepted and counted it) and kept alive.
async fn hold(s: &concord_testkit::TestServer, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut stream = TcpStream::connect(s.addr).await.expect("connect");
        assert_eq!(get_on(&mut stream, "/healthz").await, Some(200));
        held.push(stream);
    }
    held
}

#[tokio::test]
async fn slow_header_connections_are_closed() {
    let s = server_with(&["--http-header-timeout-ms", "500"]);
    // Headers that never end, a byte at a time.
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: concord\r\nX-Slow: ")
        .await
        .unwrap();
    let trickle = async {
        let mut chunk = [0u8; 1024];
        loop {
            if slow.write_all(b"a").await.is_err() {
                return;
            }
            match timeout(Duration::from_millis(100), slow.read(&mut chunk)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(_)) | Err(_) => continue,
            }
        }
    };
    timeout(PATIENCE, trickle)
        .await
        .expect("the server kept a connection whose headers never ended");
    // A connection that never says anything is closed too.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    until_closed(&mut idle).await;
    // Others are served as ever, and kept alive only as long.
    let mut fresh = TcpStream::connect(s.addr).await.unwrap();
    assert_eq!(get_on(&mut fresh, "/healthz").await, Some(200));
    until_closed(&mut fresh).await;
}

#[tokio::test]
async fn slow_bodies_are_ended() {
    let s = server_with(&["--http-min-body-rate", "1024"]);
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(
        b"POST /api/v10/auth/login HTTP/1.1\r\nHost: concord\r\n\
          Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let trickle = async {
        let mut chunk = [0u8; 1024];
        loop {
            if slow.write_all(b" ").await.is_err() {
                return;
            }
            match timeout(Duration::from_millis(100), slow.read(&mut chunk)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
                Err(_) => continue,
            }
        }
    };
    timeout(PATIENCE, trickle)
        .await
        .expect("the server waited on a body trickling in");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A body that arrives at once is served as ever.
    let fast = s
        .request(
            "POST",
            "/auth/login",
            None,
            Some(serde_json::json!({ "login": "nobody@example.org", "password": "wrong" })),
        )
        .await;
    assert_ne!(fast.status, 408, "{:?}", fast.body);
}

#[tokio::test]
async fn connections_beyond_the_per_address_limit_are_refused() {
    let s = server_with(&["--max-connections-per-address", "5"]);
    let mut held = hold(&s, 5).await;
    let mut sixth = TcpStream::connect(s.addr).await.unwrap();
    assert_eq!(
        get_on(&mut sixth, "/healthz").await,
        None,
        "a sixth connection from one address is closed unanswered"
    );
    // Another address is unaffected.
    let mut other = connect_from([127, 0, 0, 2], s.addr).await;
    assert_eq!(get_on(&mut other, "/healthz").await, Some(200));
    // Once one closes, the address may connect again.
    held.pop();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut again = TcpStream::connect(s.addr).await.unwrap();
        if get_on(&mut again, "/healthz").await == Some(200) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The ones held were served all along.
    for stream in &mut held {
        assert_eq!(get_on(stream, "/healthz").await, Some(200));
    }
}

#[tokio::test]
async fn health_checks_answer_at_the_connection_cap() {
    let s = server_with(&["--max-connections", "3"]);
    let _held = hold(&s, 3).await;
    // At the cap, a connection may only ask for health, then it is closed.
    let mut busy = TcpStream::connect(s.addr).await.unwrap();
    assert_eq!(get_on(&mut busy, "/api/v10/gateway").await, Some(503));
    until_closed(&mut busy).await;
    for path in ["/healthz", "/readyz"] {
        let mut health = TcpStream::connect(s.addr).await.unwrap();
        assert_eq!(get_on(&mut health, path).await, Some(200), "{path}");
        until_closed(&mut health).await;
    }
}

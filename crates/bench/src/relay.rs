//! The voice phase's same-run baseline: the least a UDP forwarder can do.
//! A [`JOIN`] datagram makes its sender a member (and is echoed, so the
//! member knows); every other datagram goes, as it came, to every member
//! but its sender. No keys, no sealing, no RTP rewriting, no choice of
//! speakers; one socket and one loop, as Concord's media socket has.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// What a participant sends to join the relay.
pub(crate) const JOIN: &[u8] = b"join";

/// Larger than any voice datagram.
const DATAGRAM: usize = 2048;

pub(crate) async fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let socket = UdpSocket::bind(listen).await?;
    println!("udp relay listening on udp://{}", socket.local_addr()?);
    let mut members: Vec<SocketAddr> = Vec::new();
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        // An ICMP error from an earlier send shows up here on some systems.
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let datagram = &buf[..len];
        if datagram == JOIN {
            if !members.contains(&from) {
                members.push(from);
            }
            let _ = socket.send_to(JOIN, from).await;
            continue;
        }
        for to in members.iter().filter(|to| **to != from) {
            let _ = socket.send_to(datagram, to).await;
        }
    }
}

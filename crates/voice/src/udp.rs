//! The media socket: IP discovery, keep-alives and RTP, all on the one
//! socket Ready named, so every reply comes from the address and port the
//! client `connect()`ed its own socket to.

use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::rtp;
use crate::sfu::{Routed, Sfu};

/// Larger than any voice datagram (an Opus frame is at most 1275 bytes).
const DATAGRAM: usize = 2048;
/// @discordjs/voice's keep-alive: an 8-byte counter every few seconds.
const KEEP_ALIVE_LEN: usize = 8;

pub(crate) async fn run(socket: Arc<UdpSocket>, sfu: Arc<Sfu>, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let (len, from) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(received) => received,
                // An ICMP error from an earlier send shows up here on some
                // systems; it says nothing about the next datagram.
                Err(error) => {
                    tracing::debug!(%error, "voice udp receive");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let packet = &buf[..len];
        if let Some(ssrc) = rtp::discovery_request(packet) {
            if sfu.discovered(ssrc, from) {
                send(&socket, &rtp::discovery_response(ssrc, from), from).await;
            }
        } else if len == KEEP_ALIVE_LEN {
            if sfu.knows(from) {
                send(&socket, packet, from).await;
            }
        } else if let Some(routed) = sfu.route(from, packet, Instant::now()) {
            deliver(&socket, &routed).await;
            sfu.bridge.forward(routed);
        }
    }
}

/// Seals a routed packet for each of its Discord-protocol listeners, under
/// the speaker's SSRC with the listener's sequence, key and counter, and
/// sends it from the media socket.
pub(crate) async fn deliver(socket: &UdpSocket, routed: &Routed) {
    for target in &routed.targets {
        let header = rtp::forward_header(
            routed.marker_type,
            target.sequence,
            routed.timestamp,
            routed.ssrc,
        );
        let sealed = target.cipher.seal(&header, &routed.payload, target.counter);
        send(socket, &sealed, target.addr).await;
    }
}

async fn send(socket: &UdpSocket, packet: &[u8], to: std::net::SocketAddr) {
    if let Err(error) = socket.send_to(packet, to).await {
        tracing::debug!(%error, %to, "voice udp send");
    }
}

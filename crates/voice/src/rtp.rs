//! What the SFU reads of a packet on the media socket: IP discovery, RTP
//! headers (and the audio level in their extension), keep-alives.

use std::net::{IpAddr, SocketAddr};

/// IP discovery packets are exactly this long, both ways.
pub(crate) const DISCOVERY_LEN: usize = 74;
const DISCOVERY_REQUEST: u16 = 1;
const DISCOVERY_RESPONSE: u16 = 2;
/// The length field: what follows the type and length.
const DISCOVERY_BODY: u16 = 70;

/// The fixed RTP header.
pub(crate) const HEADER_LEN: usize = 12;
/// The one-byte header extension profile (RFC 8285).
const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// The extension id Discord's clients give the client-to-mixer audio level
/// (RFC 6464).
pub(crate) const AUDIO_LEVEL_ID: u8 = 1;

/// The SSRC an IP discovery request asks about, if `packet` is one.
pub(crate) fn discovery_request(packet: &[u8]) -> Option<u32> {
    if packet.len() != DISCOVERY_LEN
        || u16::from_be_bytes([packet[0], packet[1]]) != DISCOVERY_REQUEST
        || u16::from_be_bytes([packet[2], packet[3]]) != DISCOVERY_BODY
    {
        return None;
    }
    Some(u32::from_be_bytes([
        packet[4], packet[5], packet[6], packet[7],
    ]))
}

/// The answer to a discovery request: the address and port it came from, as
/// NUL-terminated text and a big-endian port, in exactly 74 bytes.
pub(crate) fn discovery_response(ssrc: u32, from: SocketAddr) -> [u8; DISCOVERY_LEN] {
    let mut out = [0u8; DISCOVERY_LEN];
    out[0..2].copy_from_slice(&DISCOVERY_RESPONSE.to_be_bytes());
    out[2..4].copy_from_slice(&DISCOVERY_BODY.to_be_bytes());
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    let ip = match from.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let text = ip.to_string();
    // 64 bytes for the address, the last always NUL.
    let len = text.len().min(63);
    out[8..8 + len].copy_from_slice(&text.as_bytes()[..len]);
    out[72..74].copy_from_slice(&from.port().to_be_bytes());
    out
}

/// An RTP header as the rtpsize modes split a packet: the clear part (the
/// AAD) is the fixed header, the CSRCs and the extension's 4-byte preamble;
/// the extension's body is encrypted with the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Marker bit and payload type, kept when forwarding.
    pub(crate) marker_type: u8,
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) ssrc: u32,
    /// Bytes of clear header, the AAD.
    pub(crate) clear_len: usize,
    /// The extension's profile and its body's length in bytes, if the X bit
    /// is set.
    pub(crate) extension: Option<(u16, usize)>,
}

impl Header {
    /// The header of an RTP version 2 packet that is not RTCP, or `None`.
    pub(crate) fn parse(packet: &[u8]) -> Option<Header> {
        if packet.len() < HEADER_LEN || packet[0] >> 6 != 2 {
            return None;
        }
        let payload_type = packet[1] & 0x7F;
        // RTCP (types 200-204) shares the port and has its second byte there.
        if (72..=76).contains(&payload_type) {
            return None;
        }
        let csrc_count = usize::from(packet[0] & 0x0F);
        let mut clear_len = HEADER_LEN + 4 * csrc_count;
        let extension = if packet[0] & 0x10 != 0 {
            let preamble = packet.get(clear_len..clear_len + 4)?;
            clear_len += 4;
            let profile = u16::from_be_bytes([preamble[0], preamble[1]]);
            let words = u16::from_be_bytes([preamble[2], preamble[3]]);
            Some((profile, usize::from(words) * 4))
        } else {
            None
        };
        if packet.len() < clear_len {
            return None;
        }
        Some(Header {
            marker_type: packet[1],
            sequence: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            clear_len,
            extension,
        })
    }
}

/// The header the SFU writes for a listener: no CSRCs, no extension.
pub(crate) fn forward_header(
    marker_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
) -> [u8; 12] {
    let mut out = [0u8; HEADER_LEN];
    out[0] = 0x80;
    out[1] = marker_type;
    out[2..4].copy_from_slice(&sequence.to_be_bytes());
    out[4..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
    out
}

/// The audio level (RFC 6464: 0 is the loudest, 127 silence) in a decrypted
/// one-byte-profile extension body, if it carries one.
pub(crate) fn audio_level(profile: u16, body: &[u8]) -> Option<u8> {
    if profile != ONE_BYTE_PROFILE {
        return None;
    }
    let mut at = 0;
    while at < body.len() {
        let id = body[at] >> 4;
        match id {
            // Padding between elements.
            0 => at += 1,
            // Reserved: the rest cannot be read.
            15 => return None,
            _ => {
                let len = usize::from(body[at] & 0x0F) + 1;
                let data = body.get(at + 1..at + 1 + len)?;
                if id == AUDIO_LEVEL_ID {
                    return Some(data[0] & 0x7F);
                }
                at += 1 + len;
            }
        }
    }
    None
}

/// An Opus silence frame, which speakers send a few of when they pause.
pub(crate) fn is_silence(opus: &[u8]) -> bool {
    opus == [0xF8, 0xFF, 0xFE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_answer_is_74_bytes_of_type_2() {
        let mut request = [0u8; DISCOVERY_LEN];
        request[0..2].copy_from_slice(&1u16.to_be_bytes());
        request[2..4].copy_from_slice(&70u16.to_be_bytes());
        request[4..8].copy_from_slice(&0xDEADBEEFu32.to_be_bytes());
        assert_eq!(discovery_request(&request), Some(0xDEADBEEF));
        assert_eq!(discovery_request(&request[..73]), None);

        let answer = discovery_response(0xDEADBEEF, "127.0.0.1:50123".parse().unwrap());
        assert_eq!(&answer[0..8], &[0, 2, 0, 70, 0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(&answer[8..18], b"127.0.0.1\0");
        assert_eq!(u16::from_be_bytes([answer[72], answer[73]]), 50123);
        // An answer is never taken for a request.
        assert_eq!(discovery_request(&answer), None);
    }

    #[test]
    fn header_with_csrcs_and_extension() {
        let mut packet = vec![0x92, 0x78, 0, 7, 0, 0, 3, 0xC0, 0, 0, 0, 9];
        packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        packet.extend_from_slice(&[0xBE, 0xDE, 0, 1]);
        packet.extend_from_slice(&[0; 20]);
        let header = Header::parse(&packet).unwrap();
        assert_eq!(header.sequence, 7);
        assert_eq!(header.timestamp, 960);
        assert_eq!(header.ssrc, 9);
        assert_eq!(header.clear_len, 24);
        assert_eq!(header.extension, Some((0xBEDE, 4)));
        // RTCP is not RTP.
        assert_eq!(
            Header::parse(&[0x80, 200, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1]),
            None
        );
    }

    #[test]
    fn audio_level_from_one_byte_extension() {
        // Padding, another element (id 2, two bytes), then the level with
        // its voice bit set.
        let body = [0x00, 0x21, 0xAA, 0xBB, 0x10, 0x80 | 42];
        assert_eq!(audio_level(0xBEDE, &body), Some(42));
        assert_eq!(audio_level(0x1000, &body), None);
        assert_eq!(audio_level(0xBEDE, &[0x21, 0xAA]), None);
    }
}

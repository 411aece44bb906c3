//! The two AEAD modes of Discord's voice protocol, both "rtpsize": the clear
//! RTP header is the AAD, and a packet ends with the 4-byte big-endian
//! counter that, zero-padded, is the nonce.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;

use crate::rtp::Header;

/// The nonce counter appended to every packet.
const COUNTER_LEN: usize = 4;
/// Both modes' authentication tag.
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `aead_aes256_gcm_rtpsize`: preferred by Discord; @discordjs/voice picks it.
    Aes256Gcm,
    /// `aead_xchacha20_poly1305_rtpsize`: the one every client must support;
    /// discord.py picks it.
    XChaCha20Poly1305,
}

impl Mode {
    /// The modes Ready offers, preferred first.
    pub const OFFERED: [Mode; 2] = [Mode::Aes256Gcm, Mode::XChaCha20Poly1305];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Aes256Gcm => "aead_aes256_gcm_rtpsize",
            Mode::XChaCha20Poly1305 => "aead_xchacha20_poly1305_rtpsize",
        }
    }

    pub fn parse(name: &str) -> Option<Mode> {
        Mode::OFFERED.into_iter().find(|mode| mode.name() == name)
    }
}

/// One connection's key in its mode.
pub(crate) enum Cipher {
    Aes(Box<Aes256Gcm>),
    XChaCha(XChaCha20Poly1305),
}

/// A packet opened: its header, what the extension body said and the payload.
pub(crate) struct Opened {
    pub(crate) header: Header,
    /// The decrypted extension body, if the packet had one.
    pub(crate) extension: Vec<u8>,
    /// The Opus frame.
    pub(crate) payload: Vec<u8>,
    /// The sender's nonce counter.
    pub(crate) counter: u32,
}

impl Cipher {
    pub(crate) fn new(mode: Mode, key: &[u8; 32]) -> Cipher {
        match mode {
            Mode::Aes256Gcm => Cipher::Aes(Box::new(Aes256Gcm::new(key.into()))),
            Mode::XChaCha20Poly1305 => Cipher::XChaCha(XChaCha20Poly1305::new(key.into())),
        }
    }

    /// Decrypts an RTP packet sealed with this key, splitting the extension
    /// body off the payload; `None` if it is not one.
    pub(crate) fn open(&self, packet: &[u8]) -> Option<Opened> {
        let header = Header::parse(packet)?;
        if packet.len() < header.clear_len + TAG_LEN + COUNTER_LEN {
            return None;
        }
        let (sealed, counter) = packet.split_at(packet.len() - COUNTER_LEN);
        let (aad, ciphertext) = sealed.split_at(header.clear_len);
        let counter: [u8; 4] = counter.try_into().ok()?;
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        let mut plain = match self {
            Cipher::Aes(cipher) => cipher.decrypt(&nonce::<12>(counter).into(), payload),
            Cipher::XChaCha(cipher) => cipher.decrypt(&nonce::<24>(counter).into(), payload),
        }
        .ok()?;
        let body_len = header.extension.map_or(0, |(_, len)| len);
        if plain.len() < body_len {
            return None;
        }
        let payload = plain.split_off(body_len);
        Some(Opened {
            header,
            extension: plain,
            payload,
            counter: u32::from_be_bytes(counter),
        })
    }

    /// `header ‖ seal(payload) ‖ counter`: a packet for the holder of this key.
    pub(crate) fn seal(&self, header: &[u8], payload: &[u8], counter: u32) -> Vec<u8> {
        let counter = counter.to_be_bytes();
        let message = Payload {
            msg: payload,
            aad: header,
        };
        let sealed = match self {
            Cipher::Aes(cipher) => cipher.encrypt(&nonce::<12>(counter).into(), message),
            Cipher::XChaCha(cipher) => cipher.encrypt(&nonce::<24>(counter).into(), message),
        }
        // Encryption fails only for messages longer than either cipher
        // allows (gigabytes); a datagram never is.
        .unwrap_or_default();
        let mut out = Vec::with_capacity(header.len() + sealed.len() + COUNTER_LEN);
        out.extend_from_slice(header);
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&counter);
        out
    }
}

/// Which of a sender's nonce counters were seen: the newest and the 64
/// before it, as SRTP keeps them, so a replayed packet is dropped while one
/// that arrives a little late still gets through.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReplayWindow {
    newest: Option<u32>,
    /// Bit `n` set: `newest - n` was seen.
    seen: u64,
}

/// A counter not seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fresh {
    /// The newest yet.
    Newest,
    /// Older than the newest, but not seen.
    Late,
}

impl ReplayWindow {
    /// Notes `counter` (of a packet that opened), or `None` if it was seen
    /// or is too old to tell.
    pub(crate) fn check(&mut self, counter: u32) -> Option<Fresh> {
        let Some(newest) = self.newest else {
            self.newest = Some(counter);
            self.seen = 1;
            return Some(Fresh::Newest);
        };
        if counter > newest {
            let shift = counter - newest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift } | 1;
            self.newest = Some(counter);
            return Some(Fresh::Newest);
        }
        let bit = 1u64.checked_shl(newest - counter)?;
        if self.seen & bit != 0 {
            return None;
        }
        self.seen |= bit;
        Some(Fresh::Late)
    }
}

/// The counter in the first four bytes of an otherwise zero nonce.
fn nonce<const N: usize>(counter: [u8; 4]) -> [u8; N] {
    let mut nonce = [0u8; N];
    nonce[..COUNTER_LEN].copy_from_slice(&counter);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::forward_header;

    #[test]
    fn both_modes_round_trip_and_strip_the_extension_body() {
        for mode in Mode::OFFERED {
            let cipher = Cipher::new(mode, &[7; 32]);
            // A header with the X bit and a one-word extension preamble: the
            // body (0x10 0x2A: audio level 42, padded) is sealed with the Opus.
            let mut header = forward_header(0x78, 5, 960, 77).to_vec();
            header[0] |= 0x10;
            header.extend_from_slice(&[0xBE, 0xDE, 0, 1]);
            let packet = cipher.seal(&header, &[0x10, 0x2A, 0, 0, 1, 2, 3], 9);
            assert_eq!(&packet[packet.len() - 4..], &[0, 0, 0, 9]);
            let opened = cipher.open(&packet).expect("opens");
            assert_eq!(opened.extension, [0x10, 0x2A, 0, 0]);
            assert_eq!(opened.payload, [1, 2, 3]);
            assert_eq!(opened.header.ssrc, 77);
            assert_eq!(opened.counter, 9);

            // Another key, a changed header or a changed counter fail.
            assert!(Cipher::new(mode, &[8; 32]).open(&packet).is_none());
            let mut tampered = packet.clone();
            tampered[3] ^= 1;
            assert!(cipher.open(&tampered).is_none());
            let mut recounted = packet.clone();
            let last = recounted.len() - 1;
            recounted[last] ^= 1;
            assert!(cipher.open(&recounted).is_none());
        }
        assert_eq!(
            Mode::parse("aead_xchacha20_poly1305_rtpsize"),
            Some(Mode::XChaCha20Poly1305)
        );
        assert_eq!(Mode::parse("xsalsa20_poly1305"), None);
    }

    #[test]
    fn replays_are_refused_and_late_packets_taken_once() {
        let mut window = ReplayWindow::default();
        assert_eq!(window.check(10), Some(Fresh::Newest));
        assert_eq!(window.check(10), None);
        assert_eq!(window.check(12), Some(Fresh::Newest));
        assert_eq!(window.check(11), Some(Fresh::Late));
        assert_eq!(window.check(11), None);
        assert_eq!(window.check(200), Some(Fresh::Newest));
        assert_eq!(window.check(12), None, "too old to tell");
        assert_eq!(window.check(137), Some(Fresh::Late));
        assert_eq!(window.check(136), None, "just out of the window");
    }
}

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
}

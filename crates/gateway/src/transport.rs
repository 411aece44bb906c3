//! Transport compression: each connection has one stream that never
//! resets, and every gateway message becomes one WebSocket message.
//!
//! zlib-stream ends each message with a sync flush (`00 00 ff ff`);
//! zstd-stream flushes each message without ending the frame. Windows are
//! kept small so an idle connection costs little: a client inflates any
//! window up to the maximum, so the server may choose.
//!
//! A deflate state costs about 150 KiB whatever the window (the hash
//! table's size is fixed), so a zlib-stream connection holds one only while
//! it is busy ([`Zlib::park`]); a parked stream sends small messages (a
//! heartbeat's ACK) as stored blocks rather than wake one.

use std::time::Duration;

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use zstd::stream::raw::{CParameter, Encoder, InBuffer, Operation, OutBuffer};

/// zlib window: 2^12 bytes of history.
const ZLIB_WINDOW_BITS: u8 = 12;
/// zstd window: 2^16 bytes of history.
const ZSTD_WINDOW_LOG: u32 = 16;
/// How long a zlib-stream connection keeps its deflate state after its
/// last message. A connection that gets something at least this often
/// keeps its history (and the ratio that comes from it); one that is idle
/// gives back the memory.
pub(crate) const ZLIB_PARK_AFTER: Duration = Duration::from_secs(1);

pub(crate) enum Transport {
    Plain,
    Zlib(Zlib),
    Zstd(Box<Encoder<'static>>),
}

impl Transport {
    /// From the `compress` query parameter; unknown values fall back to
    /// plain text, as clients expect.
    pub(crate) fn from_query(compress: Option<&str>) -> Transport {
        match compress {
            Some("zlib-stream") => Transport::Zlib(Zlib::default()),
            Some("zstd-stream") => match zstd_encoder() {
                Ok(encoder) => Transport::Zstd(Box::new(encoder)),
                Err(e) => {
                    tracing::warn!(error = %e, "zstd unavailable; sending plain text");
                    Transport::Plain
                }
            },
            _ => Transport::Plain,
        }
    }

    pub(crate) fn encode(&mut self, payload: String) -> std::io::Result<Message> {
        match self {
            Transport::Plain => Ok(Message::Text(Utf8Bytes::from(payload))),
            Transport::Zlib(z) => z
                .encode(payload.as_bytes())
                .map(|b| Message::Binary(Bytes::from(b))),
            Transport::Zstd(z) => {
                zstd(z, payload.as_bytes()).map(|b| Message::Binary(Bytes::from(b)))
            }
        }
    }

    /// When the connection's compression state may be given back, if it
    /// holds one that can be.
    pub(crate) fn park_at(&self) -> Option<Instant> {
        match self {
            Transport::Zlib(z) => z.park_at(),
            _ => None,
        }
    }

    pub(crate) fn park(&mut self) {
        if let Transport::Zlib(z) = self {
            z.park();
        }
    }
}

/// One zlib stream whose deflate state comes and goes.
///
/// The first message opens the stream with its zlib header. Every message
/// ends with a sync flush, which leaves the stream at a byte boundary
/// between blocks; so the state can be dropped there, and the next message
/// written by a fresh raw deflate continues the same stream. The client's
/// inflater cannot tell: it only loses back-references into what came
/// before. The stream's checksum is never reached, as the stream never
/// ends.
#[derive(Default)]
pub(crate) struct Zlib {
    deflate: Option<Box<Compress>>,
    started: bool,
    last_used: Option<Instant>,
}

/// Messages up to this size go out of a parked stream as they are, in a
/// stored block, rather than waking a deflate state: a heartbeat's ACK
/// every interval would otherwise hold one for [`ZLIB_PARK_AFTER`] each
/// time.
const STORED_UP_TO: usize = 128;

impl Zlib {
    fn encode(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        if self.started && self.deflate.is_none() && input.len() <= STORED_UP_TO {
            return Ok(stored(input));
        }
        let started = self.started;
        let deflate = self.deflate.get_or_insert_with(|| {
            // The header once, at the stream's start; raw deflate after.
            Box::new(Compress::new_with_window_bits(
                Compression::fast(),
                !started,
                ZLIB_WINDOW_BITS,
            ))
        });
        self.started = true;
        self.last_used = Some(Instant::now());
        zlib(deflate, input)
    }

    fn park_at(&self) -> Option<Instant> {
        self.deflate.as_ref()?;
        Some(self.last_used? + ZLIB_PARK_AFTER)
    }

    /// Drops the deflate state between messages.
    pub(crate) fn park(&mut self) {
        self.deflate = None;
    }
}

/// `input` as one stored (uncompressed) deflate block, then the empty
/// stored block a sync flush writes (`00 00 ff ff`, which zlib-stream
/// clients look for at a message's end). The stream is at a byte boundary
/// between blocks, as every message leaves it.
fn stored(input: &[u8]) -> Vec<u8> {
    let len = u16::try_from(input.len()).expect("stored blocks carry small messages");
    let mut out = Vec::with_capacity(input.len() + 10);
    // BFINAL 0, BTYPE 00 (stored), padded to the byte.
    out.push(0);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(input);
    out.extend_from_slice(&[0, 0, 0, 0xff, 0xff]);
    out
}

fn zstd_encoder() -> std::io::Result<Encoder<'static>> {
    let mut encoder = Encoder::new(1)?;
    encoder.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
    Ok(encoder)
}

fn zlib(z: &mut Compress, input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let mut consumed = 0;
    loop {
        let before_in = z.total_in();
        z.compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
            .map_err(std::io::Error::other)?;
        consumed += (z.total_in() - before_in) as usize;
        if consumed == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(64));
    }
}

fn zstd(z: &mut Encoder<'static>, input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = vec![0u8; zstd::zstd_safe::compress_bound(input.len()) + 64];
    let mut written = 0;
    let mut inbuf = InBuffer::around(input);
    while inbuf.pos() < input.len() {
        let mut outbuf = OutBuffer::around_pos(&mut out, written);
        z.run(&mut inbuf, &mut outbuf)?;
        written = outbuf.pos();
        if written == out.len() {
            out.resize(out.len() * 2, 0);
        }
    }
    loop {
        let mut outbuf = OutBuffer::around_pos(&mut out, written);
        let remaining = z.flush(&mut outbuf)?;
        written = outbuf.pos();
        if remaining == 0 {
            break;
        }
        out.resize(out.len() * 2, 0);
    }
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn bytes(m: Message) -> Bytes {
        match m {
            Message::Binary(b) => b,
            other => panic!("expected binary, got {other:?}"),
        }
    }

    /// Encodes `payload`, checks that the frame ends as zlib-stream
    /// clients expect, and inflates it back on the client's one inflater.
    fn zlib_round_trip(t: &mut Transport, inflate: &mut Decompress, payload: &str) {
        let frame = bytes(t.encode(payload.to_owned()).unwrap());
        assert!(frame.ends_with(&[0, 0, 0xff, 0xff]));
        let mut out = Vec::with_capacity(payload.len() + 16);
        inflate
            .decompress_vec(&frame, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, payload.as_bytes());
    }

    #[test]
    fn zlib_stream_messages_end_with_sync_flush_and_share_one_context() {
        let mut t = Transport::from_query(Some("zlib-stream"));
        let mut inflate = Decompress::new(true);
        for i in 0..50 {
            let payload = format!(
                r#"{{"op":0,"d":{{"n":{i},"text":"{}"}}}}"#,
                "abc".repeat(i * 100)
            );
            zlib_round_trip(&mut t, &mut inflate, &payload);
        }
    }

    #[test]
    fn a_parked_zlib_stream_continues_for_the_same_inflater() {
        let mut t = Transport::from_query(Some("zlib-stream"));
        let mut inflate = Decompress::new(true);
        for i in 0..20 {
            let payload = format!(r#"{{"op":11,"d":{i},"pad":"{}"}}"#, "ab".repeat(i * 40));
            zlib_round_trip(&mut t, &mut inflate, &payload);
            assert!(t.park_at().is_some(), "a state is held after a message");
            if i % 3 != 0 {
                t.park();
                assert_eq!(t.park_at(), None, "nothing is held once parked");
            }
        }
    }

    /// Small messages of a parked stream (a heartbeat's ACK) go out
    /// stored, without a deflate state, and the stream goes on for the
    /// client's inflater before, between and after them.
    #[test]
    fn a_parked_zlib_stream_sends_small_messages_stored() {
        let mut t = Transport::from_query(Some("zlib-stream"));
        let mut inflate = Decompress::new(true);
        let mut check = |t: &mut Transport, payload: String| {
            zlib_round_trip(t, &mut inflate, &payload);
        };
        let ack = r#"{"op":11,"d":null}"#.to_owned();
        check(
            &mut t,
            r#"{"op":10,"d":{"heartbeat_interval":41250}}"#.into(),
        );
        t.park();
        for i in 0..5 {
            check(&mut t, ack.clone());
            assert_eq!(t.park_at(), None, "a small message left nothing held");
            let large = format!(
                r#"{{"op":0,"d":{{"n":{i},"text":"{}"}}}}"#,
                "hi".repeat(200)
            );
            check(&mut t, large);
            assert!(t.park_at().is_some(), "a large message is compressed");
            check(&mut t, ack.clone());
            t.park();
        }
        let limit = "x".repeat(STORED_UP_TO);
        check(&mut t, limit);
        assert_eq!(t.park_at(), None);
    }

    #[test]
    fn zstd_stream_messages_decode_one_by_one() {
        let mut t = Transport::from_query(Some("zstd-stream"));
        let mut decoder = zstd::stream::raw::Decoder::new().unwrap();
        for i in 0..50 {
            let payload = format!(
                r#"{{"op":0,"d":{{"n":{i},"text":"{}"}}}}"#,
                "xyz".repeat(i * 100)
            );
            let frame = bytes(t.encode(payload.clone()).unwrap());
            let mut out = vec![0u8; payload.len() + 64];
            let mut inbuf = InBuffer::around(&frame);
            let mut outbuf = OutBuffer::around(&mut out);
            while inbuf.pos() < frame.len() {
                decoder.run(&mut inbuf, &mut outbuf).unwrap();
            }
            let n = outbuf.pos();
            assert_eq!(&out[..n], payload.as_bytes());
        }
    }

    #[test]
    fn unknown_compression_falls_back_to_text() {
        let mut t = Transport::from_query(Some("lz4"));
        assert!(matches!(t.encode("{}".into()).unwrap(), Message::Text(_)));
    }
}

//! Transport compression: each connection has one stream that never
//! resets, and every gateway message becomes one WebSocket message.
//!
//! zlib-stream ends each message with a sync flush (`00 00 ff ff`);
//! zstd-stream flushes each message without ending the frame. Windows are
//! kept small so an idle connection costs little: a client inflates any
//! window up to the maximum, so the server may choose.

use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};
use zstd::stream::raw::{CParameter, Encoder, InBuffer, Operation, OutBuffer};

/// zlib window: 2^12 bytes of history.
const ZLIB_WINDOW_BITS: u8 = 12;
/// zstd window: 2^16 bytes of history.
const ZSTD_WINDOW_LOG: u32 = 16;

pub(crate) enum Transport {
    Plain,
    Zlib(Box<Compress>),
    Zstd(Box<Encoder<'static>>),
}

impl Transport {
    /// From the `compress` query parameter; unknown values fall back to
    /// plain text, as clients expect.
    pub(crate) fn from_query(compress: Option<&str>) -> Transport {
        match compress {
            Some("zlib-stream") => Transport::Zlib(Box::new(Compress::new_with_window_bits(
                Compression::fast(),
                true,
                ZLIB_WINDOW_BITS,
            ))),
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
            Transport::Zlib(z) => {
                zlib(z, payload.as_bytes()).map(|b| Message::Binary(Bytes::from(b)))
            }
            Transport::Zstd(z) => {
                zstd(z, payload.as_bytes()).map(|b| Message::Binary(Bytes::from(b)))
            }
        }
    }
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

    #[test]
    fn zlib_stream_messages_end_with_sync_flush_and_share_one_context() {
        let mut t = Transport::from_query(Some("zlib-stream"));
        let mut inflate = Decompress::new(true);
        for i in 0..50 {
            let payload = format!(
                r#"{{"op":0,"d":{{"n":{i},"text":"{}"}}}}"#,
                "abc".repeat(i * 100)
            );
            let frame = bytes(t.encode(payload.clone()).unwrap());
            assert!(frame.ends_with(&[0, 0, 0xff, 0xff]));
            let mut out = Vec::with_capacity(payload.len() + 16);
            inflate
                .decompress_vec(&frame, &mut out, FlushDecompress::Sync)
                .unwrap();
            assert_eq!(out, payload.as_bytes());
        }
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

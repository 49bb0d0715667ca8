//! The one type that crosses from the encoders to the intake: an encoded, possibly compressed
//! request body with its content type, encoding and signal. A leaf: every signal's encoder
//! builds payloads here and the intake delivers them without knowing what they hold.
//!
//! Compression is honest: a body whose compression failed goes out as it is, without a
//! `Content-Encoding`, never labelled with an encoding it does not have. Bodies are
//! `bytes::Bytes`, so every destination and every attempt shares one allocation.

use bytes::Bytes;
use std::borrow::Cow;
use std::io::Write;

/// Which signal a payload belongs to (its flush takes undelivered payloads back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

/// One request body, ready to send.
#[derive(Debug, Clone)]
pub struct Payload {
    pub body: Bytes,
    pub content_type: Cow<'static, str>,
    /// The `Content-Encoding` header, when the body is compressed.
    pub encoding: Option<Cow<'static, str>>,
    pub signal: Signal,
}

/// A payload with the intake path it goes to (below each destination's base URL) and how many
/// items (entries, series, spans) it carries, for the flush report.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub path: &'static str,
    pub payload: Payload,
    pub items: u64,
}

impl Payload {
    /// An uncompressed body.
    pub(crate) fn plain(
        body: impl Into<Bytes>,
        content_type: &'static str,
        signal: Signal,
    ) -> Self {
        Payload {
            body: body.into(),
            content_type: Cow::Borrowed(content_type),
            encoding: None,
            signal,
        }
    }

    /// `raw` compressed with zstd at `level`; sent uncompressed if compression fails.
    pub(crate) fn zstd(
        raw: Vec<u8>,
        level: i32,
        content_type: &'static str,
        signal: Signal,
    ) -> Self {
        let compress = |b: &[u8]| zstd_compress(b, level);
        Payload::compressed(raw, "zstd", compress, content_type, signal)
    }

    /// Like [`Payload::zstd`] from a borrowed buffer (one the encoder reuses): copied only if
    /// compression fails.
    pub(crate) fn zstd_slice(
        raw: &[u8],
        level: i32,
        content_type: &'static str,
        signal: Signal,
    ) -> Self {
        match zstd_compress(raw, level) {
            Ok(mut z) => {
                z.shrink_to_fit();
                Payload {
                    encoding: Some(Cow::Borrowed("zstd")),
                    ..Payload::plain(z, content_type, signal)
                }
            }
            Err(_) => Payload::plain(raw.to_vec(), content_type, signal),
        }
    }

    /// `raw` compressed with gzip (fast); sent uncompressed if compression fails.
    pub(crate) fn gzip(raw: Vec<u8>, content_type: &'static str, signal: Signal) -> Self {
        Payload::compressed(raw, "gzip", gzip, content_type, signal)
    }

    /// `raw` through `compress`, labelled `encoding` only if that worked.
    fn compressed(
        raw: Vec<u8>,
        encoding: &'static str,
        compress: impl FnOnce(&[u8]) -> std::io::Result<Vec<u8>>,
        content_type: &'static str,
        signal: Signal,
    ) -> Self {
        match compress(&raw) {
            Ok(mut z) => {
                // Compressors reserve their worst case (about the input's size): payloads wait
                // in queues, so each must hold only its own bytes.
                z.shrink_to_fit();
                Payload {
                    encoding: Some(Cow::Borrowed(encoding)),
                    ..Payload::plain(z, content_type, signal)
                }
            }
            Err(_) => Payload::plain(raw, content_type, signal),
        }
    }
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

/// zstd at `level` with this thread's compression context, kept between calls: a fresh context
/// allocates and clears its tables on every call (page faults: about 0.25 ms for a small
/// payload, on the post-runtime path), a kept one reuses them. One context per thread that
/// compresses (the async workers), sized by the largest input it has seen (≤ 2 MiB chunks).
fn zstd_compress(raw: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(None) };
    }
    CONTEXT.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(std::io::Error::other)?;
        match slot.as_mut() {
            Some((l, c)) if *l == level => c.compress(raw),
            _ => {
                let mut c = zstd::bulk::Compressor::new(level)?;
                let out = c.compress(raw);
                *slot = Some((level, c));
                out
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compressed_bodies_say_so_and_decode_back() {
        let raw = b"{\"a\":1}".repeat(100);
        let z = Payload::zstd(raw.clone(), 3, "application/json", Signal::Logs);
        assert_eq!(z.encoding.as_deref(), Some("zstd"));
        assert_eq!(zstd::decode_all(&z.body[..]).unwrap(), raw);
        let g = Payload::gzip(raw.clone(), "application/msgpack", Signal::Traces);
        assert_eq!(g.encoding.as_deref(), Some("gzip"));
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&g.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, raw);
    }

    #[test]
    fn a_failed_compression_is_sent_plain_and_unlabelled() {
        let raw = b"series".to_vec();
        let fail = |_: &[u8]| Err(std::io::Error::other("out of memory"));
        let p = Payload::compressed(
            raw.clone(),
            "zstd",
            fail,
            "application/x-protobuf",
            Signal::Metrics,
        );
        assert_eq!(p.encoding, None);
        assert_eq!(&p.body[..], &raw[..]);
    }

    #[test]
    fn clones_share_one_body() {
        let p = Payload::plain(vec![1u8; 1024], "application/json", Signal::Logs);
        let q = p.clone();
        assert_eq!(p.body.as_ptr(), q.body.as_ptr());
    }
}

//! Metrics encoding: series and sketches as protobuf, zstd-compressed, streamed into payloads
//! that each stay within the intake's limits (≤ 512,000 bytes compressed, ≤ 5,242,880
//! uncompressed) — one message at a time, so a flush of 100k contexts never holds them all
//! encoded (or built) at once; events and service checks as JSON. Pure functions, from a
//! flushed batch to the intake's `Payload`s; nothing here sends.

use super::aggregator::Item;
use super::pipeline::MetricsBatch;
use crate::payload::{Encoded, Payload, Signal};
use prost::Message;

pub(crate) const MAX_COMPRESSED: usize = 512_000;
pub(crate) const MAX_UNCOMPRESSED: usize = 5_242_880;
/// Raw protobuf gathered before it is compressed into a payload: small enough that a flush
/// holds little beside the aggregator, large enough that a payload carries thousands of series
/// (metrics protobuf compresses 5–10×, so most chunks land well under `MAX_COMPRESSED`).
const CHUNK_RAW: usize = 2 * 1024 * 1024;
const _: () = assert!(CHUNK_RAW <= MAX_UNCOMPRESSED);
/// The zstd level when none is configured.
pub const ZSTD_LEVEL: i32 = 3;
/// The repeated field holding series in `MetricPayload` and sketches in `SketchPayload`: a
/// payload is just these fields one after another, so chunks can be cut between any two.
const ITEMS_FIELD: u32 = 1;

/// Every payload of a flushed batch, with its intake path, at the default level.
pub fn payloads(batch: MetricsBatch) -> Vec<Encoded> {
    payloads_at(batch, ZSTD_LEVEL)
}

/// Every payload of a flushed batch, compressed at zstd `level`.
pub fn payloads_at(batch: MetricsBatch, level: i32) -> Vec<Encoded> {
    let json = |v: &serde_json::Value| {
        Payload::plain(
            v.to_string().into_bytes(),
            "application/json",
            Signal::Metrics,
        )
    };
    let mut series = Chunker::new("/api/v2/series", level);
    let mut sketches = Chunker::new("/api/beta/sketches", level);
    batch.flushed.for_each(|item| match item {
        Item::Series(s) => series.push(&s),
        Item::Sketch(s) => sketches.push(&s),
    });
    let mut out = series.finish();
    out.extend(sketches.finish());
    // The v1 events API takes one event per request.
    out.extend(batch.events.iter().map(|e| Encoded {
        path: "/api/v1/events",
        payload: json(e),
        items: 1,
    }));
    if !batch.checks.is_empty() {
        let items = batch.checks.len() as u64;
        out.push(Encoded {
            path: "/api/v1/check_run",
            payload: json(&serde_json::Value::Array(batch.checks)),
            items,
        });
    }
    out
}

/// Streams messages of one intake path into compressed payloads.
struct Chunker {
    path: &'static str,
    level: i32,
    raw: Vec<u8>,
    /// Where each message ends in `raw`.
    ends: Vec<usize>,
    out: Vec<Encoded>,
}

impl Chunker {
    fn new(path: &'static str, level: i32) -> Self {
        Self {
            path,
            level,
            raw: Vec::new(),
            ends: Vec::new(),
            out: Vec::new(),
        }
    }

    fn push(&mut self, msg: &impl Message) {
        let len = msg.encoded_len();
        // Field key + length prefix + the message.
        let add = 1 + prost::encoding::encoded_len_varint(len as u64) + len;
        if !self.ends.is_empty() && self.raw.len() + add > CHUNK_RAW {
            self.seal();
        }
        prost::encoding::message::encode(ITEMS_FIELD, msg, &mut self.raw);
        self.ends.push(self.raw.len());
    }

    fn seal(&mut self) {
        // One raw buffer for the whole flush, cleared between chunks.
        let raw = std::mem::take(&mut self.raw);
        let ends = std::mem::take(&mut self.ends);
        self.compress(&raw, 0, &ends);
        self.raw = raw;
        self.raw.clear();
    }

    /// Compresses `raw[base..ends.last()]`; halves any group whose compressed form is still too
    /// large. A single message over the limit is sent alone (the intake decides).
    fn compress(&mut self, raw: &[u8], base: usize, ends: &[usize]) {
        let Some(&end) = ends.last() else {
            return;
        };
        let Some(slice) = raw.get(base..end) else {
            return;
        };
        let payload =
            Payload::zstd_slice(slice, self.level, "application/x-protobuf", Signal::Metrics);
        if payload.body.len() > MAX_COMPRESSED && ends.len() > 1 {
            let (left, right) = ends.split_at(ends.len() / 2);
            let cut = left.last().copied().unwrap_or(base);
            self.compress(raw, base, left);
            self.compress(raw, cut, right);
            return;
        }
        self.out.push(Encoded {
            path: self.path,
            payload,
            items: ends.len() as u64,
        });
    }

    fn finish(mut self) -> Vec<Encoded> {
        if !self.ends.is_empty() {
            self.seal();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::proto::{MetricPayload, MetricPoint, MetricSeries};

    fn series(i: usize, tags: usize) -> MetricSeries {
        MetricSeries {
            metric: format!("metric.{i}"),
            tags: (0..tags)
                .map(|t| format!("tag{t}:{i}-{t}-{}", "v".repeat(i % 50)))
                .collect(),
            points: vec![MetricPoint {
                value: i as f64,
                timestamp: 1_700_000_000,
            }],
            r#type: 1,
            interval: 10,
            ..Default::default()
        }
    }

    #[test]
    fn payloads_stay_within_limits_and_keep_every_series() {
        let all: Vec<MetricSeries> = (0..60_000).map(|i| series(i, 6)).collect();
        let mut chunker = Chunker::new("/api/v2/series", ZSTD_LEVEL);
        for s in &all {
            chunker.push(s);
        }
        let payloads = chunker.finish();
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for p in &payloads {
            let body = &p.payload.body;
            assert!(body.len() <= MAX_COMPRESSED, "{}", body.len());
            let raw = zstd::decode_all(&body[..]).unwrap();
            assert!(raw.len() <= MAX_UNCOMPRESSED);
            let decoded = MetricPayload::decode(&raw[..]).unwrap();
            assert_eq!(decoded.series.len() as u64, p.items);
            seen += p.items;
        }
        assert_eq!(seen, 60_000);
    }
}

//! Metrics encoding: series and sketches as protobuf, zstd-compressed, split so that every
//! payload stays within the intake's limits (≤ 512,000 bytes compressed, ≤ 5,242,880
//! uncompressed); events and service checks as JSON. Pure functions, from a flushed batch to
//! the intake's `Payload`s; nothing here sends.

use super::pipeline::MetricsBatch;
use super::proto::{MetricPayload, MetricSeries, SketchMsg, SketchPayload};
use crate::payload::{Encoded, Payload, Signal};
use prost::Message;

pub(crate) const MAX_COMPRESSED: usize = 512_000;
pub(crate) const MAX_UNCOMPRESSED: usize = 5_242_880;
const ZSTD_LEVEL: i32 = 3;

/// Every payload of a flushed batch, with its intake path.
pub fn payloads(batch: MetricsBatch) -> Vec<Encoded> {
    let json = |v: &serde_json::Value| {
        Payload::plain(
            v.to_string().into_bytes(),
            "application/json",
            Signal::Metrics,
        )
    };
    let mut out = series_payloads(batch.flushed.series);
    out.extend(sketch_payloads(batch.flushed.sketches));
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

fn series_payloads(series: Vec<MetricSeries>) -> Vec<Encoded> {
    split("/api/v2/series", series, &|s| s.encoded_len(), &|items| {
        MetricPayload {
            series: items.to_vec(),
        }
        .encode_to_vec()
    })
}

fn sketch_payloads(sketches: Vec<SketchMsg>) -> Vec<Encoded> {
    split(
        "/api/beta/sketches",
        sketches,
        &|s| s.encoded_len(),
        &|items| {
            SketchPayload {
                sketches: items.to_vec(),
                metadata: None,
            }
            .encode_to_vec()
        },
    )
}

/// Groups items under the uncompressed limit, then halves any group whose compressed form is
/// still too large. A single item over the limit is sent alone (the intake decides).
fn split<T: Clone>(
    path: &'static str,
    items: Vec<T>,
    len: &dyn Fn(&T) -> usize,
    encode: &dyn Fn(&[T]) -> Vec<u8>,
) -> Vec<Encoded> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut cur: Vec<T> = Vec::new();
    let mut size = 0;
    for item in items {
        // Field tag + length prefix of a repeated message: at most 1 + 5 bytes.
        let add = len(&item) + 6;
        if !cur.is_empty() && size + add > MAX_UNCOMPRESSED {
            groups.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += add;
        cur.push(item);
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    let mut out = Vec::new();
    while let Some(group) = groups.pop() {
        let payload = Payload::zstd(
            encode(&group),
            ZSTD_LEVEL,
            "application/x-protobuf",
            Signal::Metrics,
        );
        if payload.body.len() > MAX_COMPRESSED && group.len() > 1 {
            let mut left = group;
            let right = left.split_off(left.len() / 2);
            groups.push(right);
            groups.push(left);
            continue;
        }
        out.push(Encoded {
            path,
            payload,
            items: group.len() as u64,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::proto::MetricPoint;

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
        let payloads = series_payloads(all);
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

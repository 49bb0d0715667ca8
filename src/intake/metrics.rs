//! Metrics intake encoding: series and sketches as protobuf, zstd-compressed, split so that
//! every payload stays within the intake's limits (≤ 512,000 bytes compressed, ≤ 5,242,880
//! uncompressed); events and service checks as JSON. Pure functions.

use crate::metrics::proto::{MetricPayload, MetricSeries, SketchMsg, SketchPayload};
use prost::Message;

pub const MAX_COMPRESSED: usize = 512_000;
pub const MAX_UNCOMPRESSED: usize = 5_242_880;
const ZSTD_LEVEL: i32 = 3;

/// One compressed request body and how many series/sketches it carries.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub body: Vec<u8>,
    pub items: usize,
}

pub fn series_payloads(series: Vec<MetricSeries>) -> Vec<Encoded> {
    split(series, &|s| s.encoded_len(), &|items| {
        MetricPayload {
            series: items.to_vec(),
        }
        .encode_to_vec()
    })
}

pub fn sketch_payloads(sketches: Vec<SketchMsg>) -> Vec<Encoded> {
    split(sketches, &|s| s.encoded_len(), &|items| {
        SketchPayload {
            sketches: items.to_vec(),
            metadata: None,
        }
        .encode_to_vec()
    })
}

/// Groups items under the uncompressed limit, then halves any group whose compressed form is
/// still too large. A single item over the limit is sent alone (the intake decides).
fn split<T: Clone>(
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
        let raw = encode(&group);
        let body = zstd::bulk::compress(&raw, ZSTD_LEVEL).unwrap_or(raw);
        if body.len() > MAX_COMPRESSED && group.len() > 1 {
            let mut left = group;
            let right = left.split_off(left.len() / 2);
            groups.push(right);
            groups.push(left);
            continue;
        }
        out.push(Encoded {
            body,
            items: group.len(),
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
            assert!(p.body.len() <= MAX_COMPRESSED, "{}", p.body.len());
            let raw = zstd::decode_all(&p.body[..]).unwrap();
            assert!(raw.len() <= MAX_UNCOMPRESSED);
            let decoded = MetricPayload::decode(&raw[..]).unwrap();
            assert_eq!(decoded.series.len(), p.items);
            seen += p.items;
        }
        assert_eq!(seen, 60_000);
    }
}

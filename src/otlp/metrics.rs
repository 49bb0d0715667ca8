//! OTLP metrics → Datadog points, as Datadog's OTLP metrics mapping does it: gauges and
//! non-monotonic sums are gauges; monotonic sums are counts (delta sums as they are, cumulative
//! ones as the increase since the stream's previous point, a reset starting over); histograms
//! and exponential histograms are distributions (a sketch from the buckets), or bucket counts,
//! with optional `.count`/`.sum`/`.min`/`.max`; summaries are `.count`/`.sum` counts and
//! `.quantile` gauges. Tags: the resource's mapped attributes and the point's attributes.
//! Keeps the per-stream state cumulative streams need (bounded). Pure apart from that state.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // reads input from outside the process

use super::attrs;
use crate::config::otlp::{HistogramMode, OtlpConfig};
use crate::metrics::parse::Kind;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, metric::Data,
    number_data_point,
};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

/// Cumulative streams remembered at once; past this the oldest state is forgotten (the next
/// point of a forgotten stream starts it over, as after a restart).
const MAX_STREAMS: usize = 10_000;
/// Bucket counts remembered across all cumulative streams (2 MiB): many streams of wide
/// histograms are forgotten oldest first rather than held past the memory bound.
const MAX_REMEMBERED_BUCKETS: usize = 262_144;

/// Most buckets a histogram point may have (OpenTelemetry's exponential histograms default to
/// 160): a cumulative stream's counts are remembered, so a forged point must not be huge.
const MAX_BUCKETS: usize = 2_048;

/// One Datadog point: a context and its weighted values at `ts` (unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub name: String,
    pub tags: Vec<String>,
    pub kind: Kind,
    pub values: Vec<(f64, f64)>,
    pub ts: i64,
}

/// A cumulative stream's last point: its start, and its value or bucket counts.
#[derive(Debug, Clone)]
struct Prev {
    start_ns: u64,
    /// The sum's value, or for histograms count, sum and the bucket counts.
    total: f64,
    buckets: Vec<u64>,
    seen: u64,
}

/// The state kept across requests.
pub(crate) struct Translator {
    streams: HashMap<u64, Prev>,
    hasher: foldhash::fast::FixedState,
    /// Streams that started before this (ns) are not reported on their first point: their
    /// value may include what an earlier extension already reported.
    started_ns: u64,
    seen: u64,
    /// Points refused since the last `map` (too many buckets).
    refused: u64,
    /// Bucket counts held across `streams`.
    remembered: usize,
}

/// The increase since the last point of a cumulative stream, or `None` when there is nothing to
/// report yet (its first point, unless it started after the extension did).
enum Delta {
    Since(f64, Vec<u64>),
    Nothing,
}

impl Translator {
    pub(crate) fn new(started_ns: u64) -> Self {
        Self {
            streams: HashMap::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x0715),
            started_ns,
            seen: 0,
            refused: 0,
            remembered: 0,
        }
    }

    /// The Datadog points of one request, and how many data points were refused.
    pub(crate) fn map_counted(
        &mut self,
        req: &ExportMetricsServiceRequest,
        cfg: &OtlpConfig,
    ) -> (Vec<Point>, u64) {
        self.refused = 0;
        let points = self.map(req, cfg);
        (points, std::mem::take(&mut self.refused))
    }

    /// The Datadog points of one request.
    pub(crate) fn map(
        &mut self,
        req: &ExportMetricsServiceRequest,
        cfg: &OtlpConfig,
    ) -> Vec<Point> {
        let mut out = Vec::new();
        for rm in &req.resource_metrics {
            let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
            let base = attrs::resource_tags(resource);
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let Some(data) = &m.data else { continue };
                    self.metric(&m.name, data, &base, cfg, &mut out);
                }
            }
        }
        out
    }

    fn metric(
        &mut self,
        name: &str,
        data: &Data,
        base: &[String],
        cfg: &OtlpConfig,
        out: &mut Vec<Point>,
    ) {
        let tags = |a: &[KeyValue]| -> Vec<String> {
            base.iter().cloned().chain(attrs::tags(a)).collect()
        };
        let point = |name: &str, tags: Vec<String>, kind, values, ts| Point {
            name: name.to_string(),
            tags,
            kind,
            values,
            ts,
        };
        match data {
            Data::Gauge(g) => {
                for p in &g.data_points {
                    if let Some(v) = number(p.value.as_ref()) {
                        out.push(point(
                            name,
                            tags(&p.attributes),
                            Kind::Gauge,
                            vec![(v, 1.0)],
                            secs(p.time_unix_nano),
                        ));
                    }
                }
            }
            Data::Sum(s) => {
                let cumulative =
                    s.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                for p in &s.data_points {
                    let Some(v) = number(p.value.as_ref()) else {
                        continue;
                    };
                    let t = tags(&p.attributes);
                    let ts = secs(p.time_unix_nano);
                    if !s.is_monotonic || (cumulative && cfg.cumulative_monotonic_raw) {
                        out.push(point(name, t, Kind::Gauge, vec![(v, 1.0)], ts));
                    } else if !cumulative {
                        out.push(point(name, t, Kind::Count, vec![(v, 1.0)], ts));
                    } else if let Delta::Since(d, _) =
                        self.delta(name, &t, p.start_time_unix_nano, v, &[])
                    {
                        out.push(point(name, t, Kind::Count, vec![(d, 1.0)], ts));
                    }
                }
            }
            Data::Histogram(h) => {
                let cumulative =
                    h.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                for p in &h.data_points {
                    if p.bucket_counts.len() > MAX_BUCKETS {
                        self.refused += 1;
                        continue;
                    }
                    let t = tags(&p.attributes);
                    let (count, counts) = if cumulative {
                        match self.delta(
                            name,
                            &t,
                            p.start_time_unix_nano,
                            p.count as f64,
                            &p.bucket_counts,
                        ) {
                            Delta::Since(c, b) => (c, b),
                            Delta::Nothing => continue,
                        }
                    } else {
                        (p.count as f64, p.bucket_counts.clone())
                    };
                    let values = explicit_values(p, &counts);
                    let agg = Aggregates {
                        count,
                        sum: p.sum.filter(|_| !cumulative),
                        min: p.min.filter(|_| !cumulative),
                        max: p.max.filter(|_| !cumulative),
                    };
                    let bounds = bucket_bounds(p, &counts);
                    self.histogram(
                        name,
                        t,
                        secs(p.time_unix_nano),
                        values,
                        bounds,
                        agg,
                        cfg,
                        out,
                    );
                }
            }
            Data::ExponentialHistogram(h) => {
                let cumulative =
                    h.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                for p in &h.data_points {
                    let flat = exponential_counts(p);
                    if flat.len() > MAX_BUCKETS {
                        self.refused += 1;
                        continue;
                    }
                    let t = tags(&p.attributes);
                    let (count, counts) = if cumulative {
                        match self.delta(name, &t, p.start_time_unix_nano, p.count as f64, &flat) {
                            Delta::Since(c, b) => (c, b),
                            Delta::Nothing => continue,
                        }
                    } else {
                        (p.count as f64, flat)
                    };
                    let values = exponential_values(p, &counts);
                    let agg = Aggregates {
                        count,
                        sum: p.sum.filter(|_| !cumulative),
                        min: p.min.filter(|_| !cumulative),
                        max: p.max.filter(|_| !cumulative),
                    };
                    let ts = secs(p.time_unix_nano);
                    // Exponential buckets are always a distribution (Datadog has no bucket counts
                    // for them).
                    if cfg.histogram_mode != HistogramMode::NoBuckets && !values.is_empty() {
                        out.push(point(name, t.clone(), Kind::Distribution, values, ts));
                    }
                    aggregates(name, &t, ts, &agg, cfg, out);
                }
            }
            Data::Summary(s) => {
                for p in &s.data_points {
                    let t = tags(&p.attributes);
                    let ts = secs(p.time_unix_nano);
                    let count_name = format!("{name}.count");
                    let sum_name = format!("{name}.sum");
                    if let Delta::Since(d, _) =
                        self.delta(&count_name, &t, p.start_time_unix_nano, p.count as f64, &[])
                    {
                        out.push(point(
                            &count_name,
                            t.clone(),
                            Kind::Count,
                            vec![(d, 1.0)],
                            ts,
                        ));
                    }
                    if let Delta::Since(d, _) =
                        self.delta(&sum_name, &t, p.start_time_unix_nano, p.sum, &[])
                    {
                        out.push(point(&sum_name, t.clone(), Kind::Count, vec![(d, 1.0)], ts));
                    }
                    if cfg.summary_quantiles {
                        for q in &p.quantile_values {
                            let mut qt = t.clone();
                            qt.push(format!("quantile:{}", attrs::number(q.quantile)));
                            out.push(point(
                                &format!("{name}.quantile"),
                                qt,
                                Kind::Gauge,
                                vec![(q.value, 1.0)],
                                ts,
                            ));
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn histogram(
        &mut self,
        name: &str,
        tags: Vec<String>,
        ts: i64,
        values: Vec<(f64, f64)>,
        bounds: Vec<(f64, f64, f64)>,
        agg: Aggregates,
        cfg: &OtlpConfig,
        out: &mut Vec<Point>,
    ) {
        match cfg.histogram_mode {
            HistogramMode::Distributions if !values.is_empty() => out.push(Point {
                name: name.to_string(),
                tags: tags.clone(),
                kind: Kind::Distribution,
                values,
                ts,
            }),
            HistogramMode::Counters => {
                for (lower, upper, n) in bounds {
                    let mut t = tags.clone();
                    t.push(format!("lower_bound:{}", bound(lower)));
                    t.push(format!("upper_bound:{}", bound(upper)));
                    out.push(Point {
                        name: format!("{name}.bucket"),
                        tags: t,
                        kind: Kind::Count,
                        values: vec![(n, 1.0)],
                        ts,
                    });
                }
            }
            _ => {}
        }
        aggregates(name, &tags, ts, &agg, cfg, out);
    }

    /// Forgets the least recently seen tenth of the streams at once, so this stays cheap.
    fn forget_oldest_tenth(&mut self) {
        let mut ages: Vec<u64> = self.streams.values().map(|p| p.seen).collect();
        ages.sort_unstable();
        let cut = ages.get(ages.len() / 10).copied().unwrap_or(u64::MAX);
        self.streams.retain(|_, p| p.seen > cut);
        self.remembered = self.streams.values().map(|p| p.buckets.len()).sum();
    }

    /// The increase of a cumulative stream since its previous point; remembers this one.
    fn delta(
        &mut self,
        name: &str,
        tags: &[String],
        start_ns: u64,
        total: f64,
        buckets: &[u64],
    ) -> Delta {
        let mut h = self.hasher.build_hasher();
        name.hash(&mut h);
        tags.hash(&mut h);
        let key = h.finish();
        self.seen += 1;
        let now = Prev {
            start_ns,
            total,
            buckets: buckets.to_vec(),
            seen: self.seen,
        };
        let prev = self.streams.get(&key).cloned();
        if (prev.is_none() && self.streams.len() >= MAX_STREAMS)
            || self.remembered + buckets.len() > MAX_REMEMBERED_BUCKETS
        {
            self.forget_oldest_tenth();
        }
        if let Some(old) = self.streams.insert(key, now) {
            self.remembered -= old.buckets.len();
        }
        self.remembered += buckets.len();
        let fresh = start_ns != 0 && start_ns >= self.started_ns;
        match prev {
            // A new stream that started after the extension: all of it is news.
            None if fresh => Delta::Since(total, buckets.to_vec()),
            None => Delta::Nothing,
            Some(p) => {
                let reset = total < p.total
                    || (start_ns != 0 && p.start_ns != 0 && start_ns != p.start_ns)
                    || p.buckets.len() != buckets.len()
                    || p.buckets.iter().zip(buckets).any(|(a, b)| b < a);
                if reset {
                    if fresh {
                        Delta::Since(total, buckets.to_vec())
                    } else {
                        Delta::Nothing
                    }
                } else {
                    let b = buckets.iter().zip(&p.buckets).map(|(n, o)| n - o).collect();
                    Delta::Since(total - p.total, b)
                }
            }
        }
    }
}

/// A histogram's `.count`, `.sum`, `.min`, `.max` (the latter three only when known for this
/// interval: a delta point's own).
struct Aggregates {
    count: f64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

fn aggregates(
    name: &str,
    tags: &[String],
    ts: i64,
    a: &Aggregates,
    cfg: &OtlpConfig,
    out: &mut Vec<Point>,
) {
    if !cfg.histogram_aggregations {
        return;
    }
    let mut push = |suffix: &str, kind, v: f64| {
        out.push(Point {
            name: format!("{name}.{suffix}"),
            tags: tags.to_vec(),
            kind,
            values: vec![(v, 1.0)],
            ts,
        })
    };
    push("count", Kind::Count, a.count);
    if let Some(s) = a.sum {
        push("sum", Kind::Count, s);
    }
    if let Some(m) = a.min {
        push("min", Kind::Gauge, m);
    }
    if let Some(m) = a.max {
        push("max", Kind::Gauge, m);
    }
}

fn number(v: Option<&number_data_point::Value>) -> Option<f64> {
    match v? {
        number_data_point::Value::AsDouble(d) => Some(*d).filter(|d| d.is_finite()),
        number_data_point::Value::AsInt(i) => Some(*i as f64),
    }
}

fn secs(ns: u64) -> i64 {
    if ns == 0 {
        crate::time::now_ms() / 1000
    } else {
        (ns / 1_000_000_000) as i64
    }
}

fn bound(b: f64) -> String {
    if b.is_infinite() {
        if b > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        attrs::number(b)
    }
}

/// Each explicit bucket as (lower, upper, count).
fn bucket_bounds(p: &HistogramDataPoint, counts: &[u64]) -> Vec<(f64, f64, f64)> {
    counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let lower = i
                .checked_sub(1)
                .and_then(|j| p.explicit_bounds.get(j))
                .copied()
                .unwrap_or(f64::NEG_INFINITY);
            let upper = p.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY);
            (lower, upper, *n as f64)
        })
        .collect()
}

/// Sketch input from explicit buckets: each bucket's count at its midpoint (the open-ended
/// first and last buckets at their one finite bound, clamped by the point's min and max).
fn explicit_values(p: &HistogramDataPoint, counts: &[u64]) -> Vec<(f64, f64)> {
    bucket_bounds(p, counts)
        .into_iter()
        .filter(|(_, _, n)| *n > 0.0)
        .map(|(lower, upper, n)| {
            let v = match (lower.is_finite(), upper.is_finite()) {
                (true, true) => (lower + upper) / 2.0,
                (false, true) => p.min.unwrap_or(upper).min(upper),
                (true, false) => p.max.unwrap_or(lower).max(lower),
                (false, false) => p.sum.map_or(0.0, |s| s / (p.count.max(1) as f64)),
            };
            (v, n)
        })
        .collect()
}

/// Exponential buckets flattened: zero count, then negative buckets, then positive ones.
fn exponential_counts(p: &ExponentialHistogramDataPoint) -> Vec<u64> {
    let mut v = vec![p.zero_count];
    v.extend(
        p.negative
            .iter()
            .flat_map(|b| b.bucket_counts.iter().copied()),
    );
    v.extend(
        p.positive
            .iter()
            .flat_map(|b| b.bucket_counts.iter().copied()),
    );
    v
}

/// Sketch input from exponential buckets (counts as flattened by `exponential_counts`): each
/// bucket at the geometric middle of its bounds, base = 2^(2^-scale).
fn exponential_values(p: &ExponentialHistogramDataPoint, counts: &[u64]) -> Vec<(f64, f64)> {
    let base = 2f64.powf(2f64.powi(-p.scale.clamp(-10, 20)));
    let mut out = Vec::new();
    let mut it = counts.iter().copied();
    if let Some(z) = it.next().filter(|z| *z > 0) {
        out.push((0.0, z as f64));
    }
    let neg = p.negative.as_ref().map_or(0, |b| b.bucket_counts.len());
    let neg_offset = p.negative.as_ref().map_or(0, |b| b.offset);
    let pos_offset = p.positive.as_ref().map_or(0, |b| b.offset);
    for (i, n) in it.enumerate() {
        if n == 0 {
            continue;
        }
        let (offset, idx, sign) = if i < neg {
            (neg_offset, i, -1.0)
        } else {
            (pos_offset, i - neg, 1.0)
        };
        let v = sign * base.powf(f64::from(offset) + idx as f64 + 0.5);
        if v.is_finite() {
            out.push((v, n as f64));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests may index
mod tests;

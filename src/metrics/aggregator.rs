//! Aggregation in 10 s buckets keyed by name + kind + sorted tags: counts summed, gauges
//! last-write-wins, sets count distinct members, histograms/timers reduced to the Agent's
//! default aggregates, distributions into the agent DDSketch. A cap on live contexts with an
//! overflow counter. Pure: the caller supplies the clock. Must not encode or ship.

use super::proto::{Dogsketch, LAMBDA_ORIGIN, MetricPoint, MetricSeries, MetricType, SketchMsg};
use super::sketch::Sketch;
use crate::metrics::parse::{Kind, MetricLine};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

pub const BUCKET_SECS: i64 = 10;
/// Samples kept per histogram context and bucket for median/95th percentile; count, sum,
/// min and max stay exact beyond it.
pub const MAX_SAMPLES: usize = 4096;
/// Tags per line taken into the key without allocating; more is handled, just slower.
const INLINE_TAGS: usize = 32;

/// Hashes a `u64` that is already a hash.
#[derive(Default)]
pub struct IdentityHasher(u64);
impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
type ByHash<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

#[derive(Debug)]
struct Context {
    name: Box<str>,
    tags: Box<[Box<str>]>,
    kind: Kind,
    seen_since_flush: bool,
}

#[derive(Debug)]
enum Value {
    Count(f64),
    Gauge(f64),
    Set(HashSet<u64, BuildHasherDefault<IdentityHasher>>),
    Samples {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
        samples: Vec<(f64, f64)>,
    },
    Sketch(Box<Sketch>),
}

/// What `flush` produced.
#[derive(Debug, Default)]
pub struct Flushed {
    pub series: Vec<MetricSeries>,
    pub sketches: Vec<SketchMsg>,
}

/// The aggregator. Not thread-safe by itself: the owner wraps it in a lock.
pub struct Aggregator {
    contexts: ByHash<Context>,
    buckets: BTreeMap<i64, ByHash<Value>>,
    limit: usize,
    hasher: foldhash::fast::RandomState,
    /// Points refused because the context cap was reached (cumulative).
    pub overflow: u64,
    /// Tags appended to every output (the function's tags).
    common_tags: Vec<String>,
}

impl Aggregator {
    pub fn new(limit: usize, common_tags: Vec<String>) -> Self {
        Self {
            contexts: ByHash::default(),
            buckets: BTreeMap::new(),
            limit,
            hasher: foldhash::fast::RandomState::default(),
            overflow: 0,
            common_tags,
        }
    }

    pub fn live_contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Adds a DogStatsD line (already validated) at `now` (unix seconds). Returns false when
    /// the point was dropped for the context cap.
    pub fn insert(&mut self, m: &MetricLine<'_>, name: &str, now: i64) -> bool {
        let ts = m.timestamp.map_or(now, |t| t.min(now));
        let mut inline: [&str; INLINE_TAGS] = [""; INLINE_TAGS];
        let mut spill: Vec<&str> = Vec::new();
        let mut n = 0;
        for t in m.tags() {
            if n < INLINE_TAGS {
                inline[n] = t;
            } else {
                spill.push(t);
            }
            n += 1;
        }
        let tags: &mut [&str] = if n <= INLINE_TAGS {
            &mut inline[..n]
        } else {
            spill.extend_from_slice(&inline);
            &mut spill[..]
        };
        let Some(key) = self.context(name, tags, m.kind) else {
            return false;
        };
        let weight = 1.0 / m.sample_rate;
        let value = self
            .buckets
            .entry(bucket(ts))
            .or_default()
            .entry(key)
            .or_insert_with(|| empty(m.kind));
        match value {
            Value::Set(members) => {
                for member in m.raw_values() {
                    members.insert(self.hasher.hash_one(member));
                }
            }
            _ => {
                for v in m.numbers() {
                    add(value, v, weight);
                }
            }
        }
        true
    }

    /// Adds one point of `kind` (enhanced and internal metrics).
    pub fn insert_value(
        &mut self,
        name: &str,
        tags: &mut [&str],
        kind: Kind,
        v: f64,
        ts: i64,
    ) -> bool {
        let Some(key) = self.context(name, tags, kind) else {
            return false;
        };
        let value = self
            .buckets
            .entry(bucket(ts))
            .or_default()
            .entry(key)
            .or_insert_with(|| empty(kind));
        add(value, v, 1.0);
        true
    }

    /// The context's key, created if new and under the cap. Sorts and dedups `tags` in place.
    fn context(&mut self, name: &str, tags: &mut [&str], kind: Kind) -> Option<u64> {
        tags.sort_unstable();
        let mut h = self.hasher.build_hasher();
        name.hash(&mut h);
        kind.hash(&mut h);
        let mut prev: Option<&str> = None;
        for t in tags.iter() {
            if prev != Some(*t) {
                t.hash(&mut h);
            }
            prev = Some(t);
        }
        let mut key = h.finish();
        // Resolve the (astronomically rare) hash collision by probing.
        loop {
            match self.contexts.get_mut(&key) {
                Some(c) if c.kind == kind && *c.name == *name && same_tags(&c.tags, tags) => {
                    c.seen_since_flush = true;
                    return Some(key);
                }
                Some(_) => key = key.wrapping_add(0x9E37_79B9_7F4A_7C15),
                None => break,
            }
        }
        if self.contexts.len() >= self.limit {
            self.overflow += 1;
            return None;
        }
        let mut owned: Vec<Box<str>> = Vec::with_capacity(tags.len());
        for t in tags.iter() {
            if owned.last().is_none_or(|l| **l != **t) {
                owned.push((*t).into());
            }
        }
        self.contexts.insert(
            key,
            Context {
                name: name.into(),
                tags: owned.into_boxed_slice(),
                kind,
                seen_since_flush: true,
            },
        );
        Some(key)
    }

    /// Takes every bucket (including the open one: Lambda may freeze right after a flush) and
    /// forgets contexts that saw no point since the previous flush.
    pub fn flush(&mut self) -> Flushed {
        let mut out = Flushed::default();
        let buckets = std::mem::take(&mut self.buckets);
        for (ts, values) in buckets {
            for (key, value) in values {
                let Some(ctx) = self.contexts.get(&key) else {
                    continue;
                };
                self.emit(&mut out, ctx, ts, value);
            }
        }
        self.contexts
            .retain(|_, c| std::mem::replace(&mut c.seen_since_flush, false));
        out
    }

    fn tags_of(&self, ctx: &Context) -> Vec<String> {
        ctx.tags
            .iter()
            .map(|t| t.to_string())
            .chain(self.common_tags.iter().cloned())
            .collect()
    }

    fn emit(&self, out: &mut Flushed, ctx: &Context, ts: i64, value: Value) {
        let series = |name: String, kind: MetricType, v: f64, interval: i64| MetricSeries {
            metric: name,
            tags: self.tags_of(ctx),
            points: vec![MetricPoint {
                value: v,
                timestamp: ts,
            }],
            r#type: kind as i32,
            interval,
            metadata: Some(LAMBDA_ORIGIN),
            ..Default::default()
        };
        match value {
            Value::Count(c) => out.series.push(series(
                ctx.name.to_string(),
                MetricType::Count,
                c,
                BUCKET_SECS,
            )),
            Value::Gauge(g) => {
                out.series
                    .push(series(ctx.name.to_string(), MetricType::Gauge, g, 0))
            }
            Value::Set(members) => out.series.push(series(
                ctx.name.to_string(),
                MetricType::Gauge,
                members.len() as f64,
                0,
            )),
            Value::Samples {
                count,
                sum,
                min: _,
                max,
                mut samples,
            } => {
                samples.sort_by(|a, b| a.0.total_cmp(&b.0));
                let name = &ctx.name;
                out.series
                    .push(series(format!("{name}.max"), MetricType::Gauge, max, 0));
                out.series.push(series(
                    format!("{name}.median"),
                    MetricType::Gauge,
                    percentile(&samples, 0.5),
                    0,
                ));
                out.series.push(series(
                    format!("{name}.avg"),
                    MetricType::Gauge,
                    sum / count,
                    0,
                ));
                out.series.push(series(
                    format!("{name}.count"),
                    MetricType::Rate,
                    count / BUCKET_SECS as f64,
                    BUCKET_SECS,
                ));
                out.series.push(series(
                    format!("{name}.95percentile"),
                    MetricType::Gauge,
                    percentile(&samples, 0.95),
                    0,
                ));
            }
            Value::Sketch(s) => out.sketches.push(SketchMsg {
                metric: ctx.name.to_string(),
                host: String::new(),
                tags: self.tags_of(ctx),
                dogsketches: vec![Dogsketch {
                    ts,
                    cnt: s.count() as i64,
                    min: s.min(),
                    max: s.max(),
                    avg: s.avg(),
                    sum: s.sum(),
                    k: s.bins().iter().map(|(k, _)| *k).collect(),
                    n: s.bins().iter().map(|(_, n)| u32::from(*n)).collect(),
                }],
                metadata: Some(LAMBDA_ORIGIN),
            }),
        }
    }
}

fn same_tags(stored: &[Box<str>], sorted: &[&str]) -> bool {
    let mut it = stored.iter();
    let mut prev: Option<&str> = None;
    for t in sorted {
        if prev == Some(*t) {
            continue;
        }
        prev = Some(t);
        match it.next() {
            Some(s) if **s == **t => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

fn bucket(ts: i64) -> i64 {
    ts - ts.rem_euclid(BUCKET_SECS)
}

fn empty(kind: Kind) -> Value {
    match kind {
        Kind::Count => Value::Count(0.0),
        Kind::Gauge => Value::Gauge(0.0),
        Kind::Set => Value::Set(HashSet::default()),
        Kind::Timer | Kind::Histogram => Value::Samples {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            samples: Vec::new(),
        },
        Kind::Distribution => Value::Sketch(Box::default()),
    }
}

fn add(value: &mut Value, v: f64, weight: f64) {
    match value {
        Value::Count(c) => *c += v * weight,
        Value::Gauge(g) => *g = v,
        Value::Set(_) => {}
        Value::Samples {
            count,
            sum,
            min,
            max,
            samples,
        } => {
            *count += weight;
            *sum += v * weight;
            *min = min.min(v);
            *max = max.max(v);
            if samples.len() < MAX_SAMPLES {
                samples.push((v, weight));
            }
        }
        Value::Sketch(s) => s.insert_n(v, weight.round().max(1.0) as u64),
    }
}

/// Weighted nearest-rank percentile of sorted samples.
fn percentile(sorted: &[(f64, f64)], p: f64) -> f64 {
    let total: f64 = sorted.iter().map(|(_, w)| w).sum();
    let target = p * total;
    let mut cumulative = 0.0;
    for (v, w) in sorted {
        cumulative += w;
        if cumulative >= target {
            return *v;
        }
    }
    sorted.last().map_or(0.0, |(v, _)| *v)
}

#[cfg(test)]
mod tests;

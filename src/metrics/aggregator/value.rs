//! One context's value in one bucket and the arithmetic on it: what each metric type keeps,
//! how a point is added (scaled by its sample rate, refused when not finite, charged to the
//! memory budget), and the weighted percentile of histogram samples. Pure.

use super::{
    BUCKET_SECS, ByHash, IdentityHasher, MAX_SAMPLES, MEMBER_COST, Refused, VALUE_OVERHEAD,
};
use crate::metrics::parse::Kind;
use crate::metrics::sketch::Sketch;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasherDefault;

// Boxed variants keep every bucket slot at 16 bytes: a flood of contexts is mostly slots.
#[derive(Debug)]
pub(super) enum Value {
    Count(f64),
    Gauge(f64),
    #[expect(
        clippy::box_collection,
        reason = "a set's table header would make every slot 40 bytes; sets are rare"
    )]
    Set(Box<HashSet<u64, BuildHasherDefault<IdentityHasher>>>),
    Samples(Box<Samples>),
    Sketch(Box<Sketch>),
}

/// A histogram's or timer's points in one bucket.
#[derive(Debug)]
pub(super) struct Samples {
    pub(super) count: f64,
    pub(super) sum: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) samples: Vec<(f64, f64)>,
}

pub(super) fn bucket(ts: i64) -> i64 {
    ts - ts.rem_euclid(BUCKET_SECS)
}

pub(super) fn empty(kind: Kind) -> Value {
    match kind {
        Kind::Count => Value::Count(0.0),
        Kind::Gauge => Value::Gauge(0.0),
        Kind::Set => Value::Set(Box::default()),
        Kind::Timer | Kind::Histogram => Value::Samples(Box::new(Samples {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            samples: Vec::new(),
        })),
        Kind::Distribution => Value::Sketch(Box::default()),
    }
}

/// The value of `key` in `ts`'s bucket, created (and charged to `bytes`) if new and within
/// `budget`.
pub(super) fn value_slot<'a>(
    buckets: &'a mut BTreeMap<i64, ByHash<Value>>,
    bytes: &mut usize,
    budget: usize,
    ts: i64,
    key: u64,
    kind: Kind,
) -> Result<&'a mut Value, Refused> {
    let values = buckets.entry(bucket(ts)).or_default();
    if !values.contains_key(&key) {
        if *bytes + VALUE_OVERHEAD > budget {
            return Err(Refused::ValueCap);
        }
        *bytes += VALUE_OVERHEAD;
    }
    Ok(values.entry(key).or_insert_with(|| empty(kind)))
}

/// Adds `v` with `weight`; returns the heap bytes the value grew by (at most `room`). A point
/// whose scaled contribution is not finite is refused and leaves the value as it was.
pub(super) fn add(value: &mut Value, v: f64, weight: f64, room: usize) -> Result<usize, Refused> {
    let scaled = v * weight;
    if !scaled.is_finite() {
        return Err(Refused::Invalid);
    }
    match value {
        Value::Count(c) => {
            let next = *c + scaled;
            if !next.is_finite() {
                return Err(Refused::Invalid);
            }
            *c = next;
        }
        Value::Gauge(g) => *g = v,
        Value::Set(_) => {}
        Value::Samples(s) => {
            let next = s.sum + scaled;
            if !next.is_finite() {
                return Err(Refused::Invalid);
            }
            s.count += weight;
            s.sum = next;
            s.min = s.min.min(v);
            s.max = s.max.max(v);
            // Count, sum, min and max stay exact; percentiles use the samples kept.
            if s.samples.len() < MAX_SAMPLES && room >= MEMBER_COST {
                s.samples.push((v, weight));
                return Ok(MEMBER_COST);
            }
        }
        Value::Sketch(s) => {
            if !(s.sum() + scaled).is_finite() {
                return Err(Refused::Invalid);
            }
            let bins = s.bins().len();
            s.insert_n(v, weight.round().max(1.0) as u64);
            return Ok(s.bins().len().saturating_sub(bins) * 8);
        }
    }
    Ok(0)
}

/// Weighted nearest-rank percentile of sorted samples.
pub(super) fn percentile(sorted: &[(f64, f64)], p: f64) -> f64 {
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

//! Aggregation in 10 s buckets keyed by name + kind + sorted tags: counts summed, gauges
//! last-write-wins, sets count distinct members, histograms/timers reduced to the Agent's
//! default aggregates, distributions into the agent DDSketch. Bounded twice: a cap on live custom
//! contexts, and a budget of (estimated) heap bytes that every context, bucket value, set member
//! and sample is charged to. Enhanced and internal metrics have capacity of their own that custom
//! metrics cannot take. Pure: the caller supplies the clock. Must not encode or ship.

use crate::metrics::parse::{Kind, MetricLine};
use crate::metrics::proto::{CUSTOM_ORIGIN, origin_for};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

mod flushed;
mod value;
use flushed::excluded;
pub use flushed::{Collected, Flushed, Item};
use value::{Value, add, value_slot};

pub const BUCKET_SECS: i64 = 10;
/// Samples kept per histogram context and bucket for median/95th percentile; count, sum,
/// min and max stay exact beyond it.
pub const MAX_SAMPLES: usize = 4096;
/// Tags per line taken into the key without allocating; more is handled, just slower.
const INLINE_TAGS: usize = 32;
/// Contexts kept for the extension's own metrics (enhanced, internal), whatever custom
/// metrics do: about 30 enhanced metrics, a few tag variants each.
pub const RESERVED_CONTEXTS: usize = 1_000;
/// Heaviest sample weight (1 / sample rate) a distribution point may carry: a sketch's bins
/// hold u16 counts, so a weight of 1e300 would mean 1e295 bins.
const MAX_SKETCH_WEIGHT: f64 = 1e6;
/// Estimated heap cost of a context beyond its strings, of a bucket value, and of one set
/// member or histogram sample (hash map entries and their load factor included).
const CONTEXT_OVERHEAD: usize = 128;
const VALUE_OVERHEAD: usize = 80;
const MEMBER_COST: usize = 16;

/// Why a point was not aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A new context over the context cap or the memory budget.
    ContextCap,
    /// A value that is not finite once scaled by its sample rate (or a weight a sketch cannot
    /// hold).
    Invalid,
    /// A new bucket value, set member or sample over the memory budget.
    ValueCap,
}

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
pub(super) type ByHash<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// What names a context: shared with the flushes that emit its values.
#[derive(Debug)]
struct Ident {
    name: Box<str>,
    tags: Box<[Box<str>]>,
    kind: Kind,
}

#[derive(Debug)]
struct Context {
    ident: Arc<Ident>,
    seen_since_flush: bool,
    /// An enhanced or internal metric's context (from the reserved capacity).
    reserved: bool,
}

impl Context {
    fn cost(&self) -> usize {
        CONTEXT_OVERHEAD
            + self.ident.name.len()
            + self.ident.tags.iter().map(|t| t.len() + 16).sum::<usize>()
    }
}

/// The aggregator. Not thread-safe by itself: the owner wraps it in a lock.
pub struct Aggregator {
    contexts: ByHash<Context>,
    buckets: BTreeMap<i64, ByHash<Value>>,
    limit: usize,
    /// Custom (non-reserved) live contexts.
    custom: usize,
    reserved: usize,
    /// Estimated heap bytes held, and the most allowed for custom metrics.
    bytes: usize,
    budget: usize,
    hasher: foldhash::fast::RandomState,
    /// Points refused because the context cap was reached (cumulative).
    pub overflow: u64,
    /// Tags appended to every output (the function's tags).
    common_tags: Arc<[String]>,
    /// Tag names left off custom metrics at flush.
    custom_exclude: Arc<[String]>,
}

impl Aggregator {
    pub fn new(limit: usize, budget: usize, common_tags: Vec<String>) -> Self {
        Self {
            contexts: ByHash::default(),
            buckets: BTreeMap::new(),
            limit,
            custom: 0,
            reserved: 0,
            bytes: 0,
            budget,
            hasher: foldhash::fast::RandomState::default(),
            overflow: 0,
            common_tags: common_tags.into(),
            custom_exclude: Arc::new([]),
        }
    }

    pub fn live_contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Estimated heap bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Tag names (`DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS`) to leave off custom metrics: their
    /// own tags and the function's alike. Enhanced metrics keep every tag.
    pub fn exclude_from_custom(mut self, names: Vec<String>) -> Self {
        self.custom_exclude = names.into();
        self
    }

    /// Changes the most custom metrics may hold (the process's memory budget moves).
    pub fn set_budget(&mut self, bytes: usize) {
        self.budget = bytes;
    }

    /// Adds a DogStatsD line (already validated) at `now` (unix seconds).
    pub fn insert(&mut self, m: &MetricLine<'_>, name: &str, now: i64) -> Result<(), Refused> {
        let ts = m.timestamp.map_or(now, |t| t.min(now));
        let mut inline: [&str; INLINE_TAGS] = [""; INLINE_TAGS];
        let mut spill: Vec<&str> = Vec::new();
        let mut n = 0;
        // Excluded names go before the context key, so lines differing only by them aggregate
        // together (the function's tags are left off at flush).
        let exclude = if !self.custom_exclude.is_empty() && origin_for(name) == CUSTOM_ORIGIN {
            &self.custom_exclude[..]
        } else {
            &[]
        };
        for t in m.tags().filter(|t| !excluded(exclude, t)) {
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
        let weight = 1.0 / m.sample_rate;
        if !weight.is_finite()
            || (m.kind == Kind::Distribution && weight > MAX_SKETCH_WEIGHT)
            || m.numbers().any(|v| !(v * weight).is_finite())
        {
            return Err(Refused::Invalid);
        }
        let key = self.context(name, tags, m.kind, false)?;
        let budget = self.budget;
        let mut bytes = self.bytes;
        let value = value_slot(&mut self.buckets, &mut bytes, budget, ts, key, m.kind)?;
        let mut outcome = Ok(());
        match value {
            Value::Set(members) => {
                for member in m.raw_values() {
                    let h = self.hasher.hash_one(member);
                    if members.contains(&h) {
                        continue;
                    }
                    if bytes + MEMBER_COST > budget {
                        outcome = Err(Refused::ValueCap);
                        break;
                    }
                    bytes += MEMBER_COST;
                    members.insert(h);
                }
            }
            _ => {
                for v in m.numbers() {
                    match add(value, v, weight, budget.saturating_sub(bytes)) {
                        Ok(grown) => bytes += grown,
                        Err(r) => outcome = Err(r),
                    }
                }
            }
        }
        self.bytes = bytes;
        outcome
    }

    /// Adds values with their weights to one custom context (OTLP points: a histogram's
    /// buckets are one call), under the custom caps like DogStatsD lines.
    pub fn insert_weighted(
        &mut self,
        name: &str,
        tags: &mut [&str],
        kind: Kind,
        points: &[(f64, f64)],
        ts: i64,
    ) -> Result<(), Refused> {
        // A sketch holds a heavy point as bins of at most 65,535: the same weight bound as a
        // DogStatsD sample rate keeps a forged bucket count from growing it without end.
        let too_heavy = |w: f64| kind == Kind::Distribution && w > MAX_SKETCH_WEIGHT;
        if points
            .iter()
            .any(|(v, w)| !(v * w).is_finite() || *w <= 0.0 || too_heavy(*w))
        {
            return Err(Refused::Invalid);
        }
        let key = self.context(name, tags, kind, false)?;
        let budget = self.budget;
        let mut bytes = self.bytes;
        let value = value_slot(&mut self.buckets, &mut bytes, budget, ts, key, kind)?;
        let mut outcome = Ok(());
        for (v, w) in points {
            match add(value, *v, *w, budget.saturating_sub(bytes)) {
                Ok(grown) => bytes += grown,
                Err(r) => outcome = Err(r),
            }
        }
        self.bytes = bytes;
        outcome
    }

    /// Adds one point of `kind` (enhanced and internal metrics).
    pub fn insert_value(
        &mut self,
        name: &str,
        tags: &mut [&str],
        kind: Kind,
        v: f64,
        ts: i64,
    ) -> Result<(), Refused> {
        let key = self.context(name, tags, kind, true)?;
        // The extension's own points are few: they are charged but never refused for memory.
        let mut bytes = self.bytes;
        let value = value_slot(&mut self.buckets, &mut bytes, usize::MAX, ts, key, kind)?;
        let grown = add(value, v, 1.0, usize::MAX)?;
        self.bytes = bytes + grown;
        Ok(())
    }

    /// The context's key, created if new and under its cap (`reserved`: the extension's own
    /// capacity). Sorts and dedups `tags` in place.
    fn context(
        &mut self,
        name: &str,
        tags: &mut [&str],
        kind: Kind,
        reserved: bool,
    ) -> Result<u64, Refused> {
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
                Some(c)
                    if c.ident.kind == kind
                        && *c.ident.name == *name
                        && same_tags(&c.ident.tags, tags) =>
                {
                    c.seen_since_flush = true;
                    return Ok(key);
                }
                Some(_) => key = key.wrapping_add(0x9E37_79B9_7F4A_7C15),
                None => break,
            }
        }
        let cost = CONTEXT_OVERHEAD + name.len() + tags.iter().map(|t| t.len() + 16).sum::<usize>();
        let full = if reserved {
            self.reserved >= RESERVED_CONTEXTS
        } else {
            self.custom >= self.limit || self.bytes + cost > self.budget
        };
        if full {
            self.overflow += 1;
            return Err(Refused::ContextCap);
        }
        let mut owned: Vec<Box<str>> = Vec::with_capacity(tags.len());
        for t in tags.iter() {
            if owned.last().is_none_or(|l| **l != **t) {
                owned.push((*t).into());
            }
        }
        let ctx = Context {
            ident: Arc::new(Ident {
                name: name.into(),
                tags: owned.into_boxed_slice(),
                kind,
            }),
            seen_since_flush: true,
            reserved,
        };
        self.bytes += ctx.cost();
        if reserved {
            self.reserved += 1;
        } else {
            self.custom += 1;
        }
        self.contexts.insert(key, ctx);
        Ok(key)
    }

    /// Takes every bucket (including the open one: Lambda may freeze right after a flush) and
    /// forgets contexts that saw no point since the previous flush.
    /// Cheap: values move out and contexts are shared, so the caller can emit and encode
    /// outside the owner's lock, one item at a time.
    pub fn flush(&mut self) -> Flushed {
        let buckets = std::mem::take(&mut self.buckets);
        // The buckets move out whole; only a pointer per context is added.
        let mut idents: ByHash<Arc<Ident>> = ByHash::default();
        for bucket in buckets.values() {
            for key in bucket.keys() {
                if let Some(ctx) = self.contexts.get(key) {
                    idents.entry(*key).or_insert_with(|| ctx.ident.clone());
                }
            }
        }
        let out = Flushed {
            buckets,
            idents,
            common_tags: self.common_tags.clone(),
            custom_exclude: self.custom_exclude.clone(),
        };
        self.contexts
            .retain(|_, c| std::mem::replace(&mut c.seen_since_flush, false));
        self.recount();
        out
    }

    /// Recounts contexts and bytes after a flush emptied the buckets.
    fn recount(&mut self) {
        self.reserved = self.contexts.values().filter(|c| c.reserved).count();
        self.custom = self.contexts.len() - self.reserved;
        self.bytes = self.contexts.values().map(Context::cost).sum();
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

#[cfg(test)]
mod tests;

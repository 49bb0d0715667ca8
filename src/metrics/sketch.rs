//! The Datadog Agent's DDSketch (PROTOCOLS.md §4): relative accuracy 1/128
//! (γ = 1 + 1/64), minimum indexable value 1e-9, key(v) = round-half-even(ln v / ln γ) + 1338,
//! negatives mirrored, tiny values at key 0, u16 bin counts (a full bin spills into another bin
//! with the same key), at most 4,096 bins (the lowest are collapsed). Keys must match the
//! Agent's exactly: the backend rebuilds quantiles from them.

const GAMMA: f64 = 1.0 + 1.0 / 64.0;
const MIN_VALUE: f64 = 1e-9;
const BIAS: i32 = 1338;
const MAX_KEY: i32 = i16::MAX as i32;
pub(crate) const BIN_LIMIT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Sketch {
    /// Sorted by key; several bins may share a key when one overflowed u16.
    bins: Vec<(i32, u16)>,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

/// The key of a value.
pub(crate) fn key(v: f64) -> i32 {
    let a = v.abs();
    if a < MIN_VALUE || !v.is_finite() {
        return 0;
    }
    let k = ((a.ln() / GAMMA.ln()).round_ties_even() as i32 + BIAS).clamp(1, MAX_KEY);
    if v < 0.0 { -k } else { k }
}

#[cfg(test)] // used by the property tests only
/// The representative value of a key (within 1/128 of every value mapped to it).
pub(crate) fn value(key: i32) -> f64 {
    match key {
        0 => 0.0,
        k if k > 0 => GAMMA.powi(k - BIAS),
        k => -GAMMA.powi(-k - BIAS),
    }
}

impl Sketch {
    #[cfg(test)] // used by the property tests only
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `v` with weight `n` (≥ 1; 1/sample rate, rounded).
    pub(crate) fn insert_n(&mut self, v: f64, n: u64) {
        if !v.is_finite() || n == 0 {
            return;
        }
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += n;
        self.sum += v * n as f64;
        self.add_to_key(key(v), n);
        self.collapse();
    }

    #[cfg(test)] // used by the property tests only
    pub(crate) fn insert(&mut self, v: f64) {
        self.insert_n(v, 1);
    }

    #[cfg(test)] // used by the property tests only
    /// Merges another sketch in (associative and commutative up to bin order).
    pub(crate) fn merge(&mut self, other: &Sketch) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count += other.count;
        self.sum += other.sum;
        for &(k, n) in &other.bins {
            self.add_to_key(k, u64::from(n));
        }
        self.collapse();
    }

    fn add_to_key(&mut self, k: i32, mut n: u64) {
        let mut i = self.bins.partition_point(|(bk, _)| *bk < k);
        while i < self.bins.len() && self.bins[i].0 == k && n > 0 {
            let room = u64::from(u16::MAX - self.bins[i].1);
            let add = room.min(n);
            self.bins[i].1 += add as u16;
            n -= add;
            i += 1;
        }
        while n > 0 {
            let add = n.min(u64::from(u16::MAX));
            self.bins.insert(i, (k, add as u16));
            n -= add;
            i += 1;
        }
    }

    /// Over the bin limit, the lowest bins are folded into the lowest bin that stays.
    fn collapse(&mut self) {
        if self.bins.len() <= BIN_LIMIT {
            return;
        }
        let excess = self.bins.len() - BIN_LIMIT + 1;
        let folded: u64 = self.bins[..excess].iter().map(|(_, n)| u64::from(*n)).sum();
        let target = self.bins[excess - 1].0;
        self.bins.drain(..excess);
        self.add_to_key(target, folded);
        // Spilling may have re-grown past the limit only when bins were saturated; fold again.
        if self.bins.len() > BIN_LIMIT {
            self.collapse();
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }
    pub(crate) fn min(&self) -> f64 {
        self.min
    }
    pub(crate) fn max(&self) -> f64 {
        self.max
    }
    pub(crate) fn sum(&self) -> f64 {
        self.sum
    }
    pub(crate) fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
    pub(crate) fn bins(&self) -> &[(i32, u16)] {
        &self.bins
    }

    #[cfg(test)] // used by the property tests only
    /// The q-quantile (0 ≤ q ≤ 1), by rank q·(count−1), within 1% relative error.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        if q == 0.0 {
            return Some(self.min);
        }
        if q == 1.0 {
            return Some(self.max);
        }
        let rank = q * (self.count - 1) as f64;
        let mut cumulative = 0u64;
        for &(k, n) in &self.bins {
            cumulative += u64::from(n);
            if cumulative as f64 > rank {
                return Some(value(k).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests;

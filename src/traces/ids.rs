//! Span and trace ids for the spans the extension builds.

use std::sync::atomic::{AtomicU64, Ordering};

/// Random non-zero 63-bit span and trace ids (splitmix64 over an OS-seeded start: sandboxes
/// that start in the same millisecond with the same pid must not share ids).
pub(crate) struct SpanIds(AtomicU64);

impl Default for SpanIds {
    fn default() -> Self {
        Self(AtomicU64::new(os_seed()))
    }
}

impl SpanIds {
    pub(crate) fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 1).max(1)
    }
}

/// 64 bits from the OS's random source: std's `RandomState` keys come from it (getrandom).
fn os_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(crate::time::now_ms())
}

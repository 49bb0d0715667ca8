//! The shared retry policy: which answers are worth retrying and how long to wait. Pure.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Delivered,
    /// Worth another try (408, 429, 5xx, network errors).
    Retry,
    /// The intake refused the payload for good (other 4xx).
    Final,
}

pub(crate) fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Final,
    }
}

/// Wait before retry number `attempt` (1-based). The first retry is immediate: the usual
/// cause is a pooled connection that died while the environment was frozen.
pub(crate) fn backoff(attempt: u32) -> Duration {
    match attempt {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(50u64.saturating_mul(1 << (n - 2).min(5)))
            .min(Duration::from_secs(1)),
    }
}

/// Tries per payload within one flush.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(202), Verdict::Delivered);
        for s in [408, 429, 500, 503] {
            assert_eq!(classify(s), Verdict::Retry);
        }
        for s in [400, 401, 403, 413] {
            assert_eq!(classify(s), Verdict::Final);
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let waits: Vec<u128> = (1..=9).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(waits, [0, 50, 100, 200, 400, 800, 1000, 1000, 1000]);
    }
}

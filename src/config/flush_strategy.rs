//! The `DD_SERVERLESS_FLUSH_STRATEGY` grammar. Owns parsing only; when to flush is decided by
//! the on-demand flush planner and the Managed Instance ticker.

use std::time::Duration;

/// Shortest accepted interval: anything faster would spend the function's CPU on HTTP.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest accepted interval: Lambda's maximum invocation time.
pub const MAX_INTERVAL: Duration = Duration::from_secs(900);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushStrategy {
    /// Unset or `default`: Datadog's adaptive behaviour.
    Default,
    /// `end`: flush after every invocation.
    End,
    /// `end,<ms>`: flush after an invocation if at least this long since the last flush.
    EndPeriodically(Duration),
    /// `periodically,<ms>`: blocking flush at invocation start when due.
    Periodically(Duration),
    /// `continuously,<ms>`: non-blocking background flush when due.
    Continuously(Duration),
}

/// Parses a strategy. `Err` carries what was expected, for the caller's single warning.
pub fn parse(value: &str) -> Result<FlushStrategy, String> {
    let v = value.trim().to_ascii_lowercase();
    let (kind, interval) = match v.split_once(',') {
        Some((k, i)) => (k.trim(), Some(i.trim())),
        None => (v.as_str(), None),
    };
    let expected = || {
        format!(
            "`default`, `end`, `end,<ms>`, `periodically,<ms>` or `continuously,<ms>` with <ms> from {} to {}",
            MIN_INTERVAL.as_millis(),
            MAX_INTERVAL.as_millis()
        )
    };
    let ms = |i: Option<&str>| -> Result<Duration, String> {
        let n: u64 = i.and_then(|i| i.parse().ok()).ok_or_else(expected)?;
        let d = Duration::from_millis(n);
        if (MIN_INTERVAL..=MAX_INTERVAL).contains(&d) {
            Ok(d)
        } else {
            Err(expected())
        }
    };
    match (kind, interval) {
        ("default", None) | ("", None) => Ok(FlushStrategy::Default),
        ("end", None) => Ok(FlushStrategy::End),
        ("end", i) => Ok(FlushStrategy::EndPeriodically(ms(i)?)),
        ("periodically", i) => Ok(FlushStrategy::Periodically(ms(i)?)),
        ("continuously", i) => Ok(FlushStrategy::Continuously(ms(i)?)),
        _ => Err(expected()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(parse("default"), Ok(FlushStrategy::Default));
        assert_eq!(parse(" END "), Ok(FlushStrategy::End));
        assert_eq!(
            parse("end,5000"),
            Ok(FlushStrategy::EndPeriodically(Duration::from_secs(5)))
        );
        assert_eq!(
            parse("periodically,60000"),
            Ok(FlushStrategy::Periodically(Duration::from_secs(60)))
        );
        assert_eq!(
            parse("continuously, 1000"),
            Ok(FlushStrategy::Continuously(Duration::from_secs(1)))
        );
    }

    #[test]
    fn rejects_zero_absurd_and_malformed() {
        for bad in [
            "continuously,0",
            "periodically,5",
            "end,999999999",
            "periodically",
            "continuously,abc",
            "sometimes",
            "end,-1",
            "periodically,1e3",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}

//! The on-demand flush planner: a pure, clock-injected decision of when to flush, from the
//! configured strategy and the history of invocation start times. Implements `end`, `end,N`,
//! `periodically,N`, `continuously,N` and Datadog's adaptive default. Must not sleep or do I/O.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tandem::config::FlushStrategy;

/// Invocations the adaptive strategy looks at.
pub const WINDOW: usize = 20;
/// Mean gap under which traffic counts as frequent.
pub const FREQUENT_MEAN_GAP: Duration = Duration::from_secs(120);
/// Flush interval once traffic is frequent.
pub const ADAPTIVE_INTERVAL: Duration = Duration::from_secs(20);
/// A flush during an invocation that runs this long, whatever the strategy.
pub const SAFETY_INTERVAL: Duration = Duration::from_secs(60);

/// What to do when an invocation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtStart {
    Nothing,
    /// Flush before letting the invocation go on (the function runs meanwhile; we block only
    /// our own `/next`).
    FlushBlocking,
    /// Start a flush that runs while the function does.
    FlushInBackground,
}

/// The plan in force, derived from the strategy and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Flush after each invocation's response (optionally only if this long since the last).
    AtEnd { min_gap: Option<Duration> },
    /// Flush at invocation start when `interval` has passed since the last flush.
    Periodic { interval: Duration, blocking: bool },
}

#[derive(Debug, Clone)]
pub struct FlushPlanner {
    strategy: FlushStrategy,
    flush_timeout: Duration,
    starts: VecDeque<Instant>,
    created: Instant,
    last_flush: Option<Instant>,
}

impl FlushPlanner {
    pub fn new(strategy: FlushStrategy, flush_timeout: Duration, now: Instant) -> Self {
        Self {
            strategy,
            flush_timeout,
            starts: VecDeque::with_capacity(WINDOW),
            created: now,
            last_flush: None,
        }
    }

    /// The plan in force now.
    pub fn plan(&self) -> Plan {
        match self.strategy {
            FlushStrategy::End => Plan::AtEnd { min_gap: None },
            FlushStrategy::EndPeriodically(gap) => Plan::AtEnd { min_gap: Some(gap) },
            FlushStrategy::Periodically(interval) => Plan::Periodic {
                interval,
                blocking: true,
            },
            FlushStrategy::Continuously(interval) => Plan::Periodic {
                interval,
                blocking: false,
            },
            FlushStrategy::Default => self.adaptive(),
        }
    }

    fn adaptive(&self) -> Plan {
        let (Some(first), Some(last)) = (self.starts.front(), self.starts.back()) else {
            return Plan::AtEnd { min_gap: None };
        };
        if self.starts.len() < WINDOW {
            return Plan::AtEnd { min_gap: None };
        }
        let span = last.saturating_duration_since(*first);
        let mean_gap = span / (WINDOW as u32 - 1);
        if mean_gap >= FREQUENT_MEAN_GAP {
            return Plan::AtEnd { min_gap: None };
        }
        Plan::Periodic {
            interval: ADAPTIVE_INTERVAL,
            blocking: span > self.flush_timeout,
        }
    }

    /// Records an invocation start and says what to do now.
    pub fn on_invocation_start(&mut self, now: Instant) -> AtStart {
        if self.starts.len() == WINDOW {
            self.starts.pop_front();
        }
        self.starts.push_back(now);
        match self.plan() {
            Plan::AtEnd { .. } => AtStart::Nothing,
            Plan::Periodic { interval, blocking } => {
                let since = now.saturating_duration_since(self.last_flush.unwrap_or(self.created));
                match (since >= interval, blocking) {
                    (false, _) => AtStart::Nothing,
                    (true, true) => AtStart::FlushBlocking,
                    (true, false) => AtStart::FlushInBackground,
                }
            }
        }
    }

    /// Whether the end of the current invocation may flush (so it is worth waiting for the
    /// invocation's runtimeDone before calling `/next`).
    pub fn may_flush_at_end(&self) -> bool {
        matches!(self.plan(), Plan::AtEnd { .. })
    }

    /// Decision at the end of an invocation (after its runtimeDone).
    pub fn flush_at_end(&self, now: Instant) -> bool {
        match self.plan() {
            Plan::AtEnd { min_gap: None } => true,
            Plan::AtEnd { min_gap: Some(gap) } => self
                .last_flush
                .is_none_or(|l| now.saturating_duration_since(l) >= gap),
            Plan::Periodic { .. } => false,
        }
    }

    pub fn record_flush(&mut self, now: Instant) {
        self.last_flush = Some(now);
    }
}

#[cfg(test)]
mod tests;

//! The traffic one on-demand environment saw, kept by the controller (start times, and the
//! runtime's duration when the controller waited for it), and what `tandem-tune` would
//! recommend for it — logged at SHUTDOWN (debug level) and shown by `tandem local`. Bounded:
//! the latest `MAX_ARRIVALS` invocations.

use super::model::{self, Params};
use super::report::{self, Pricing, Recommendation};
use super::workload::{Arrival, Workload};
use std::collections::VecDeque;
use std::time::Instant;

const MAX_ARRIVALS: usize = 10_000;
/// The duration assumed when the controller did not wait for the runtime (periodic plans).
const ASSUMED_DURATION_MS: f64 = 100.0;

#[derive(Debug)]
pub struct Traffic {
    base: Instant,
    arrivals: VecDeque<Arrival>,
}

impl Traffic {
    pub fn new(base: Instant) -> Self {
        Self {
            base,
            arrivals: VecDeque::new(),
        }
    }

    fn ms(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.base).as_secs_f64() * 1000.0
    }

    /// An invocation started at `now`.
    pub fn started(&mut self, now: Instant) {
        if self.arrivals.len() == MAX_ARRIVALS {
            self.arrivals.pop_front();
        }
        let at_ms = self.ms(now);
        self.arrivals.push_back(Arrival {
            at_ms,
            duration_ms: ASSUMED_DURATION_MS,
            environment: Some(0),
        });
    }

    /// The latest invocation's runtime ended at `now` (its response was sent).
    pub fn ended(&mut self, now: Instant) {
        let end = self.ms(now);
        if let Some(a) = self.arrivals.back_mut() {
            a.duration_ms = (end - a.at_ms).max(0.0);
        }
    }

    pub fn len(&self) -> usize {
        self.arrivals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arrivals.is_empty()
    }

    /// One line: the traffic seen and the strategy `tandem-tune` would recommend for it.
    pub fn advice(&self, memory_mb: f64, params: &Params) -> Option<String> {
        let w = Workload {
            arrivals: self.arrivals.iter().cloned().collect(),
            ..Workload::default()
        };
        let w = w.normalised();
        self.arrivals.front()?;
        let span_s = w.span_s();
        let rec = recommend(&w, memory_mb, params);
        let mean_gap = match w.arrivals.len() {
            0 | 1 => String::new(),
            n => match span_s / (n - 1) as f64 {
                g if g < 1.0 => format!(", a call every {:.0} ms", g * 1000.0),
                g => format!(", a call every {g:.1} s"),
            },
        };
        Some(format!(
            "traffic seen: {} invocations over {:.0} s{mean_gap}; for this environment's traffic `tandem-tune` would recommend DD_SERVERLESS_FLUSH_STRATEGY={} ({})",
            w.arrivals.len(),
            span_s,
            rec.strategy,
            rec.why
        ))
    }
}

/// The recommendation for `w` with the default pricing and limit.
pub fn recommend(w: &Workload, memory_mb: f64, params: &Params) -> Recommendation {
    let pricing = Pricing {
        memory_mb,
        price_gb_s: if cfg!(target_arch = "aarch64") {
            report::PRICE_ARM64
        } else {
            report::PRICE_X86
        },
        max_delay_s: 60.0,
    };
    let rows: Vec<report::Row> = report::candidates()
        .into_iter()
        .map(|(name, s)| report::row(&name, &model::run(w, s, params), w.arrivals.len(), &pricing))
        .collect();
    report::recommend(&rows, pricing.max_delay_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frequent_traffic_is_advised_a_background_strategy_and_rare_traffic_the_end() {
        let base = Instant::now();
        let mut busy = Traffic::new(base);
        // An hour at 2 per second: the data left for the final SHUTDOWN is under 1%.
        for n in 0..7_200u64 {
            let t = base + Duration::from_millis(500 * n);
            busy.started(t);
            busy.ended(t + Duration::from_millis(40));
        }
        let line = busy.advice(1024.0, &Params::default()).unwrap();
        assert!(
            line.starts_with("traffic seen: 7200 invocations over 3600 s, a call every 500 ms"),
            "{line}"
        );
        assert!(line.contains("=continuously,"), "{line}");
        let mut rare = Traffic::new(base);
        for n in 0..3u64 {
            rare.started(base + Duration::from_secs(900 * n));
        }
        let line = rare.advice(1024.0, &Params::default()).unwrap();
        assert!(
            line.contains("=default") || line.contains("=end "),
            "{line}"
        );
        assert!(
            Traffic::new(base)
                .advice(1024.0, &Params::default())
                .is_none()
        );
    }
}

//! The reporter: what the extension says about its own work — the internal counters (published
//! at each flush, shipped as `tandem.*` only when asked), the debug line of each flush, the
//! running totals, and the shutdown summary with every drop counted. Must not ship or decide.

use super::Agent;
use crate::intake::{FlushReport, SignalReport};
use crate::sync::lock;

impl Agent {
    /// Publishes the pipelines' own totals to the counters registry, and — when the user
    /// opted in — adds every counter as a `tandem.*` gauge to this flush.
    pub(super) fn publish_counters(&self) {
        let c = &self.inner.metrics.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("tandem.dogstatsd.packets").absolute(load(&c.packets));
        metrics::counter!("tandem.dogstatsd.lines").absolute(load(&c.lines));
        metrics::counter!("tandem.dogstatsd.parse_errors").absolute(load(&c.parse_errors));
        metrics::counter!("tandem.dogstatsd.context_overflow").absolute(load(&c.context_overflow));
        metrics::counter!("tandem.dogstatsd.events_dropped").absolute(load(&c.events_dropped));
        metrics::gauge!("tandem.dogstatsd.contexts").set(self.inner.metrics.live_contexts() as f64);
        let l = &self.inner.logs.counters;
        metrics::counter!("tandem.logs.accepted").absolute(load(&l.accepted));
        metrics::counter!("tandem.logs.excluded").absolute(load(&l.excluded_by_rules));
        metrics::counter!("tandem.logs.truncated").absolute(load(&l.truncated));
        // The drop ledger's counters (`tandem.<signal>.dropped{reason:…}`) kept as atomics on
        // the hot paths.
        let dropped = |signal: &str, reason: &'static str, n: u64| {
            metrics::counter!(format!("tandem.{signal}.dropped"), "reason" => reason).absolute(n);
        };
        dropped("metrics", "context_cap", load(&c.context_overflow));
        dropped("metrics", "invalid", load(&c.parse_errors));
        dropped("metrics", "events_cap", load(&c.events_dropped));
        dropped("metrics", "value_cap", load(&c.values_dropped));
        if let Some(t) = &self.inner.traces {
            let t = &t.counters;
            dropped("traces", "buffer_full", load(&t.spans_dropped_buffer_full));
            dropped("traces", "invalid", load(&t.traces_rejected));
            metrics::counter!("tandem.traces.filtered").absolute(load(&t.traces_filtered));
            dropped("traces", "over_budget", load(&t.requests_over_budget));
        }
        if self.inner.config.internal_metrics {
            let now = crate::time::now_ms() / 1000;
            for (name, value) in crate::counters::snapshot() {
                let (base, tags) = match name.split_once('{') {
                    Some((b, rest)) => (
                        b.to_string(),
                        rest.trim_end_matches('}')
                            .split(',')
                            .map(str::to_string)
                            .collect(),
                    ),
                    None => (name, Vec::new()),
                };
                self.inner.metrics.gauge(&base, &tags, value, now);
            }
        }
    }

    /// The debug lines, counters and running totals of one flush.
    pub(super) fn record_flush(&self, report: &FlushReport) {
        if report.traces != SignalReport::default() {
            crate::log_debug!(
                "flush: traces sent={} requests={} retried={} requeued={} dropped={}",
                report.traces.sent,
                report.traces.requests,
                report.traces.retried,
                report.traces.requeued,
                report.traces.dropped
            );
        }
        if report.metrics != SignalReport::default() {
            crate::log_debug!(
                "flush: metrics sent={} requests={} retried={} requeued={} dropped={}",
                report.metrics.sent,
                report.metrics.requests,
                report.metrics.retried,
                report.metrics.requeued,
                report.metrics.dropped
            );
        }
        if report.logs != SignalReport::default() {
            metrics::counter!("tandem.logs.sent").increment(report.logs.sent);
            crate::log_debug!(
                "flush: logs sent={} requests={} retried={} requeued={} dropped={} in {:?}",
                report.logs.sent,
                report.logs.requests,
                report.logs.retried,
                report.logs.requeued,
                report.logs.dropped,
                report.elapsed
            );
        }
        for (signal, r) in [
            ("logs", &report.logs),
            ("metrics", &report.metrics),
            ("traces", &report.traces),
        ] {
            if r.dropped > 0 {
                metrics::counter!(format!("tandem.{signal}.dropped"), "reason" => "delivery")
                    .increment(r.dropped);
            }
        }
        for line in lock(&self.inner.drops).since_last(&crate::counters::snapshot()) {
            crate::log_warn!("{line}");
        }
        let payloads = |f: fn(&SignalReport) -> u64| f(&report.logs) + f(&report.metrics);
        metrics::counter!("tandem.flushes").increment(1);
        metrics::counter!("tandem.intake.payloads_sent").increment(payloads(|r| r.requests));
        metrics::counter!("tandem.intake.retries").increment(payloads(|r| r.retried));
        metrics::counter!("tandem.intake.items_dropped").increment(payloads(|r| r.dropped));
        metrics::gauge!("tandem.flush.last_ms").set(report.elapsed.as_secs_f64() * 1000.0);
        crate::log_debug!("counters: {}", crate::counters::summary());
        // Two reads of /proc: only when someone reads the debug log.
        if crate::diag::enabled(crate::level::LogLevel::Debug) {
            let budget = crate::memory::Budget::global();
            crate::log_debug!(
                "memory: {} KiB of data buffered ({} KiB free in TANDEM_MEMORY_BYTES); RSS {} KiB, peak {} KiB",
                budget.used() / 1024,
                budget.free() / 1024,
                crate::memory::rss_kib().unwrap_or(0),
                crate::memory::peak_rss_kib().unwrap_or(0)
            );
        }
        let mut totals = lock(&self.inner.totals);
        totals.logs.merge(report.logs.clone());
        totals.metrics.merge(report.metrics.clone());
        totals.traces.merge(report.traces.clone());
        totals.elapsed += report.elapsed;
    }

    /// The shutdown summary: every drop, per signal and cause, and the counters.
    pub(super) fn report_shutdown(&self, report: &FlushReport) {
        let totals = self.totals();
        if report.traces.dropped > 0 {
            crate::log_error!(
                "shutdown: {} spans could not be delivered and were dropped ({})",
                report.traces.dropped,
                report
                    .traces
                    .last_error
                    .as_deref()
                    .unwrap_or("unknown reason")
            );
        }
        if report.metrics.dropped > 0 {
            crate::log_error!(
                "shutdown: {} metric items could not be delivered and were dropped ({})",
                report.metrics.dropped,
                report
                    .metrics
                    .last_error
                    .as_deref()
                    .unwrap_or("unknown reason")
            );
        }
        if report.logs.dropped > 0 {
            crate::log_error!(
                "shutdown: {} log entries could not be delivered and were dropped ({}); {} delivered in total",
                report.logs.dropped,
                report
                    .logs
                    .last_error
                    .as_deref()
                    .unwrap_or("unknown reason"),
                totals.logs.sent
            );
        } else {
            crate::log_debug!(
                "shutdown: final flush delivered {} log entries; {} in total",
                report.logs.sent,
                totals.logs.sent
            );
        }
        if let Some(line) = super::drops::totals(&crate::counters::snapshot()) {
            crate::log_warn!("{line}");
        }
        if let Some(kib) = crate::memory::peak_rss_kib() {
            crate::log_info!("shutdown: peak memory {kib} KiB (VmHWM)");
        }
        crate::log_info!("counters: {}", crate::counters::summary());
    }
}

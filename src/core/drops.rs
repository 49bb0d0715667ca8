//! The drop ledger: every loss anywhere in the extension is a counter named
//! `tandem.<signal>.dropped{reason:<cause>}` (the pipelines, listeners and shipper count them).
//! This module turns those counters into what a user reads: one WARN line per signal and cause
//! at the flush where the drops happened, and one line of totals at shutdown. Pure: it reads a
//! counters snapshot; it must not count anything itself.

use std::collections::BTreeMap;

/// Whether the shipper already warned about these drops with the intake's error, at the flush.
fn warned_by_the_shipper(signal: &str, reason: &str) -> bool {
    reason == "delivery" && matches!(signal, "logs" | "metrics" | "traces")
}

/// What one drop counter means: the unit counted and why the items were dropped.
fn describe(signal: &str, reason: &str) -> (&'static str, &'static str) {
    match (signal, reason) {
        ("traces", "buffer_full") => (
            "spans",
            "the trace buffer was full (TANDEM_TRACES_BUFFER_BYTES)",
        ),
        ("traces", "invalid") => ("traces", "they were invalid"),
        ("traces", "over_budget") => (
            "tracer requests",
            "tracer payloads in flight exceeded their memory budget (answered 429)",
        ),
        ("metrics", "context_cap") => (
            "points",
            "the context cap was reached (TANDEM_METRICS_CONTEXT_LIMIT, or the memory budget TANDEM_METRICS_MEMORY_BYTES)",
        ),
        ("metrics", "invalid") => ("lines", "they were not valid DogStatsD"),
        ("metrics", "events_cap") => (
            "events and service checks",
            "too many waited for the next flush",
        ),
        ("metrics", "shutdown") => (
            "lines",
            "they were still queued in the kernel when SHUTDOWN stopped DogStatsD",
        ),
        ("metrics", "value_cap") => (
            "values",
            "one context held too many set members or past timestamps",
        ),
        ("logs", "buffer_full") => ("entries", "the buffer was full (TANDEM_LOGS_BUFFER_BYTES)"),
        ("logs", "platform") => ("records", "Lambda dropped them before delivering them"),
        ("apm_proxy", "busy") => ("requests", "every delivery slot stayed busy"),
        ("apm_proxy", "shutdown") => ("requests", "they were still in flight at shutdown"),
        ("apm_proxy", "over_budget") => (
            "requests",
            "their bodies did not fit the memory budget (answered 429)",
        ),
        ("otlp", "invalid") => ("requests", "they were not valid OTLP (answered 400)"),
        ("otlp", "invalid_ids") => (
            "spans",
            "their trace or span ids were not 16 and 8 bytes (a partial success)",
        ),
        ("otlp", "too_many_buckets") => ("histogram points", "they had over 2,048 buckets"),
        ("otlp", "too_large") => ("requests", "their bodies were over 16 MiB (answered 413)"),
        ("otlp", "over_budget") => (
            "requests",
            "OTLP bodies in flight exceeded their memory budget (answered 429)",
        ),
        ("otlp", "traces_disabled") => ("spans", "DD_OTLP_CONFIG_TRACES_ENABLED is false"),
        ("otlp", "metrics_disabled") => ("resources", "DD_OTLP_CONFIG_METRICS_ENABLED is false"),
        ("otlp", "logs_disabled") => ("records", "DD_OTLP_CONFIG_LOGS_ENABLED is not true"),
        (_, "delivery") => ("items", "they could not be delivered"),
        _ => ("items", "of an unnamed cause"),
    }
}

/// `tandem.logs.dropped{reason:buffer_full}` → `("logs", "buffer_full")`.
fn parse(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("tandem.")?;
    let (signal, rest) = rest.split_once(".dropped{reason:")?;
    Some((signal, rest.strip_suffix('}')?))
}

/// What has been reported so far, per drop counter.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    reported: BTreeMap<String, u64>,
}

impl Ledger {
    /// The WARN lines for the drops counted since the previous call.
    pub(super) fn since_last(&mut self, snapshot: &[(String, f64)]) -> Vec<String> {
        let mut lines = Vec::new();
        for (name, value) in snapshot {
            let Some((signal, reason)) = parse(name) else {
                continue;
            };
            let total = *value as u64;
            let before = self.reported.insert(name.clone(), total).unwrap_or(0);
            let new = total.saturating_sub(before);
            if new == 0 || warned_by_the_shipper(signal, reason) {
                continue;
            }
            let (unit, why) = describe(signal, reason);
            lines.push(format!(
                "{signal}: {new} {unit} were dropped because {why}; {total} since start"
            ));
        }
        lines
    }
}

/// The shutdown line: every drop since start, per signal and cause; `None` when nothing was lost.
pub(super) fn totals(snapshot: &[(String, f64)]) -> Option<String> {
    let mut per_signal: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, value) in snapshot {
        let Some((signal, reason)) = parse(name) else {
            continue;
        };
        let (unit, _) = describe(signal, reason);
        per_signal
            .entry(signal)
            .or_default()
            .push(format!("{reason}={} {unit}", *value as u64));
    }
    if per_signal.is_empty() {
        return None;
    }
    let parts: Vec<String> = per_signal
        .into_iter()
        .map(|(signal, causes)| format!("{signal} [{}]", causes.join(", ")))
        .collect();
    Some(format!(
        "shutdown: dropped since start: {}",
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(items: &[(&str, f64)]) -> Vec<(String, f64)> {
        items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn each_flush_reports_only_the_new_drops_and_shutdown_reports_all() {
        let mut ledger = Ledger::default();
        let first = snap(&[
            ("tandem.traces.dropped{reason:buffer_full}", 420_000.0),
            ("tandem.logs.dropped{reason:delivery}", 3.0),
            ("tandem.dogstatsd.packets", 9.0),
        ]);
        assert_eq!(
            ledger.since_last(&first),
            vec![
                "traces: 420000 spans were dropped because the trace buffer was full (TANDEM_TRACES_BUFFER_BYTES); 420000 since start"
            ]
        );
        assert!(ledger.since_last(&first).is_empty(), "nothing new");
        let second = snap(&[
            ("tandem.logs.dropped{reason:buffer_full}", 5.0),
            ("tandem.logs.dropped{reason:delivery}", 3.0),
            ("tandem.traces.dropped{reason:buffer_full}", 420_010.0),
        ]);
        let lines = ledger.since_last(&second);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("logs: 5 entries were dropped because the buffer was full"));
        assert!(lines[1].starts_with("traces: 10 spans were dropped"));
        assert_eq!(
            totals(&second).as_deref(),
            Some(
                "shutdown: dropped since start: logs [buffer_full=5 entries, delivery=3 items]; traces [buffer_full=420010 spans]"
            )
        );
        assert_eq!(totals(&snap(&[("tandem.flushes", 2.0)])), None);
    }
}

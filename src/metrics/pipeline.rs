//! The metrics pipeline: DogStatsD packets and enhanced-metric points in, aggregated series,
//! sketches, events and service checks out. Owns the aggregator lock and the bounded
//! event/check queues, and counts every packet, parse error and drop.

use super::aggregator::{Aggregator, Flushed, Refused};
use crate::config::Config;
use crate::memory::Budget;
use crate::metrics::parse::{self, Event, Kind, Parsed, ServiceCheck};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Events and service checks kept between flushes.
pub const MAX_EVENTS: usize = 1_000;
/// Libraries send this; the extension computes it itself from telemetry.
const LIBRARY_INVOCATIONS: &str = "aws.lambda.enhanced.invocations";

#[derive(Debug, Default)]
pub struct MetricCounters {
    pub packets: AtomicU64,
    pub lines: AtomicU64,
    pub parse_errors: AtomicU64,
    pub context_overflow: AtomicU64,
    pub events_dropped: AtomicU64,
    /// Set members and past-timestamp values refused for a context's own cap.
    pub values_dropped: AtomicU64,
}

/// Everything a flush takes.
#[derive(Debug, Default)]
pub struct MetricsBatch {
    pub flushed: Flushed,
    pub events: Vec<Value>,
    pub checks: Vec<Value>,
}

pub struct MetricsPipeline {
    aggregator: Mutex<Aggregator>,
    events: Mutex<(Vec<Value>, Vec<Value>)>,
    namespace: Option<String>,
    common_tags: Vec<String>,
    /// `TANDEM_METRICS_MEMORY_BYTES`: the most custom metrics hold, budget permitting.
    budget: usize,
    pub counters: MetricCounters,
}

impl MetricsPipeline {
    pub fn new(config: &Config, common_tags: Vec<String>) -> Self {
        Self {
            aggregator: Mutex::new(
                Aggregator::new(
                    config.metrics_context_limit,
                    config.metrics_memory_bytes,
                    common_tags.clone(),
                )
                .exclude_from_custom(config.custom_metrics_exclude_tags.clone()),
            ),
            events: Mutex::new((Vec::new(), Vec::new())),
            namespace: config.statsd_metric_namespace.clone(),
            budget: config.metrics_memory_bytes,
            common_tags,
            counters: MetricCounters::default(),
        }
    }

    /// Ingests one datagram received at `now` (unix seconds).
    pub fn ingest_packet(&self, packet: &[u8], now: i64) {
        self.counters.packets.fetch_add(1, Ordering::Relaxed);
        let mut agg = crate::sync::lock(&self.aggregator);
        // Custom metrics get what is left of the process's budget, within their own.
        let held = agg.bytes();
        agg.set_budget(
            self.budget
                .min(held.saturating_add(Budget::global().free())),
        );
        let mut lines = 0;
        let mut errors = 0;
        let mut overflow = 0;
        let mut values_dropped = 0;
        let mut name_buf = String::new();
        for line in parse::byte_lines(packet) {
            lines += 1;
            // One bad byte spoils its line only.
            let Ok(line) = line else {
                errors += 1;
                continue;
            };
            match parse::parse_line(line) {
                Ok(Parsed::Metric(m)) => {
                    if m.name == LIBRARY_INVOCATIONS {
                        continue;
                    }
                    let name = match &self.namespace {
                        Some(ns) => {
                            name_buf.clear();
                            name_buf.push_str(ns);
                            name_buf.push_str(m.name);
                            name_buf.as_str()
                        }
                        None => m.name,
                    };
                    match agg.insert(&m, name, now) {
                        Ok(()) => {}
                        Err(Refused::ContextCap) => overflow += 1,
                        Err(Refused::Invalid) => errors += 1,
                        Err(Refused::ValueCap) => values_dropped += 1,
                    }
                }
                Ok(Parsed::Event(e)) => self.push_event(Some(self.event_json(&e, now)), None),
                Ok(Parsed::ServiceCheck(sc)) => {
                    self.push_event(None, Some(self.check_json(&sc, now)))
                }
                Err(_) => errors += 1,
            }
        }
        Budget::global().account(held, agg.bytes());
        drop(agg);
        self.counters.lines.fetch_add(lines, Ordering::Relaxed);
        if errors > 0 {
            self.counters
                .parse_errors
                .fetch_add(errors, Ordering::Relaxed);
        }
        if overflow > 0 {
            self.counters
                .context_overflow
                .fetch_add(overflow, Ordering::Relaxed);
        }
        if values_dropped > 0 {
            self.counters
                .values_dropped
                .fetch_add(values_dropped, Ordering::Relaxed);
        }
    }

    /// Adds OTLP points of one custom context (value, weight), within the custom metrics'
    /// caps; refusals are counted like DogStatsD's. `ts` in unix seconds.
    pub fn insert_weighted(
        &self,
        name: &str,
        tags: &[String],
        kind: Kind,
        points: &[(f64, f64)],
        ts: i64,
    ) {
        let mut refs: Vec<&str> = tags.iter().map(String::as_str).collect();
        let mut agg = crate::sync::lock(&self.aggregator);
        let held = agg.bytes();
        agg.set_budget(
            self.budget
                .min(held.saturating_add(Budget::global().free())),
        );
        let inserted = agg.insert_weighted(name, &mut refs, kind, points, ts);
        Budget::global().account(held, agg.bytes());
        drop(agg);
        self.counters.lines.fetch_add(1, Ordering::Relaxed);
        self.count_refusal(inserted);
    }

    /// Adds one enhanced-metric distribution point.
    pub fn distribution(&self, name: &str, tags: &[String], value: f64, ts: i64) {
        self.value(name, tags, Kind::Distribution, value, ts);
    }

    /// Adds one gauge point (internal metrics).
    pub fn gauge(&self, name: &str, tags: &[String], value: f64, ts: i64) {
        self.value(name, tags, Kind::Gauge, value, ts);
    }

    fn value(&self, name: &str, tags: &[String], kind: Kind, value: f64, ts: i64) {
        let mut refs: Vec<&str> = tags.iter().map(String::as_str).collect();
        let mut agg = crate::sync::lock(&self.aggregator);
        let held = agg.bytes();
        let inserted = agg.insert_value(name, &mut refs, kind, value, ts);
        Budget::global().account(held, agg.bytes());
        drop(agg);
        self.count_refusal(inserted);
    }

    /// Counts a point the aggregator refused, under its cause.
    fn count_refusal(&self, inserted: Result<(), Refused>) {
        let counter = match inserted {
            Ok(()) => return,
            Err(Refused::ContextCap) => &self.counters.context_overflow,
            Err(Refused::Invalid) => &self.counters.parse_errors,
            Err(Refused::ValueCap) => &self.counters.values_dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn live_contexts(&self) -> usize {
        crate::sync::lock(&self.aggregator).live_contexts()
    }

    /// Takes everything aggregated so far.
    pub fn take(&self) -> MetricsBatch {
        let flushed = {
            let mut agg = crate::sync::lock(&self.aggregator);
            let held = agg.bytes();
            let flushed = agg.flush();
            Budget::global().account(held, agg.bytes());
            flushed
        };
        let (events, checks) = std::mem::take(&mut *crate::sync::lock(&self.events));
        MetricsBatch {
            flushed,
            events,
            checks,
        }
    }

    fn push_event(&self, event: Option<Value>, check: Option<Value>) {
        let mut q = crate::sync::lock(&self.events);
        if q.0.len() + q.1.len() >= MAX_EVENTS {
            self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.0.extend(event);
        q.1.extend(check);
    }

    fn tags(&self, raw: &str) -> Vec<String> {
        parse::split_tags(raw)
            .map(str::to_string)
            .chain(self.common_tags.iter().cloned())
            .collect()
    }

    fn event_json(&self, e: &Event<'_>, now: i64) -> Value {
        let mut v = json!({
            "title": e.title,
            "text": e.text,
            "date_happened": e.timestamp.unwrap_or(now),
            "tags": self.tags(e.tags),
            "priority": e.priority.unwrap_or("normal"),
            "alert_type": e.alert_type.unwrap_or("info"),
        });
        for (k, val) in [
            ("host", e.hostname),
            ("aggregation_key", e.aggregation_key),
            ("source_type_name", e.source_type),
        ] {
            if let Some(val) = val {
                v[k] = json!(val);
            }
        }
        v
    }

    fn check_json(&self, sc: &ServiceCheck<'_>, now: i64) -> Value {
        json!({
            "check": sc.name,
            "host_name": sc.hostname.unwrap_or(""),
            "status": sc.status,
            "timestamp": sc.timestamp.unwrap_or(now),
            "message": sc.message.as_deref().unwrap_or(""),
            "tags": self.tags(sc.tags),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Source;
    use std::collections::HashMap;

    /// Issue 11, row 7: one bad byte costs its line, never the datagram.
    #[test]
    fn an_invalid_utf8_line_spoils_only_itself() {
        let (config, _) = Config::load(&Source::from_maps(HashMap::new(), HashMap::new()));
        let p = MetricsPipeline::new(&config, vec![]);
        p.ingest_packet(b"a:1|c\nb\xff:1|c\nc:2|c\n", 1_700_000_000);
        let batch = p.take();
        let series = batch.flushed.collect().series;
        let names: Vec<&str> = series.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"a") && names.contains(&"c"));
        assert_eq!(p.counters.parse_errors.load(Ordering::Relaxed), 1);
        assert_eq!(p.counters.lines.load(Ordering::Relaxed), 3);
    }
}

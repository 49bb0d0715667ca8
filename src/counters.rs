//! Internal counters: a minimal recorder for the `metrics` facade, so every
//! `metrics::counter!` in the crate lands somewhere readable — the debug log after each flush,
//! the shutdown summary (and so `tandem-local`), and, only when the user opts in
//! (`TANDEM_INTERNAL_METRICS=true`), Datadog itself. Hot paths keep their own atomics and
//! publish totals here at flush time instead of calling the facade per packet.

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Default)]
struct Registry {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

struct Handle;

fn name(key: &Key) -> String {
    let mut s = key.name().to_string();
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}:{}", l.key(), l.value()))
        .collect();
    if !labels.is_empty() {
        s.push('{');
        s.push_str(&labels.join(","));
        s.push('}');
    }
    s
}

fn slot(map: &Mutex<BTreeMap<String, Arc<AtomicU64>>>, key: &Key) -> Arc<AtomicU64> {
    crate::sync::lock(map).entry(name(key)).or_default().clone()
}

impl Recorder for Handle {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match REGISTRY.get() {
            Some(r) => Counter::from_arc(slot(&r.counters, key)),
            None => Counter::noop(),
        }
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        match REGISTRY.get() {
            Some(r) => Gauge::from_arc(slot(&r.gauges, key)),
            None => Gauge::noop(),
        }
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// Installs the recorder (once per process; later calls are no-ops).
pub fn install() {
    if REGISTRY.set(Registry::default()).is_ok() {
        let _ = metrics::set_global_recorder(Handle);
    }
}

/// Every counter and gauge, by name (`name{label:value}`), non-zero only.
pub fn snapshot() -> Vec<(String, f64)> {
    let Some(r) = REGISTRY.get() else {
        return Vec::new();
    };
    let mut out: Vec<(String, f64)> = Vec::new();
    for (k, v) in crate::sync::lock(&r.counters).iter() {
        out.push((k.clone(), v.load(Ordering::Relaxed) as f64));
    }
    for (k, v) in crate::sync::lock(&r.gauges).iter() {
        out.push((k.clone(), f64::from_bits(v.load(Ordering::Relaxed))));
    }
    out.retain(|(_, v)| *v != 0.0);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One line for the log: `a=1 b=2`.
pub fn summary() -> String {
    snapshot()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

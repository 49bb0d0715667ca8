//! Enhanced Lambda metrics (PROTOCOLS.md §7) computed from Telemetry API events: a pure state
//! machine keyed by request id, so concurrent Managed Instance invocations are attributed to
//! the right request. Produces distribution points; the pipeline aggregates them. On-demand
//! reports carry billing and memory; Managed Instance reports carry the duration only, so
//! billing/memory metrics are emitted only when the report has them.

use crate::lambda::events::{InvocationRecord, LogBody, TelemetryEvent, Timed};
use std::collections::{HashMap, HashSet, VecDeque};

pub(crate) const PREFIX: &str = "aws.lambda.enhanced.";
/// Per-request state kept at most for this many invocations (oldest forgotten first).
const MAX_REQUESTS: usize = 10_000;
const REQUEST_PRICE_USD: f64 = 0.000_000_2;

/// One point to add, as a distribution. `name` lacks the `aws.lambda.enhanced.` prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub name: &'static str,
    pub value: f64,
    /// Unix seconds.
    pub ts: i64,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, Clone)]
struct RequestState {
    cold_start: bool,
    /// Lambda initialised the environment ahead of demand (its first invocation came more than
    /// 10 s after init started): not a cold start, tagged `proactive_initialization:true`.
    proactive: bool,
    runtime_done_ms: Option<f64>,
    runtime_done_seen: bool,
    oom_counted: bool,
}

#[derive(Debug)]
pub(crate) struct Enhanced {
    enabled: bool,
    /// GB-second price for this architecture.
    gb_second_usd: f64,
    cold_start_pending: bool,
    /// When `platform.initStart` came (epoch ms), to tell a proactive init from a cold start.
    init_start_ms: Option<i64>,
    /// `cold_start:` tags at all (Managed Instances have none, as with Datadog's extension).
    cold_tags: bool,
    /// The latest invocation's tags (cold start, proactive init), for the points that follow
    /// it: on-demand `/proc` usage, shutdowns.
    latest_tags: Vec<String>,
    /// `platform.initStart` named a durable function's runtime: `durable_function:true`.
    durable: bool,
    invocations_seen: u64,
    requests: HashMap<String, RequestState>,
    order: VecDeque<String>,
    oom_done: HashSet<String>,
}

/// A first invocation later than this after init started means Lambda initialised ahead of
/// demand (Datadog's extension uses the same bound).
const PROACTIVE_INIT_MS: i64 = 10_000;

/// Substrings runtimes print when they run out of memory.
const OOM_MARKERS: &[&str] = &[
    "fatal error: runtime: out of memory",
    "JavaScript heap out of memory",
    "java.lang.OutOfMemoryError",
    "MemoryError",
    "failed to allocate memory (NoMemoryError)",
    "System.OutOfMemoryException",
    "Runtime exited with error: signal: killed",
];

impl Enhanced {
    pub(crate) fn new(enabled: bool, arm64: bool) -> Self {
        Self {
            enabled,
            gb_second_usd: if arm64 {
                0.000_013_333_4
            } else {
                0.000_016_666_7
            },
            cold_start_pending: true,
            init_start_ms: None,
            cold_tags: true,
            latest_tags: Vec::new(),
            durable: false,
            invocations_seen: 0,
            requests: HashMap::new(),
            order: VecDeque::new(),
            oom_done: HashSet::new(),
        }
    }

    /// Managed Instance mode: no `cold_start` tags (Datadog's extension has none there).
    pub(crate) fn without_cold_start_tags(mut self) -> Self {
        self.cold_tags = false;
        self
    }

    fn cold_tag(&self, cold: bool) -> Vec<String> {
        let mut tags = Vec::new();
        if self.cold_tags {
            tags.push(format!("cold_start:{cold}"));
        }
        if self.durable {
            tags.push("durable_function:true".into());
        }
        tags
    }

    /// The tags of a request's points: its cold start, and a proactive initialisation.
    fn request_tags(&mut self, request_id: &str) -> Vec<String> {
        let st = self.state(request_id);
        let (cold, proactive) = (st.cold_start, st.proactive);
        let mut tags = self.cold_tag(cold);
        if proactive && self.cold_tags {
            tags.push("proactive_initialization:true".into());
        }
        tags
    }

    /// The tags of the latest invocation (on-demand: the one running), for the points measured
    /// about it elsewhere (`/proc` usage).
    pub(crate) fn latest_tags(&self) -> &[String] {
        &self.latest_tags
    }

    /// Points for one telemetry event. `current_request` is the stream-order invocation
    /// (on-demand attribution of log lines); `None` in Managed Instance mode.
    pub(crate) fn on_event(&mut self, ev: &Timed, current_request: Option<&str>) -> Vec<Point> {
        if !self.enabled {
            return Vec::new();
        }
        let ts = ev.time_ms.div_euclid(1000);
        let mut out = Vec::new();
        match &ev.event {
            TelemetryEvent::InitReport(r) => {
                if let Some(ms) = r.metrics.duration_ms {
                    // The init belongs to the cold start.
                    out.push(point("init_duration", ms / 1000.0, ts, self.cold_tag(true)));
                }
            }
            // A restored SnapStart environment's first invocation is its cold start.
            TelemetryEvent::RestoreStart(_) => self.cold_start_pending = true,
            TelemetryEvent::RestoreReport(r) => {
                if let Some(ms) = r.metrics.duration_ms {
                    out.push(point("snapstart_restore_duration", ms / 1000.0, ts, vec![]));
                }
            }
            TelemetryEvent::InitStart(r) => {
                self.init_start_ms = Some(ev.time_ms);
                self.durable = r
                    .runtime_version
                    .as_deref()
                    .is_some_and(crate::durable::is_durable_runtime);
            }
            TelemetryEvent::Start(r) => {
                let proactive = self.cold_start_pending
                    && self
                        .init_start_ms
                        .is_some_and(|t| ev.time_ms.saturating_sub(t) > PROACTIVE_INIT_MS);
                let st = self.state(&r.request_id);
                if proactive && st.cold_start {
                    st.cold_start = false;
                    st.proactive = true;
                }
                self.invocations_seen += 1;
                let tags = self.request_tags(&r.request_id);
                self.latest_tags.clone_from(&tags);
                out.push(point("invocations", 1.0, ts, tags));
            }
            TelemetryEvent::RuntimeDone(r) => {
                let tags = self.request_tags(&r.request_id);
                let st = self.state(&r.request_id);
                st.runtime_done_seen = true;
                st.runtime_done_ms = r.metrics.duration_ms;
                if let Some(ms) = r.metrics.duration_ms {
                    out.push(point("runtime_duration", ms, ts, tags.clone()));
                }
                if let Some(b) = r.metrics.produced_bytes {
                    out.push(point("produced_bytes", b, ts, tags.clone()));
                }
                spans(r, ts, &tags, &mut out);
                self.outcome(r, ts, &tags, &mut out);
            }
            TelemetryEvent::Report(r) => {
                let tags = self.request_tags(&r.request_id);
                let st = self.state(&r.request_id).clone();
                let m = &r.metrics;
                if let Some(ms) = m.duration_ms {
                    out.push(point("duration", ms / 1000.0, ts, tags.clone()));
                    if let Some(rt) = st.runtime_done_ms {
                        out.push(point(
                            "post_runtime_duration",
                            (ms - rt).max(0.0),
                            ts,
                            tags.clone(),
                        ));
                    }
                }
                if let Some(b) = m.billed_duration_ms {
                    out.push(point("billed_duration", b / 1000.0, ts, tags.clone()));
                    if let Some(mem) = m.memory_size_mb {
                        let cost =
                            REQUEST_PRICE_USD + (b / 1000.0) * (mem / 1024.0) * self.gb_second_usd;
                        out.push(point("estimated_cost", cost, ts, tags.clone()));
                    }
                }
                if let Some(used) = m.max_memory_used_mb {
                    out.push(point("max_memory_used", used, ts, tags.clone()));
                }
                if let Some(mem) = m.memory_size_mb {
                    out.push(point("memorysize", mem, ts, tags.clone()));
                    if m.max_memory_used_mb.is_some_and(|u| u >= mem) {
                        self.oom(&r.request_id, ts, &tags, &mut out);
                    }
                }
                if !st.runtime_done_seen {
                    // Managed Instances send no runtimeDone: the report carries the outcome.
                    spans(r, ts, &tags, &mut out);
                    self.outcome(r, ts, &tags, &mut out);
                }
                self.forget(&r.request_id);
            }
            TelemetryEvent::Function(body) => {
                let text = match body {
                    LogBody::Text(t) | LogBody::Json(t) => t,
                };
                if OOM_MARKERS.iter().any(|m| text.contains(m)) {
                    let id = crate::logs::record::inspect(body)
                        .request_id
                        .or_else(|| current_request.map(str::to_string));
                    if let Some(id) = id {
                        let tags = self.request_tags(&id);
                        self.oom(&id, ts, &tags, &mut out);
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Points at SHUTDOWN.
    pub(crate) fn on_shutdown(&mut self, now_s: i64) -> Vec<Point> {
        if !self.enabled {
            return Vec::new();
        }
        let mut out = vec![point("shutdowns", 1.0, now_s, self.latest_tags.clone())];
        if self.invocations_seen == 0 {
            out.push(point("unused_init", 1.0, now_s, vec![]));
        }
        out
    }

    fn outcome(&mut self, r: &InvocationRecord, ts: i64, tags: &[String], out: &mut Vec<Point>) {
        // Every invocation that did not succeed is an error, timeouts included (as CloudWatch's
        // `Errors` and Datadog's extension count them).
        match r.status.as_deref() {
            Some("success") | None => {}
            Some(status) => {
                out.push(point("errors", 1.0, ts, tags.to_vec()));
                if status == "timeout" {
                    out.push(point("timeouts", 1.0, ts, tags.to_vec()));
                }
            }
        }
        if r.error_type
            .as_deref()
            .is_some_and(|e| e.contains("OutOfMemory"))
        {
            self.oom(&r.request_id, ts, tags, out);
        }
    }

    /// Counts an out-of-memory once per request, whichever path saw it first.
    fn oom(&mut self, request_id: &str, ts: i64, tags: &[String], out: &mut Vec<Point>) {
        if self.oom_done.contains(request_id) {
            return;
        }
        if self.oom_done.len() >= MAX_REQUESTS {
            self.oom_done.clear();
        }
        self.oom_done.insert(request_id.to_string());
        self.state(request_id).oom_counted = true;
        out.push(point("out_of_memory", 1.0, ts, tags.to_vec()));
    }

    /// The request's state; the first request ever seen is the cold start.
    fn state(&mut self, request_id: &str) -> &mut RequestState {
        if !self.requests.contains_key(request_id) {
            if self.requests.len() >= MAX_REQUESTS
                && let Some(old) = self.order.pop_front()
            {
                self.requests.remove(&old);
            }
            let cold = std::mem::replace(&mut self.cold_start_pending, false);
            self.order.push_back(request_id.to_string());
            self.requests.insert(
                request_id.to_string(),
                RequestState {
                    cold_start: cold,
                    ..Default::default()
                },
            );
        }
        self.requests.entry(request_id.to_string()).or_default()
    }

    fn forget(&mut self, request_id: &str) {
        if self.requests.remove(request_id).is_some() {
            self.order.retain(|o| o != request_id);
        }
    }
}

fn spans(r: &InvocationRecord, ts: i64, tags: &[String], out: &mut Vec<Point>) {
    for s in &r.spans {
        let name = match s.name.as_str() {
            "responseLatency" => "response_latency",
            "responseDuration" => "response_duration",
            _ => continue,
        };
        if let Some(ms) = s.duration_ms {
            out.push(point(name, ms, ts, tags.to_vec()));
        }
    }
}

fn point(name: &'static str, value: f64, ts: i64, tags: Vec<String>) -> Point {
    Point {
        name,
        value,
        ts,
        tags,
    }
}

#[cfg(test)]
mod tests;

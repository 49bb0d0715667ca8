//! The invocation span: per request id (never shared between concurrent invocations), what
//! `/lambda/start-invocation` told us (event, trigger, upstream context) becomes, at
//! `/lambda/end-invocation` or at a timeout, the `aws.lambda` span with its inferred parents
//! and, on a cold start, the `aws.lambda.cold_start` span. Bounded in live invocations.

use super::context::TraceContext;
use super::inferred::{self, Options, Trigger};
use super::proto::{Span, TraceChunk, TracerPayload};
use crate::config::Config;
use crate::tags::FunctionContext;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const MAX_LIVE: usize = 10_000;
const MAX_CAPTURED_VALUE: usize = 5_000;
/// Key fragments whose values are never captured.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "credential",
    "session",
    "signature",
];

/// Error details the library reports on end-invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct InvocationError {
    pub message: String,
    pub kind: String,
    pub stack: String,
}

struct Live {
    start_ns: i64,
    context: TraceContext,
    lambda_span_id: u64,
    trigger: Trigger,
    cold_start: bool,
    request_tags: Vec<(String, String)>,
}

pub(crate) struct Invocations {
    service: String,
    function_name: String,
    function_arn: String,
    function_tags: Vec<(String, String)>,
    mapping: BTreeMap<String, String>,
    managed_services: bool,
    capture_depth: Option<u64>,
    state: Mutex<(HashMap<String, Live>, VecDeque<String>, bool)>,
    init_duration_ns: AtomicU64,
    seed: AtomicU64,
}

impl Invocations {
    pub(crate) fn new(config: &Config, function: &FunctionContext) -> Self {
        Self {
            service: function.service.clone(),
            function_name: function.function_name.clone(),
            function_arn: function.arn.to_ascii_lowercase(),
            function_tags: function
                .tags
                .iter()
                .filter_map(|t| t.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            mapping: config.service_mapping.clone(),
            managed_services: config.trace_managed_services,
            capture_depth: config
                .capture_lambda_payload
                .then_some(config.capture_lambda_payload_max_depth),
            state: Mutex::new((HashMap::new(), VecDeque::new(), true)),
            init_duration_ns: AtomicU64::new(0),
            seed: AtomicU64::new(os_seed()),
        }
    }

    /// A random non-zero 63-bit id (splitmix64 over an OS-seeded start: sandboxes that start in
    /// the same millisecond with the same pid must not share ids).
    fn id(&self) -> u64 {
        let mut z = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 1).max(1)
    }

    pub(crate) fn set_init_duration_ms(&self, ms: f64) {
        self.init_duration_ns
            .store((ms * 1e6) as u64, Ordering::Relaxed);
    }

    /// Starts tracking `request_id`; returns the headers that hand the context to the tracer.
    pub(crate) fn start(
        &self,
        request_id: &str,
        event: &Value,
        now_ns: i64,
    ) -> Vec<(&'static str, String)> {
        let trigger = inferred::detect(
            event,
            &Options {
                service_mapping: &self.mapping,
                managed_services: self.managed_services,
            },
        );
        let context = trigger.context.unwrap_or(TraceContext {
            trace_id: self.id(),
            trace_id_high: 0,
            parent_id: 0,
            sampling_priority: Some(1),
        });
        let lambda_span_id = self.id();
        let headers = super::context::to_headers(&context, lambda_span_id);
        let request_tags = self
            .capture_depth
            .map(|d| flatten("function.request", event, d))
            .unwrap_or_default();
        let mut st = crate::sync::lock(&self.state);
        let cold_start = std::mem::replace(&mut st.2, false);
        if st.0.len() >= MAX_LIVE
            && let Some(old) = st.1.pop_front()
        {
            st.0.remove(&old);
        }
        st.1.push_back(request_id.to_string());
        st.0.insert(
            request_id.to_string(),
            Live {
                start_ns: now_ns,
                context,
                lambda_span_id,
                trigger,
                cold_start,
                request_tags,
            },
        );
        headers
    }

    /// Ends `request_id`: the trace of its invocation, if it was started.
    pub(crate) fn end(
        &self,
        request_id: &str,
        response: Option<&Value>,
        error: Option<InvocationError>,
        now_ns: i64,
    ) -> Option<TracerPayload> {
        let live = self.take(request_id)?;
        Some(self.build(request_id, live, response, error, now_ns))
    }

    /// The invocation timed out before end-invocation: its span, marked as Datadog's extension
    /// marks it (monitors match on these words).
    pub(crate) fn timeout(&self, request_id: &str, now_ns: i64) -> Option<TracerPayload> {
        let live = self.take(request_id)?;
        let error = InvocationError {
            message: "Datadog detected a Timeout".into(),
            kind: "Timeout".into(),
            stack: String::new(),
        };
        Some(self.build(request_id, live, None, Some(error), now_ns))
    }

    /// Forgets an invocation that will never end (its report arrived).
    pub(crate) fn forget(&self, request_id: &str) {
        self.take(request_id);
    }

    fn take(&self, request_id: &str) -> Option<Live> {
        let mut st = crate::sync::lock(&self.state);
        let live = st.0.remove(request_id)?;
        st.1.retain(|r| r != request_id);
        Some(live)
    }

    fn build(
        &self,
        request_id: &str,
        live: Live,
        response: Option<&Value>,
        error: Option<InvocationError>,
        now_ns: i64,
    ) -> TracerPayload {
        let ctx = live.context;
        let mut spans = Vec::new();
        let mut parent = ctx.parent_id;
        for inf in &live.trigger.inferred {
            let mut sp = inf.span.clone();
            sp.trace_id = ctx.trace_id;
            sp.span_id = self.id();
            sp.parent_id = parent;
            if sp.start <= 0 || sp.start > live.start_ns {
                sp.start = live.start_ns;
            }
            let end = if inf.synchronous {
                now_ns
            } else {
                live.start_ns
            };
            sp.duration = (end - sp.start).max(0);
            parent = sp.span_id;
            spans.push(sp);
        }
        let mut lambda = Span {
            service: self.service.clone(),
            name: "aws.lambda".into(),
            resource: self.function_name.clone(),
            trace_id: ctx.trace_id,
            span_id: live.lambda_span_id,
            parent_id: parent,
            start: live.start_ns,
            duration: (now_ns - live.start_ns).max(0),
            r#type: "serverless".into(),
            ..Default::default()
        };
        let m = &mut lambda.meta;
        for (k, v) in &self.function_tags {
            m.insert(k.clone(), v.clone());
        }
        m.insert("request_id".into(), request_id.into());
        m.insert("cold_start".into(), live.cold_start.to_string());
        m.insert("function_arn".into(), self.function_arn.clone());
        m.insert("resource_names".into(), self.function_name.clone());
        if !live.trigger.source.is_empty() {
            m.insert(
                "function_trigger.event_source".into(),
                live.trigger.source.into(),
            );
        }
        if let Some(arn) = &live.trigger.source_arn {
            m.insert("function_trigger.event_source_arn".into(), arn.clone());
        }
        for (k, v) in live.trigger.tags.iter().chain(&live.request_tags) {
            m.insert(k.clone(), v.clone());
        }
        if let Some(code) = response
            .and_then(|r| r.get("statusCode"))
            .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
        {
            m.insert("http.status_code".into(), code.to_string());
            if code >= 500 && error.is_none() {
                lambda.error = 1;
            }
        }
        if let (Some(d), Some(r)) = (self.capture_depth, response) {
            for (k, v) in flatten("function.response", r, d) {
                lambda.meta.insert(k, v);
            }
        }
        if let Some(e) = error {
            lambda.error = 1;
            lambda.meta.insert("error.msg".into(), e.message);
            lambda.meta.insert("error.type".into(), e.kind);
            if !e.stack.is_empty() {
                lambda.meta.insert("error.stack".into(), e.stack);
            }
        }
        if ctx.trace_id_high != 0 {
            lambda
                .meta
                .insert("_dd.p.tid".into(), format!("{:016x}", ctx.trace_id_high));
        }
        lambda.metrics.insert("_dd.top_level".into(), 1.0);
        lambda.metrics.insert(
            "_sampling_priority_v1".into(),
            f64::from(ctx.sampling_priority.unwrap_or(1)),
        );
        let init_ns = self.init_duration_ns.load(Ordering::Relaxed) as i64;
        if live.cold_start && init_ns > 0 {
            let mut cs = Span {
                service: self.service.clone(),
                name: "aws.lambda.cold_start".into(),
                resource: self.function_name.clone(),
                trace_id: ctx.trace_id,
                span_id: self.id(),
                parent_id: lambda.span_id,
                start: live.start_ns - init_ns,
                duration: init_ns,
                r#type: "serverless".into(),
                ..Default::default()
            };
            cs.meta.insert("request_id".into(), request_id.into());
            spans.push(cs);
        }
        spans.push(lambda);
        for sp in &mut spans {
            sp.meta.insert("_dd.origin".into(), "lambda".into());
        }
        let chunk = TraceChunk {
            priority: ctx.sampling_priority.unwrap_or(1),
            origin: "lambda".into(),
            spans,
            ..Default::default()
        };
        TracerPayload {
            chunks: vec![chunk],
            ..Default::default()
        }
    }
}

/// Flattens JSON into `prefix.a.b` tags up to `depth` levels; deeper values are kept as JSON
/// text. Values are truncated; keys that look like secrets are redacted.
pub(crate) fn flatten(prefix: &str, v: &Value, depth: u64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(prefix, v, depth, &mut out);
    out
}

fn walk(key: &str, v: &Value, depth: u64, out: &mut Vec<(String, String)>) {
    let leaf = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    if SECRET_KEYS.iter().any(|s| leaf.contains(s)) {
        out.push((key.to_string(), "redacted".into()));
        return;
    }
    match v {
        Value::Object(m) if depth > 0 && !m.is_empty() => {
            for (k, child) in m {
                walk(&format!("{key}.{k}"), child, depth - 1, out);
            }
        }
        Value::Array(a) if depth > 0 && !a.is_empty() => {
            for (i, child) in a.iter().enumerate() {
                walk(&format!("{key}.{i}"), child, depth - 1, out);
            }
        }
        Value::String(s) => out.push((key.to_string(), truncate(s))),
        other => out.push((key.to_string(), truncate(&other.to_string()))),
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_CAPTURED_VALUE {
        return s.to_string();
    }
    let mut cut = MAX_CAPTURED_VALUE;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// 64 bits from the OS's random source: std's `RandomState` keys come from it (getrandom).
fn os_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(crate::time::now_ms())
}

#[cfg(test)]
mod tests;

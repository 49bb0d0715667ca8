//! The invocation span: per request id (never shared between concurrent invocations), what
//! `/lambda/start-invocation` told us (event, trigger, upstream context) becomes, at
//! `/lambda/end-invocation` or at a timeout, the `aws.lambda` span with its inferred parents
//! and, on a cold start, the `aws.lambda.cold_start` span beside it. Under universal
//! instrumentation the `aws.lambda` span takes the tracer's placeholder span id, trace id and
//! sampling decision from end-invocation. Bounded in live invocations. These spans then go
//! through the same processing as the tracer's (the traces pipeline).

use super::cold_start::ColdStart;
use super::context::{Extractor, TraceContext};
use super::ids::SpanIds;
use super::inferred::{self, Options, Trigger};
use super::proto::{Span, TraceChunk, TracerPayload};
use crate::config::Config;
use crate::tags::FunctionContext;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

const MAX_LIVE: usize = 10_000;
/// The resource of the placeholder root span Java, .NET and Go tracers create for the
/// invocation; it stands for `aws.lambda` and is never shipped.
pub(crate) const PLACEHOLDER_RESOURCE: &str = "dd-tracer-serverless-span";

/// Error details the library reports on end-invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct InvocationError {
    pub message: String,
    pub kind: String,
    pub stack: String,
}

/// What the tracer said at `/lambda/end-invocation` about its own trace (universal
/// instrumentation): the ids and sampling decision of its placeholder root span.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TracerIds {
    pub trace_id: Option<u64>,
    pub trace_id_high: u64,
    pub span_id: Option<u64>,
    pub sampling_priority: Option<i32>,
    pub tags: Vec<(String, String)>,
}

/// The `aws.lambda` span and its companions, and — when the tracer made a placeholder root —
/// that placeholder's span id, whose tags are still to be merged in.
pub(crate) struct Built {
    pub payload: TracerPayload,
    pub placeholder: Option<u64>,
}

struct Live {
    start_ns: i64,
    trigger: Trigger,
    cold_start: bool,
    request_tags: Vec<(String, String)>,
    /// The invocation's durable execution, when its event names one.
    durable: Option<crate::durable::Context>,
}

pub(crate) struct Invocations {
    service: String,
    function_name: String,
    function_arn: String,
    region: String,
    mapping: BTreeMap<String, String>,
    managed_services: bool,
    representation: bool,
    extractor: Extractor,
    capture_depth: Option<u64>,
    state: Mutex<(HashMap<String, Live>, VecDeque<String>)>,
    pub(crate) cold: Arc<ColdStart>,
    /// Durable execution contexts by request id, shared with the logs pipeline.
    pub(crate) durable: Arc<crate::durable::Registry>,
    ids: SpanIds,
}

impl Invocations {
    pub(crate) fn new(config: &Config, function: &FunctionContext) -> Self {
        let managed_instance =
            config.lambda.initialization_type.as_deref() == Some("lambda-managed-instances");
        Self {
            service: function.service.clone(),
            function_name: function.function_name.clone(),
            function_arn: function.arn.to_ascii_lowercase(),
            region: function.region.clone(),
            mapping: config.service_mapping.clone(),
            managed_services: config.trace_managed_services,
            representation: config.aws_service_representation,
            extractor: Extractor::new(&config.propagation_styles),
            capture_depth: config
                .capture_lambda_payload
                .then_some(config.capture_lambda_payload_max_depth),
            state: Mutex::new((HashMap::new(), VecDeque::new())),
            cold: Arc::new(ColdStart::new(!managed_instance)),
            durable: Arc::default(),
            ids: SpanIds::default(),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.ids.next()
    }

    pub(crate) fn set_init_duration_ms(&self, ms: f64) {
        self.cold.set_init_duration_ms(ms);
    }

    /// Starts tracking `request_id`; returns the headers that hand an upstream context to the
    /// tracer. Without one, nothing is handed over: the tracer starts its own trace and makes
    /// its own sampling decision (`DD_TRACE_SAMPLE_RATE`), which end-invocation reports back.
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
                representation: self.representation,
                region: &self.region,
                extractor: &self.extractor,
            },
        );
        let headers = trigger
            .context
            .as_ref()
            .map(|c| super::context::to_headers(c, c.parent_id))
            .unwrap_or_default();
        let request_tags = self
            .capture_depth
            .map(|d| super::capture::flatten("function.request", event, d))
            .unwrap_or_default();
        let cold_start = self.cold.first_invocation.swap(false, Ordering::Relaxed);
        let durable = crate::durable::Context::from_event(event);
        if let Some(c) = &durable {
            self.durable.record(request_id, c.clone());
        }
        let mut st = crate::sync::lock(&self.state);
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
                trigger,
                cold_start,
                request_tags,
                durable,
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
        tracer: TracerIds,
        now_ns: i64,
    ) -> Option<Built> {
        let live = self.take(request_id)?;
        Some(self.build(request_id, live, response, error, tracer, now_ns))
    }

    /// The invocation timed out before end-invocation: its span, marked as Datadog's extension
    /// marks it (monitors match on these words).
    pub(crate) fn timeout(&self, request_id: &str, now_ns: i64) -> Option<Built> {
        let live = self.take(request_id)?;
        let error = InvocationError {
            message: "Datadog detected a Timeout".into(),
            kind: "Timeout".into(),
            stack: String::new(),
        };
        Some(self.build(
            request_id,
            live,
            None,
            Some(error),
            TracerIds::default(),
            now_ns,
        ))
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
        tracer: TracerIds,
        now_ns: i64,
    ) -> Built {
        // The upstream context wins; else the tracer's own trace (universal instrumentation);
        // else a new trace.
        let ctx = live
            .trigger
            .context
            .clone()
            .unwrap_or_else(|| TraceContext {
                trace_id: tracer.trace_id.unwrap_or_else(|| self.id()),
                trace_id_high: tracer.trace_id_high,
                parent_id: 0,
                sampling_priority: tracer.sampling_priority,
                tags: tracer.tags.clone(),
                baggage: None,
            });
        let priority = ctx
            .sampling_priority
            .or(tracer.sampling_priority)
            .unwrap_or(1);
        let status = response
            .and_then(|r| r.get("statusCode"))
            .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()));
        let failed_http = status.is_some_and(|c| (500..600).contains(&c));
        let timed_out = error.as_ref().is_some_and(|e| e.kind == "Timeout");
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
            sp.duration = end.saturating_sub(sp.start).max(0);
            sp.meta
                .insert("_dd.base_service".into(), self.service.clone());
            sp.meta.insert("peer.service".into(), self.service.clone());
            if inf.synchronous
                && let Some(code) = status
            {
                sp.meta.insert("http.status_code".into(), code.to_string());
            }
            if failed_http || timed_out {
                sp.error = 1;
            }
            parent = sp.span_id;
            spans.push(sp);
        }
        let mut lambda = Span {
            service: self.service.clone(),
            name: "aws.lambda".into(),
            resource: self.function_name.clone(),
            trace_id: ctx.trace_id,
            span_id: tracer.span_id.unwrap_or_else(|| self.id()),
            parent_id: parent,
            start: live.start_ns,
            duration: now_ns.saturating_sub(live.start_ns).max(0),
            r#type: "serverless".into(),
            ..Default::default()
        };
        let m = &mut lambda.meta;
        m.insert("request_id".into(), request_id.into());
        m.insert("cold_start".into(), live.cold_start.to_string());
        m.insert("function_arn".into(), self.function_arn.clone());
        m.insert("resource_names".into(), self.function_name.clone());
        m.insert("span.kind".into(), "server".into());
        if !live.trigger.source.is_empty() {
            m.insert(
                "function_trigger.event_source".into(),
                live.trigger.source.into(),
            );
        }
        if let Some(arn) = &live.trigger.source_arn {
            m.insert("function_trigger.event_source_arn".into(), arn.clone());
        } else if live.trigger.source == "lambda-function-url" {
            // A function URL's ARN is the function's, with `url` for `function`.
            m.insert(
                "function_trigger.event_source_arn".into(),
                self.function_arn.replacen(":function:", ":url:", 1),
            );
        }
        for (k, v) in live.trigger.tags.iter().chain(&live.request_tags) {
            m.insert(k.clone(), v.clone());
        }
        if let Some(code) = status {
            m.insert("http.status_code".into(), code.to_string());
            if failed_http && error.is_none() {
                lambda.error = 1;
            }
        }
        if let Some(mut d) = live.durable {
            d.status = response.and_then(crate::durable::status_from_response);
            if let Some(s) = &d.status {
                self.durable.set_status(request_id, s.clone());
            }
            lambda.meta.extend(d.span_tags());
        }
        if let (Some(d), Some(r)) = (self.capture_depth, response) {
            for (k, v) in super::capture::flatten("function.response", r, d) {
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
        // Propagation tags sit on the root span: the outermost inferred span, or aws.lambda.
        let root = spans.first_mut().unwrap_or(&mut lambda);
        for (k, v) in &ctx.tags {
            root.meta.insert(k.clone(), v.clone());
        }
        if ctx.trace_id_high != 0 {
            root.meta
                .insert("_dd.p.tid".into(), format!("{:016x}", ctx.trace_id_high));
        }
        lambda
            .metrics
            .insert("_sampling_priority_v1".into(), f64::from(priority));
        if live.cold_start
            && let Some(cs) = self.cold.span_for(&lambda, self.id())
        {
            spans.push(cs);
        }
        spans.push(lambda);
        let chunk = TraceChunk {
            priority,
            origin: "lambda".into(),
            spans,
            ..Default::default()
        };
        Built {
            payload: TracerPayload {
                chunks: vec![chunk],
                ..Default::default()
            },
            placeholder: tracer.span_id,
        }
    }
}

#[cfg(test)]
mod tests;

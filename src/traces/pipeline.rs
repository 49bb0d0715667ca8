//! The trace buffer: decoded tracer payloads go through the processor into a buffer of
//! `TracerPayload`s, capped by their estimated heap size (what they really hold in memory, not
//! their encoded size), until a flush takes them. Counts every span received, every trace
//! rejected and every span dropped for lack of room.

use super::adopt::{self, Adoption};
use super::cold_start::ColdStart;
use super::ids::SpanIds;
use super::invocation::Built;
use super::process::{Processor, Rejected};
use super::proto::{Span, TraceChunk, TracerPayload};
use super::size::{chunk_heap_size, heap_size};
use crate::config::Config;
use crate::memory::Budget;
use crate::tags::FunctionContext;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the tracer said about itself (request headers).
#[derive(Debug, Clone, Default)]
pub struct TracerInfo {
    pub language: String,
    pub language_version: String,
    pub tracer_version: String,
    pub container_id: String,
    /// `Datadog-Client-Computed-Stats`: when false the backend must compute stats.
    pub client_computed_stats: bool,
}

#[derive(Debug, Default)]
pub struct TraceCounters {
    pub spans_received: AtomicU64,
    pub traces_rejected: AtomicU64,
    /// Traces the user's own rules filtered out (`DD_APM_FILTER_TAGS_*`,
    /// `DD_APM_IGNORE_RESOURCES`): asked for, so not a loss.
    pub traces_filtered: AtomicU64,
    pub spans_dropped_buffer_full: AtomicU64,
    /// Tracer requests answered 429: their payloads would have exceeded the in-flight budget.
    pub requests_over_budget: AtomicU64,
}

pub struct TracesPipeline {
    processor: Processor,
    env: String,
    app_version: String,
    /// `_dd.tags.function` of every tracer payload: the function's tags, `k:v,k:v`.
    function_tags: String,
    adoption: Adoption,
    /// OTel spans and the `aws.lambda` spans of their invocations.
    joins: super::join::Joins,
    cold: Arc<ColdStart>,
    /// Durable execution contexts the tracer's `aws.lambda` spans carry, for the logs.
    durable: Arc<crate::durable::Registry>,
    ids: SpanIds,
    cap_bytes: usize,
    buffer: Mutex<(Vec<TracerPayload>, usize)>,
    pub counters: TraceCounters,
}

impl TracesPipeline {
    pub fn new(config: &Config, function: &FunctionContext) -> Self {
        Self::with_cold_start(config, function, Arc::new(ColdStart::new(true)))
    }

    /// A pipeline that shares the environment's cold start with the invocation spans.
    pub(crate) fn with_cold_start(
        config: &Config,
        function: &FunctionContext,
        cold: Arc<ColdStart>,
    ) -> Self {
        Self {
            processor: Processor::new(config, function),
            env: config.env.clone().unwrap_or_default(),
            app_version: config.version.clone().unwrap_or_default(),
            function_tags: function.tags.join(","),
            adoption: Adoption::default(),
            joins: super::join::Joins::default(),
            cold,
            durable: Arc::default(),
            ids: SpanIds::default(),
            cap_bytes: config.traces_buffer_bytes,
            buffer: Mutex::new((Vec::new(), 0)),
            counters: TraceCounters::default(),
        }
    }

    /// Shares the durable execution contexts with the invocation spans and the logs.
    pub(crate) fn with_durable(mut self, registry: Arc<crate::durable::Registry>) -> Self {
        self.durable = registry;
        self
    }

    /// A tracer's `aws.lambda` span (Python, Node) names its invocation's durable execution.
    fn note_durable(&self, trace: &[Span]) {
        for sp in trace.iter().filter(|s| s.name == "aws.lambda") {
            let tag = |k: &str| sp.meta.get(k).map(String::as_str);
            if let (Some(request_id), Some(ctx)) = (
                tag("request_id"),
                crate::durable::Context::from_span_tags(tag),
            ) {
                self.durable.record(request_id, ctx);
            }
        }
    }

    /// Processes and buffers decoded traces from one tracer request.
    pub fn ingest(&self, traces: Vec<Vec<Span>>, tracer: &TracerInfo, now_ns: i64) {
        let mut batch = self.batch(tracer, now_ns);
        for trace in traces {
            batch.add(trace);
        }
        batch.finish();
    }

    /// Links OTel spans that name their invocation to its `aws.lambda` span (either way round,
    /// whichever arrives second).
    pub(crate) fn join_otel(&self, trace: &mut [Span]) {
        self.joins.otel(trace);
    }

    /// Starts buffering one tracer request's traces as they are decoded.
    pub fn batch<'p>(&'p self, tracer: &'p TracerInfo, now_ns: i64) -> TraceBatch<'p> {
        TraceBatch {
            pipeline: self,
            tracer,
            now_ns,
            room: self.room(),
            chunks: Vec::new(),
            completed: Vec::new(),
            dropped: 0,
        }
    }

    /// Buffers the spans we built for an invocation, once they went through the processing
    /// every tracer span gets (and, under universal instrumentation, met their placeholder).
    pub(crate) fn ingest_built(&self, built: Built, now_ns: i64) {
        for payload in self.adoption.built(built, now_ns) {
            self.push_built(payload, now_ns);
        }
    }

    fn push_built(&self, mut payload: TracerPayload, now_ns: i64) {
        let mut chunks = std::mem::take(&mut payload.chunks);
        for span in chunks.iter_mut().flat_map(|c| c.spans.iter_mut()) {
            if span.name == "aws.lambda" {
                self.joins.invocation(span);
            }
        }
        for chunk in chunks {
            let priority = chunk.priority;
            self.counters
                .spans_received
                .fetch_add(chunk.spans.len() as u64, Ordering::Relaxed);
            match self.processor.process_with(chunk.spans, now_ns, true) {
                Ok(mut done) => {
                    done.priority = priority;
                    payload.chunks.push(done);
                }
                Err(why) => self.count_rejected(why),
            }
        }
        if payload.chunks.is_empty() {
            return;
        }
        self.push(payload);
    }

    fn count_rejected(&self, why: Rejected) {
        match why {
            Rejected::Empty => {}
            Rejected::Filtered => {
                self.counters
                    .traces_filtered
                    .fetch_add(1, Ordering::Relaxed);
            }
            Rejected::ZeroId => {
                self.counters
                    .traces_rejected
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Bytes the buffer can still take: its own cap, and the process's budget.
    fn room(&self) -> usize {
        let buf = crate::sync::lock(&self.buffer);
        self.cap_bytes
            .saturating_sub(buf.1)
            .min(Budget::global().free())
    }

    /// Buffers a processed payload (a tracer's, or the spans we built), stamped with what every
    /// payload carries: `env`, `app_version` and the function's tags (`_dd.tags.function`).
    /// A payload larger than the room left keeps the traces (chunks) that fit; the others are
    /// dropped and counted.
    fn push(&self, mut payload: TracerPayload) {
        payload.env.clone_from(&self.env);
        payload.app_version.clone_from(&self.app_version);
        payload
            .tags
            .insert("_dd.tags.function".into(), self.function_tags.clone());
        let mut size = heap_size(&payload);
        let mut buf = crate::sync::lock(&self.buffer);
        let budget = Budget::global();
        let room = self.cap_bytes.saturating_sub(buf.1).min(budget.free());
        if size > room {
            let mut dropped = 0;
            while size > room {
                let Some(chunk) = payload.chunks.pop() else {
                    break;
                };
                size = size.saturating_sub(chunk_heap_size(&chunk));
                dropped += chunk.spans.len() as u64;
            }
            self.counters
                .spans_dropped_buffer_full
                .fetch_add(dropped, Ordering::Relaxed);
            if payload.chunks.is_empty() {
                return;
            }
        }
        budget.charge(size);
        buf.1 += size;
        buf.0.push(payload);
    }

    /// Everything buffered, after releasing the invocation spans that waited too long for
    /// their tracer's placeholder (all of them at the `last` flush).
    pub fn take(&self, last: bool) -> Vec<TracerPayload> {
        let now_ns = crate::time::now_ms().saturating_mul(1_000_000);
        for payload in self.adoption.release(now_ns, last) {
            self.push_built(payload, now_ns);
        }
        let mut buf = crate::sync::lock(&self.buffer);
        Budget::global().release(buf.1);
        buf.1 = 0;
        std::mem::take(&mut buf.0)
    }

    /// A Python or Node library builds `aws.lambda` itself; on a cold start the extension adds
    /// the `aws.lambda.cold_start` span beside it (with the library's `aws.lambda.load` spans
    /// under it), as Datadog's extension does.
    fn add_cold_start(&self, trace: &mut Vec<Span>) {
        let Some(lambda) = trace.iter().find(|s| {
            s.name == "aws.lambda" && s.meta.get("cold_start").map(String::as_str) == Some("true")
        }) else {
            return;
        };
        let Some(cs) = self.cold.span_for(lambda, self.ids.next()) else {
            return;
        };
        let lambda_id = lambda.span_id;
        for load in trace
            .iter_mut()
            .filter(|s| s.name == "aws.lambda.load" && s.parent_id == lambda_id)
        {
            load.parent_id = cs.span_id;
        }
        trace.push(cs);
    }
}

/// One tracer request's traces on their way into the buffer: each is processed as soon as it is
/// decoded, or dropped unprocessed once the request's room is used up (processing grows every
/// span: a flood costs one decoded trace, never a processed copy of what is refused).
pub struct TraceBatch<'p> {
    pipeline: &'p TracesPipeline,
    tracer: &'p TracerInfo,
    now_ns: i64,
    room: usize,
    chunks: Vec<TraceChunk>,
    /// Invocation spans this request's placeholders completed.
    completed: Vec<TracerPayload>,
    dropped: u64,
}

impl TraceBatch<'_> {
    pub fn add(&mut self, trace: Vec<Span>) {
        let p = self.pipeline;
        p.counters
            .spans_received
            .fetch_add(trace.len() as u64, Ordering::Relaxed);
        if self.room == 0 {
            self.dropped += trace.len() as u64;
            return;
        }
        p.note_durable(&trace);
        let (mut trace, placeholders) = adopt::split(trace);
        for ph in placeholders {
            self.completed.extend(p.adoption.placeholder(ph));
        }
        if trace.is_empty() {
            return;
        }
        p.add_cold_start(&mut trace);
        let stamp_stats = !self.tracer.client_computed_stats;
        match p.processor.process_with(trace, self.now_ns, stamp_stats) {
            Ok(chunk) => {
                let size = chunk_heap_size(&chunk);
                if size > self.room {
                    self.room = 0;
                    self.dropped += chunk.spans.len() as u64;
                    return;
                }
                self.room -= size;
                self.chunks.push(chunk);
            }
            Err(why) => p.count_rejected(why),
        }
    }

    /// Buffers what was kept and counts what was dropped.
    pub fn finish(self) {
        let p = self.pipeline;
        if self.dropped > 0 {
            p.counters
                .spans_dropped_buffer_full
                .fetch_add(self.dropped, Ordering::Relaxed);
        }
        for payload in self.completed {
            p.push_built(payload, self.now_ns);
        }
        if self.chunks.is_empty() {
            return;
        }
        let tracer = self.tracer;
        let runtime_id = self
            .chunks
            .iter()
            .flat_map(|c| c.spans.iter())
            .find_map(|s| s.meta.get("runtime-id"))
            .cloned()
            .unwrap_or_default();
        let payload = TracerPayload {
            container_id: tracer.container_id.clone(),
            language_name: tracer.language.clone(),
            language_version: tracer.language_version.clone(),
            tracer_version: tracer.tracer_version.clone(),
            chunks: self.chunks,
            runtime_id,
            ..Default::default()
        };
        p.push(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Source;

    /// Python and Node libraries make `aws.lambda` themselves: its durable tags tell the logs
    /// which execution the request belongs to.
    #[test]
    fn a_tracers_aws_lambda_span_names_its_durable_execution() {
        let (config, _) = Config::load(&Source::from_maps(Default::default(), Default::default()));
        let function = FunctionContext::new(&config, None, Some("1"));
        let registry = Arc::new(crate::durable::Registry::default());
        let p = TracesPipeline::new(&config, &function).with_durable(registry.clone());
        let mut span = Span {
            name: "aws.lambda".into(),
            service: "svc".into(),
            resource: "fn".into(),
            trace_id: 1,
            span_id: 2,
            ..Default::default()
        };
        for (k, v) in [
            ("request_id", "req-1"),
            ("aws_lambda.durable_function.execution_name", "exec"),
            ("aws_lambda.durable_function.execution_id", "id-1"),
            ("aws_lambda.durable_function.first_invocation", "false"),
            ("aws_lambda.durable_function.execution_status", "FAILED"),
        ] {
            span.meta.insert(k.into(), v.into());
        }
        p.ingest(vec![vec![span]], &TracerInfo::default(), 0);
        let ctx = registry.get("req-1").unwrap();
        assert_eq!(
            (ctx.execution_name.as_str(), ctx.execution_id.as_str()),
            ("exec", "id-1")
        );
        assert_eq!(ctx.first_invocation, Some(false));
        assert_eq!(ctx.status.as_deref(), Some("FAILED"));
        assert_eq!(registry.get("other"), None);
    }
}

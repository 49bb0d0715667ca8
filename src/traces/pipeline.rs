//! The trace buffer: decoded tracer payloads go through the processor into a buffer of
//! `TracerPayload`s, capped by their estimated heap size (what they really hold in memory, not
//! their encoded size), until a flush takes them. Counts every span received, every trace
//! rejected and every span dropped for lack of room.

use super::process::{Processor, Rejected};
use super::proto::{Span, TraceChunk, TracerPayload};
use crate::config::Config;
use crate::memory::Budget;
use crate::tags::FunctionContext;
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
    cap_bytes: usize,
    buffer: Mutex<(Vec<TracerPayload>, usize)>,
    pub counters: TraceCounters,
}

impl TracesPipeline {
    pub fn new(config: &Config, function: &FunctionContext) -> Self {
        Self {
            processor: Processor::new(config, function),
            env: config.env.clone().unwrap_or_default(),
            app_version: config.version.clone().unwrap_or_default(),
            cap_bytes: config.traces_buffer_bytes,
            buffer: Mutex::new((Vec::new(), 0)),
            counters: TraceCounters::default(),
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

    /// Starts buffering one tracer request's traces as they are decoded.
    pub fn batch<'p>(&'p self, tracer: &'p TracerInfo, now_ns: i64) -> TraceBatch<'p> {
        TraceBatch {
            pipeline: self,
            tracer,
            now_ns,
            room: self.room(),
            chunks: Vec::new(),
            dropped: 0,
        }
    }

    /// Bytes the buffer can still take: its own cap, and the process's budget.
    fn room(&self) -> usize {
        let buf = crate::sync::lock(&self.buffer);
        self.cap_bytes
            .saturating_sub(buf.1)
            .min(Budget::global().free())
    }

    /// Buffers an already-built payload (the invocation span, inferred spans).
    /// A payload larger than the room left keeps the traces (chunks) that fit; the others are
    /// dropped and counted.
    pub fn push(&self, mut payload: TracerPayload) {
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

    pub fn take(&self) -> Vec<TracerPayload> {
        let mut buf = crate::sync::lock(&self.buffer);
        Budget::global().release(buf.1);
        buf.1 = 0;
        std::mem::take(&mut buf.0)
    }
}

/// A map entry: two `String`s in the table (with its load factor) and their two allocations.
fn string_map(m: &std::collections::HashMap<String, String>) -> usize {
    m.iter().map(|(k, v)| k.len() + v.len() + 112).sum()
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
        match p.processor.process(trace, self.now_ns) {
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
            Err(Rejected::Empty) => {}
            Err(Rejected::Filtered) => {
                p.counters.traces_filtered.fetch_add(1, Ordering::Relaxed);
            }
            Err(Rejected::ZeroId) => {
                p.counters.traces_rejected.fetch_add(1, Ordering::Relaxed);
            }
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
        if self.chunks.is_empty() {
            return;
        }
        let tracer = self.tracer;
        let mut payload = TracerPayload {
            container_id: tracer.container_id.clone(),
            language_name: tracer.language.clone(),
            language_version: tracer.language_version.clone(),
            tracer_version: tracer.tracer_version.clone(),
            chunks: self.chunks,
            env: p.env.clone(),
            app_version: p.app_version.clone(),
            ..Default::default()
        };
        if !tracer.client_computed_stats {
            payload.tags.insert("_dd.compute_stats".into(), "1".into());
        }
        p.push(payload);
    }
}

/// Estimated heap bytes of one trace chunk and its spans.
fn chunk_heap_size(c: &TraceChunk) -> usize {
    let span = |s: &Span| {
        const SPAN: usize = 400;
        SPAN + s.service.len()
            + s.name.len()
            + s.resource.len()
            + s.r#type.len()
            + string_map(&s.meta)
            + s.metrics.keys().map(|k| k.len() + 64).sum::<usize>()
            + s.meta_struct
                .iter()
                .map(|(k, v)| k.len() + v.len() + 64)
                .sum::<usize>()
            + s.span_links
                .iter()
                .map(|l| 96 + l.tracestate.len() + string_map(&l.attributes))
                .sum::<usize>()
    };
    96 + c.origin.len() + string_map(&c.tags) + c.spans.iter().map(span).sum::<usize>()
}

/// Estimated heap bytes of a payload: strings, map entries (with the maps' own overhead) and
/// the structs themselves — about three times its encoded size for typical spans.
pub(crate) fn heap_size(p: &TracerPayload) -> usize {
    let chunks: usize = p.chunks.iter().map(chunk_heap_size).sum();
    256 + p.container_id.len()
        + p.language_name.len()
        + p.language_version.len()
        + p.tracer_version.len()
        + p.runtime_id.len()
        + p.env.len()
        + p.hostname.len()
        + p.app_version.len()
        + string_map(&p.tags)
        + chunks
}

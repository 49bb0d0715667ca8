//! The logs pipeline: turns `function`, `extension` and platform telemetry records into
//! Datadog log entries (PROTOCOLS.md §4 shape), applies processing rules, attaches request ids
//! and buffers the encoded entries under a byte cap. Owns the drop/exclude counters. Must not
//! ship anything: the intake drains the buffer.

mod attributed;
mod durable;
pub(crate) mod encode;
mod entry;
mod init_hold;
mod platform;
pub(crate) mod record;
pub(crate) mod rules;

pub use attributed::Attributed;

use crate::config::Config;
use crate::diag;
use crate::lambda::events::{InvocationRecord, LogBody, TelemetryEvent, Timed};
use crate::memory::Budget;
use crate::tags::FunctionContext;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest message shipped; longer ones are cut and marked (the intake's 1 MB entry limit,
/// less room for the envelope).
pub const MAX_MESSAGE_BYTES: usize = 1_000_000 - 4_096;
pub const TRUNCATION_MARKER: &str = "...TRUNCATED...";

/// How request ids are attached to lines that do not carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// On-demand: one invocation at a time, so a line belongs to the latest `platform.start`
    /// in stream order.
    StreamOrder,
    /// Managed Instances: invocations overlap, so only an id the record itself carries.
    RecordOnly,
}

/// Counters of the pipeline, cumulative.
#[derive(Debug, Default)]
pub struct LogCounters {
    pub accepted: AtomicU64,
    pub dropped_buffer_full: AtomicU64,
    pub excluded_by_rules: AtomicU64,
    pub truncated: AtomicU64,
}

#[derive(Default)]
struct Buffer {
    entries: VecDeque<Vec<u8>>,
    bytes: usize,
}

pub struct LogsPipeline {
    enabled: bool,
    attribution: Attribution,
    rules: rules::Rules,
    function: FunctionContext,
    ddtags: String,
    cap_bytes: usize,
    buffer: Mutex<Buffer>,
    /// Runtime duration per request (from runtimeDone) for its REPORT line; bounded.
    runtime_ms: Mutex<std::collections::HashMap<String, f64>>,
    /// On-demand: lines of the init phase, held until the first invocation gives them its
    /// request id (as Datadog's extension does); `None` once it has.
    init_held: init_hold::InitHold,
    /// A durable function's lines waiting for their execution context.
    durable: durable::DurableLogs,
    pub counters: LogCounters,
}

/// Requests whose runtime duration is remembered until their report.
const MAX_PENDING_REPORTS: usize = 1_000;

impl LogsPipeline {
    pub fn new(config: &Config, function: FunctionContext, attribution: Attribution) -> Self {
        Self {
            enabled: config.logs_enabled,
            attribution,
            rules: rules::Rules::compile(&config.logs_processing_rules),
            ddtags: function.tags.join(","),
            function,
            cap_bytes: config.logs_buffer_bytes,
            buffer: Mutex::new(Buffer::default()),
            runtime_ms: Mutex::new(std::collections::HashMap::new()),
            init_held: init_hold::InitHold::new(attribution == Attribution::StreamOrder),
            durable: durable::DurableLogs::new(
                std::sync::Arc::default(),
                config.durable_log_buffer_size,
            ),
            counters: LogCounters::default(),
        }
    }

    /// Reads durable execution contexts from `registry` (shared with the traces).
    pub fn with_durable(mut self, registry: std::sync::Arc<crate::durable::Registry>) -> Self {
        self.durable.set_registry(registry);
        self
    }

    /// Handles one telemetry event. `current_request` is the tracker's stream-order invocation.
    pub fn on_event(&self, ev: &Timed, current_request: Option<&str>) {
        if !self.enabled {
            return;
        }
        let fallback = match self.attribution {
            Attribution::StreamOrder => current_request,
            Attribution::RecordOnly => None,
        };
        match &ev.event {
            TelemetryEvent::Function(body) => self.push_record(ev.time_ms, body, fallback),
            TelemetryEvent::Extension(body) => {
                // Our own diagnostics come back to us as extension records: never ship them,
                // or every flush would log, and every log would flush.
                if let LogBody::Text(t) = body
                    && t.trim_start().starts_with(diag::PREFIX)
                {
                    return;
                }
                self.push_record(ev.time_ms, body, fallback)
            }
            TelemetryEvent::InitStart(r) => {
                self.durable.set_function_durable(
                    r.runtime_version
                        .as_deref()
                        .is_some_and(crate::durable::is_durable_runtime),
                );
                let line = format!(
                    "INIT_START Runtime Version: {} Runtime Version ARN: {}",
                    r.runtime_version.as_deref().unwrap_or(""),
                    r.runtime_version_arn.as_deref().unwrap_or("")
                );
                if fallback.is_none() && self.hold(ev.time_ms, &line, "info", None) {
                    return;
                }
                self.push(ev.time_ms, &line, fallback, "info", None, false);
            }
            TelemetryEvent::Start(r) => {
                self.release_held(Some(&r.request_id));
                let version = r.version.as_deref().unwrap_or("$LATEST");
                let line = format!("START RequestId: {} Version: {version}", r.request_id);
                self.push(ev.time_ms, &line, Some(&r.request_id), "info", None, false);
            }
            TelemetryEvent::RuntimeDone(r) => {
                if let Some(ms) = r.metrics.duration_ms {
                    let mut pending = crate::sync::lock(&self.runtime_ms);
                    if pending.len() >= MAX_PENDING_REPORTS {
                        pending.clear();
                    }
                    pending.insert(r.request_id.clone(), ms);
                }
                self.push_end(ev.time_ms, r);
                self.durable.ended(&r.request_id);
            }
            TelemetryEvent::Report(r) if self.attribution == Attribution::RecordOnly => {
                // No runtimeDone in Managed Instance mode: as Datadog's extension, one REPORT
                // line says how it went (and is an error when it failed).
                let status = if platform::is_failure(r) {
                    "error"
                } else {
                    "info"
                };
                let line = platform::managed_report_line(r);
                self.durable.ended(&r.request_id);
                self.push(ev.time_ms, &line, Some(&r.request_id), status, None, true);
            }
            TelemetryEvent::Report(r) => {
                let runtime_ms = crate::sync::lock(&self.runtime_ms).remove(&r.request_id);
                // Datadog's extension ships REPORT as info, failed or not (END says it).
                let line = platform::report_line(r, runtime_ms);
                self.push(ev.time_ms, &line, Some(&r.request_id), "info", None, true);
            }
            _ => {}
        }
    }

    fn push_end(&self, time_ms: i64, r: &InvocationRecord) {
        let status = if platform::is_failure(r) {
            "error"
        } else {
            "info"
        };
        let line = platform::end_line(r);
        self.push(time_ms, &line, Some(&r.request_id), status, None, true);
    }

    fn push_record(&self, time_ms: i64, body: &LogBody, fallback: Option<&str>) {
        let inspected = record::inspect(body);
        let request_id = inspected.request_id.as_deref().or(fallback);
        let text = match (&inspected.ddtags, body) {
            (Some((_, rest)), _) => rest.as_str(),
            (None, LogBody::Text(t)) => t.strip_suffix('\n').unwrap_or(t),
            (None, LogBody::Json(j)) => j.as_str(),
        };
        let status = inspected.status.unwrap_or("info");
        let tags = inspected.ddtags.as_ref().map(|(tags, _)| tags.as_str());
        if request_id.is_none() && self.hold(time_ms, text, status, tags) {
            return;
        }
        self.push(time_ms, text, request_id, status, tags, false);
    }

    /// Holds an init-phase line until the first invocation (on-demand, before it); false when
    /// it is not the init phase or the hold is full (the line then goes out as it is).
    fn hold(&self, time_ms: i64, text: &str, status: &'static str, tags: Option<&str>) -> bool {
        self.init_held.hold(time_ms, text, status, tags)
    }

    /// Ends the init phase: held lines go out with `request_id` (the first invocation's), or
    /// without one at the last flush when no invocation came.
    pub fn release_held(&self, request_id: Option<&str>) {
        for h in self.init_held.take() {
            let tags = h.tags.as_deref();
            self.push(h.time_ms, &h.text, request_id, h.status, tags, false);
        }
    }

    /// One line: held while its durable execution context is awaited, else encoded and
    /// buffered. `closing` (END, REPORT) lines carry the execution status.
    fn push(
        &self,
        time_ms: i64,
        text: &str,
        request_id: Option<&str>,
        status: &str,
        extra_tags: Option<&str>,
        closing: bool,
    ) {
        let ctx = match request_id {
            None => None,
            Some(id) => match self.durable.route(id, closing, || durable::Line {
                time_ms,
                text: text.to_string(),
                status: status.to_string(),
                tags: extra_tags.map(str::to_string),
                closing,
            }) {
                durable::Route::Held => return,
                durable::Route::Emit(ctx) => ctx,
            },
        };
        self.emit(
            time_ms,
            text,
            request_id,
            status,
            extra_tags,
            ctx.as_ref(),
            closing,
        );
    }

    /// A durable function's held lines whose context came or whose request ended (`all`: every
    /// one, at the last flush) go into the buffer.
    pub fn release_durable(&self, all: bool) {
        for (id, ctx, lines) in self.durable.release(all) {
            for l in lines {
                let tags = l.tags.as_deref();
                self.emit(
                    l.time_ms,
                    &l.text,
                    Some(&id),
                    &l.status,
                    tags,
                    ctx.as_ref(),
                    l.closing,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        time_ms: i64,
        text: &str,
        request_id: Option<&str>,
        status: &str,
        extra_tags: Option<&str>,
        ctx: Option<&crate::durable::Context>,
        closing: bool,
    ) {
        let Some(message) = self.prepare(text) else {
            return;
        };
        let ddtags = match extra_tags {
            Some(extra) => std::borrow::Cow::Owned(format!("{},{extra}", self.ddtags)),
            None => std::borrow::Cow::Borrowed(self.ddtags.as_str()),
        };
        let line = entry::Line {
            message: &message,
            request_id,
            time_ms,
            status,
            ddtags,
            durable: ctx,
            closing,
        };
        if let Ok(encoded) = line.encode(&self.function) {
            self.store(encoded);
        }
    }

    /// The message as shipped: the processing rules applied (`None`: excluded, counted) and
    /// cut to `MAX_MESSAGE_BYTES`.
    fn prepare<'t>(&self, text: &'t str) -> Option<std::borrow::Cow<'t, str>> {
        let text = if self.rules.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            match self.rules.apply(text) {
                Some(t) => t,
                None => {
                    self.counters
                        .excluded_by_rules
                        .fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        };
        if text.len() <= MAX_MESSAGE_BYTES {
            return Some(text);
        }
        self.counters.truncated.fetch_add(1, Ordering::Relaxed);
        let mut cut = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        Some(std::borrow::Cow::Owned(format!(
            "{}{TRUNCATION_MARKER}",
            text.get(..cut).unwrap_or("")
        )))
    }

    /// Buffers one encoded entry, or drops it (counted) when the buffer or budget is full.
    fn store(&self, mut encoded: Vec<u8>) {
        // The serializer grows its buffer by doubling: an entry waits in the buffer with its
        // own bytes only.
        encoded.shrink_to_fit();
        let mut buf = crate::sync::lock(&self.buffer);
        if !self.admit(&buf, encoded.len()) {
            drop(buf);
            self.counters
                .dropped_buffer_full
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!("tandem.logs.dropped", "reason" => "buffer_full").increment(1);
            return;
        }
        buf.bytes += encoded.len();
        buf.entries.push_back(encoded);
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes everything buffered, oldest first (with the durable lines now ready).
    pub fn drain(&self) -> Vec<Vec<u8>> {
        self.release_durable(false);
        let mut buf = crate::sync::lock(&self.buffer);
        Budget::global().release(buf.bytes + buf.entries.len() * ENTRY_OVERHEAD);
        buf.bytes = 0;
        std::mem::take(&mut buf.entries).into()
    }

    /// Puts back entries a flush could not deliver, ahead of newer ones, within the cap.
    /// When they do not all fit, the oldest are given up. Returns how many (the caller counts
    /// them as dropped).
    pub fn requeue(&self, entries: Vec<Vec<u8>>) -> usize {
        let mut buf = crate::sync::lock(&self.buffer);
        let mut dropped = 0;
        for e in entries.into_iter().rev() {
            if !self.admit(&buf, e.len()) {
                dropped += 1;
                continue;
            }
            buf.bytes += e.len();
            buf.entries.push_front(e);
        }
        dropped
    }

    pub fn buffered(&self) -> (usize, usize) {
        let buf = crate::sync::lock(&self.buffer);
        (buf.entries.len(), buf.bytes)
    }
}

impl LogsPipeline {
    /// Whether an entry of `len` bytes fits the buffer's cap and the process's memory budget
    /// (charged to the budget when it does).
    fn admit(&self, buf: &Buffer, len: usize) -> bool {
        buf.bytes + len <= self.cap_bytes && Budget::global().try_charge(entry_cost(len))
    }
}

/// Heap beyond an entry's bytes: its `Vec` and its slot in the queue.
const ENTRY_OVERHEAD: usize = 48;

/// What one buffered entry of `len` bytes costs the memory budget.
fn entry_cost(len: usize) -> usize {
    len + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests;

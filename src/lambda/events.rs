//! Serde types of Extensions API events and Telemetry API events (schemas 2022-12-13 and
//! 2025-01-29). Decoding is tolerant: unknown fields are ignored, unknown event types become
//! [`TelemetryEvent::Other`], and one bad event never spoils the rest of its batch.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use serde::Deserialize;
use serde_json::value::RawValue;

/// An event from `GET /event/next`.
#[derive(Debug, Clone, PartialEq)]
pub enum NextEvent {
    Invoke(InvokeEvent),
    Shutdown { reason: String, deadline_ms: i64 },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeEvent {
    pub request_id: String,
    #[serde(default)]
    pub deadline_ms: i64,
    #[serde(default)]
    pub invoked_function_arn: String,
    #[serde(default)]
    pub tracing: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNext {
    event_type: String,
    #[serde(default)]
    shutdown_reason: Option<String>,
    #[serde(default)]
    deadline_ms: i64,
}

/// Decodes a `/event/next` body. Any non-INVOKE type with a deadline is treated as SHUTDOWN
/// only when it says so; other types are an error the caller logs.
pub fn parse_next(body: &[u8]) -> Result<NextEvent, String> {
    let raw: RawNext =
        serde_json::from_slice(body).map_err(|e| format!("undecodable event: {e}"))?;
    match raw.event_type.as_str() {
        "INVOKE" => serde_json::from_slice::<InvokeEvent>(body)
            .map(NextEvent::Invoke)
            .map_err(|e| format!("undecodable INVOKE event: {e}")),
        "SHUTDOWN" => Ok(NextEvent::Shutdown {
            reason: raw.shutdown_reason.unwrap_or_default(),
            deadline_ms: raw.deadline_ms,
        }),
        other => Err(format!("unknown event type {other:?}")),
    }
}

/// Body of a successful `POST /register`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    #[serde(default)]
    pub function_name: Option<String>,
    #[serde(default)]
    pub function_version: Option<String>,
    #[serde(default)]
    pub handler: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
}

/// `metrics` of runtimeDone / report / initReport.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformMetrics {
    #[serde(default)]
    pub duration_ms: Option<f64>,
    #[serde(default)]
    pub billed_duration_ms: Option<f64>,
    #[serde(default, rename = "memorySizeMB")]
    pub memory_size_mb: Option<f64>,
    #[serde(default, rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: Option<f64>,
    #[serde(default)]
    pub init_duration_ms: Option<f64>,
    #[serde(default)]
    pub restore_duration_ms: Option<f64>,
    #[serde(default)]
    pub produced_bytes: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub name: String,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<f64>,
}

/// The record of `platform.start`, `platform.runtimeDone` and `platform.report`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    pub request_id: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub metrics: PlatformMetrics,
    #[serde(default)]
    pub spans: Vec<Span>,
    #[serde(default)]
    pub tracing: Option<serde_json::Value>,
}

/// The record of `platform.initStart`, `initRuntimeDone`, `initReport`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRecord {
    #[serde(default)]
    pub initialization_type: Option<String>,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub runtime_version: Option<String>,
    #[serde(default)]
    pub runtime_version_arn: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub metrics: PlatformMetrics,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsDroppedRecord {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub dropped_records: u64,
    #[serde(default)]
    pub dropped_bytes: u64,
}

/// A function or extension log record: a text line, or a JSON object kept as its exact text.
#[derive(Debug, Clone, PartialEq)]
pub enum LogBody {
    Text(String),
    Json(String),
}

/// One decoded Telemetry API event with its time in epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub time_ms: i64,
    pub event: TelemetryEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TelemetryEvent {
    InitStart(InitRecord),
    InitRuntimeDone(InitRecord),
    InitReport(InitRecord),
    /// SnapStart: the environment is being restored from a snapshot (its init ran elsewhere).
    RestoreStart(InitRecord),
    RestoreReport(InitRecord),
    Start(InvocationRecord),
    RuntimeDone(InvocationRecord),
    Report(InvocationRecord),
    LogsDropped(LogsDroppedRecord),
    Function(LogBody),
    Extension(LogBody),
    /// Known but unused here (`platform.extension`, `platform.telemetrySubscription`,
    /// `platform.restoreRuntimeDone`) or unknown: kept by name only.
    Other(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    time: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow, default)]
    record: Option<&'a RawValue>,
}

/// Result of decoding a batch: good events, and how many elements could not be decoded.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Timed>,
    pub rejected: usize,
    /// First decoding problem, for the single warning.
    pub first_error: Option<String>,
}

/// Decodes a Telemetry API POST body (a JSON array). `now_ms` stamps events without a time.
pub fn parse_batch(body: &[u8], now_ms: i64) -> Batch {
    let mut batch = Batch::default();
    let items: Vec<&RawValue> = match serde_json::from_slice(body) {
        Ok(items) => items,
        Err(e) => {
            batch.rejected = 1;
            batch.first_error = Some(format!("body is not a JSON array: {e}"));
            return batch;
        }
    };
    for item in items {
        match parse_event(item.get(), now_ms) {
            Ok(ev) => batch.events.push(ev),
            Err(e) => {
                batch.rejected += 1;
                batch.first_error.get_or_insert(e);
            }
        }
    }
    batch
}

fn parse_event(text: &str, now_ms: i64) -> Result<Timed, String> {
    let env: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| format!("bad event envelope: {e}"))?;
    let time_ms = env
        .time
        .as_deref()
        .and_then(crate::time::parse_rfc3339_ms)
        .unwrap_or(now_ms);
    let record = env.record.map(RawValue::get).unwrap_or("null");
    let typed = |what: &str| format!("bad {} record ({what})", env.kind);
    let event = match env.kind.as_str() {
        "platform.initStart" => TelemetryEvent::InitStart(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "platform.initRuntimeDone" => TelemetryEvent::InitRuntimeDone(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "platform.initReport" => TelemetryEvent::InitReport(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "platform.restoreStart" => TelemetryEvent::RestoreStart(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "platform.restoreReport" => TelemetryEvent::RestoreReport(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "platform.start" => {
            TelemetryEvent::Start(serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?)
        }
        "platform.runtimeDone" => TelemetryEvent::RuntimeDone(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "platform.report" => {
            TelemetryEvent::Report(serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?)
        }
        "platform.logsDropped" => TelemetryEvent::LogsDropped(
            serde_json::from_str(record).map_err(|e| typed(&e.to_string()))?,
        ),
        "function" => TelemetryEvent::Function(
            log_body(record).ok_or_else(|| typed("not a string or object"))?,
        ),
        "extension" => TelemetryEvent::Extension(
            log_body(record).ok_or_else(|| typed("not a string or object"))?,
        ),
        other => TelemetryEvent::Other(other.to_string()),
    };
    Ok(Timed { time_ms, event })
}

fn log_body(record: &str) -> Option<LogBody> {
    match record.trim_start().as_bytes().first()? {
        b'"' => serde_json::from_str::<String>(record)
            .ok()
            .map(LogBody::Text),
        b'{' => Some(LogBody::Json(record.trim().to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

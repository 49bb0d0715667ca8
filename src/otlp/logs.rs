//! OTLP log records → Datadog log entries, as Datadog's OTLP logs mapping does it: the body as
//! the message, severity → status, the record's attributes as fields, trace correlation
//! (`dd.trace_id` / `dd.span_id` in Datadog's decimal form, `otel.trace_id` / `otel.span_id` in
//! hex), `otel.severity_*`, the resource's mapped attributes as tags and `service.name` as the
//! service. A request id only from the record's own attributes: which invocation a line
//! belongs to is the caller's policy. Pure.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // reads input from outside the process

use super::attrs;
use crate::logs::Attributed;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::Value;

/// Datadog's `ddsource` for OTLP logs.
pub(crate) const SOURCE: &str = "otlp_log_ingestion";

/// Record attributes that name the invocation (OpenTelemetry's, older, and the Python
/// runtime's logging field).
const REQUEST_ID_KEYS: &[&str] = &["faas.invocation_id", "faas.execution", "aws_request_id"];

pub(crate) fn map(req: &ExportLogsServiceRequest) -> Vec<Attributed> {
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let resource: &[KeyValue] = rl.resource.as_ref().map_or(&[], |r| &r.attributes);
        let tags: Vec<String> = attrs::resource_tags(resource)
            .into_iter()
            .filter(|t| !t.starts_with("service:"))
            .chain(std::iter::once("otel_source:datadog_agent".to_string()))
            .collect();
        let service = attrs::get_str(resource, "service.name");
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                out.push(record(r, &tags, service.clone()));
            }
        }
    }
    out
}

fn record(r: &LogRecord, tags: &[String], service: Option<String>) -> Attributed {
    let mut fields = serde_json::Map::new();
    for kv in &r.attributes {
        if let Some(v) = kv.value.as_ref() {
            fields.insert(kv.key.clone(), attrs::any_json(v));
        }
    }
    if let Ok(t) = <[u8; 16]>::try_from(r.trace_id.as_slice()) {
        let id = u128::from_be_bytes(t);
        if id != 0 {
            fields.insert("otel.trace_id".into(), Value::String(format!("{id:032x}")));
            fields.insert("dd.trace_id".into(), Value::String((id as u64).to_string()));
        }
    }
    if let Ok(s) = <[u8; 8]>::try_from(r.span_id.as_slice()) {
        let id = u64::from_be_bytes(s);
        if id != 0 {
            fields.insert("otel.span_id".into(), Value::String(format!("{id:016x}")));
            fields.insert("dd.span_id".into(), Value::String(id.to_string()));
        }
    }
    if !r.severity_text.is_empty() {
        fields.insert(
            "otel.severity_text".into(),
            Value::String(r.severity_text.clone()),
        );
    }
    if r.severity_number != 0 {
        fields.insert(
            "otel.severity_number".into(),
            r.severity_number.to_string().into(),
        );
    }
    let time_ns = if r.time_unix_nano != 0 {
        r.time_unix_nano
    } else {
        r.observed_time_unix_nano
    };
    if time_ns != 0 {
        fields.insert("otel.timestamp".into(), Value::String(time_ns.to_string()));
    }
    let message = r
        .body
        .as_ref()
        .and_then(|b| b.value.as_ref())
        .map(attrs::text)
        .unwrap_or_default();
    Attributed {
        time_ms: if time_ns == 0 {
            crate::time::now_ms()
        } else {
            (time_ns / 1_000_000) as i64
        },
        message,
        status: status(r.severity_number, &r.severity_text),
        request_id: attrs::first_str(&r.attributes, REQUEST_ID_KEYS),
        service,
        source: SOURCE,
        tags: tags.to_vec(),
        attributes: fields,
    }
}

/// Datadog's status for a severity: by number range when set, else the text, else info.
fn status(number: i32, text: &str) -> String {
    let by_number = match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "",
    };
    if !by_number.is_empty() {
        by_number.into()
    } else if !text.is_empty() {
        text.to_ascii_lowercase()
    } else {
        "info".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_reads_as_datadog_status() {
        assert_eq!(status(17, "ERROR"), "error");
        assert_eq!(status(13, ""), "warn");
        assert_eq!(status(0, "Critical"), "critical");
        assert_eq!(status(0, ""), "info");
        assert_eq!(status(24, ""), "fatal");
    }
}

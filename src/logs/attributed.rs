//! Log records that arrive with attributes of their own (OTLP logs): one flat entry per record
//! — message, status, timestamp, the function's hostname and tags, the record's service and
//! tags, its attributes as top-level fields, and the `lambda` object with the request id —
//! through the same processing rules, truncation and buffer cap as every other line. Must not
//! know where the record came from.

use super::LogsPipeline;
use serde_json::{Map, Value, json};

/// One record, already mapped to Datadog's field names.
#[derive(Debug, Clone, Default)]
pub struct Attributed {
    pub time_ms: i64,
    pub message: String,
    pub status: String,
    /// The record's own request id (an attribute it carries), if any.
    pub request_id: Option<String>,
    /// Its service, when its source names one (else the function's).
    pub service: Option<String>,
    /// `ddsource`.
    pub source: &'static str,
    /// Tags added to the function's.
    pub tags: Vec<String>,
    /// Top-level fields; they never replace the entry's own.
    pub attributes: Map<String, Value>,
}

/// The entry's own fields, which attributes of the same name do not replace.
const OWN: &[&str] = &[
    "message",
    "status",
    "timestamp",
    "hostname",
    "service",
    "ddsource",
    "ddtags",
    "lambda",
];

impl LogsPipeline {
    /// Buffers one record. `fallback` is the current invocation's request id, used (on-demand
    /// only) when the record carries none.
    pub fn push_attributed(&self, record: Attributed, fallback: Option<&str>) {
        if !self.enabled {
            return;
        }
        let request_id = record.request_id.as_deref().or(match self.attribution {
            super::Attribution::StreamOrder => fallback,
            super::Attribution::RecordOnly => None,
        });
        let Some(message) = self.prepare(&record.message) else {
            return;
        };
        let mut ddtags = self.ddtags.clone();
        for t in &record.tags {
            ddtags.push(',');
            ddtags.push_str(t);
        }
        let mut entry = Map::new();
        for (k, v) in record.attributes {
            if !OWN.contains(&k.as_str()) {
                entry.insert(k, v);
            }
        }
        entry.insert("message".into(), Value::String(message.into_owned()));
        entry.insert("status".into(), Value::String(record.status));
        entry.insert("timestamp".into(), record.time_ms.into());
        entry.insert("hostname".into(), Value::String(self.function.arn.clone()));
        entry.insert(
            "service".into(),
            Value::String(
                record
                    .service
                    .unwrap_or_else(|| self.function.service.clone()),
            ),
        );
        entry.insert("ddsource".into(), Value::String(record.source.into()));
        entry.insert("ddtags".into(), Value::String(ddtags));
        entry.insert(
            "lambda".into(),
            json!({ "arn": self.function.arn, "request_id": request_id }),
        );
        if let Ok(encoded) = serde_json::to_vec(&Value::Object(entry)) {
            self.store(encoded);
        }
    }
}

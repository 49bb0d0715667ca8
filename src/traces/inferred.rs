//! Trigger detection and inferred spans: from the invocation event, which AWS service invoked
//! the function, the span that stands for it — named, typed and tagged as Datadog's extension
//! names them (API Gateway REST/HTTP/WebSocket, Function URLs, SQS, SNS, SNS→SQS, EventBridge
//! (direct, via SQS or SNS), Kinesis, DynamoDB Streams, S3, MSK) — the trigger tags for the
//! `aws.lambda` span (ALB and Step Functions get tags only), and the upstream trace context the
//! event carries. Pure: ids and end times are set by the invocation.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

mod http;
mod messaging;
mod stepfunctions;
mod stores;

use super::context::{Extractor, TraceContext};
use super::proto::Span;
use serde_json::Value;
use std::collections::BTreeMap;

/// One inferred span before ids are assigned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inferred {
    pub span: Span,
    /// Synchronous triggers (HTTP) last until the invocation ends; asynchronous ones end
    /// when the function starts.
    pub synchronous: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Trigger {
    /// `function_trigger.event_source`.
    pub source: &'static str,
    /// `function_trigger.event_source_arn`.
    pub source_arn: Option<String>,
    /// Outermost first (e.g. SNS, then the SQS queue it fed).
    pub inferred: Vec<Inferred>,
    pub context: Option<TraceContext>,
    /// Tags for the `aws.lambda` span (`http.method`, `http.route`, SQS `retry_count`, …).
    pub tags: Vec<(String, String)>,
}

pub(crate) struct Options<'a> {
    pub service_mapping: &'a BTreeMap<String, String>,
    pub managed_services: bool,
    /// `DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED`: services named after the resource.
    pub representation: bool,
    /// The function's region and partition, for the ARNs Datadog builds.
    pub region: &'a str,
    pub extractor: &'a Extractor,
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

fn n(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|x| x.as_f64().or_else(|| x.as_str()?.parse().ok()))
}

/// A field as text whatever its JSON type (`"1"` or `1`).
fn text(v: &Value, path: &[&str]) -> String {
    match path.iter().try_fold(v, |v, k| v.get(k)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn ms_to_ns(ms: f64) -> i64 {
    (ms * 1e6) as i64
}

/// `None` also past what nanoseconds since 1970 can hold (year 2262): the time comes from the
/// event, so from anyone.
fn rfc3339_ns(t: &str) -> Option<i64> {
    crate::time::parse_rfc3339_ms(t)?.checked_mul(1_000_000)
}

fn last_segment(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl Options<'_> {
    /// Service of an inferred span, as Datadog resolves it: `DD_SERVICE_MAPPING` by the
    /// specific key, then by the generic key; then the resource's own name, unless the
    /// representation setting is off (or the name is empty): then the generic name.
    fn service(&self, specific: &str, generic_key: &str, name: &str, generic: &str) -> String {
        if let Some(mapped) = self
            .service_mapping
            .get(specific)
            .or_else(|| self.service_mapping.get(generic_key))
        {
            return mapped.clone();
        }
        let name = name.trim();
        if self.representation && !name.is_empty() {
            name.to_string()
        } else {
            generic.to_string()
        }
    }
}

/// A new inferred span with the tags every one carries.
fn span(name: &str, kind: &str, service: String, resource: String, start: i64) -> Span {
    let mut sp = Span {
        name: name.into(),
        service,
        resource,
        start,
        r#type: kind.into(),
        ..Default::default()
    };
    sp.meta.insert("operation_name".into(), name.into());
    sp.meta
        .insert("_inferred_span.tag_source".into(), "self".into());
    sp.meta
        .insert("_inferred_span.synchronicity".into(), "async".into());
    sp.meta.insert("span.kind".into(), "server".into());
    sp
}

fn with_meta(mut sp: Span, meta: Vec<(&str, String)>) -> Span {
    for (k, v) in meta {
        sp.meta.insert(k.to_string(), v);
    }
    sp
}

fn sync(mut i: Span) -> Inferred {
    i.meta
        .insert("_inferred_span.synchronicity".into(), "sync".into());
    Inferred {
        span: i,
        synchronous: true,
    }
}

fn asynchronous(i: Span) -> Inferred {
    Inferred {
        span: i,
        synchronous: false,
    }
}

fn tags(pairs: Vec<(&str, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Detects the trigger of `event`.
pub(crate) fn detect(event: &Value, opts: &Options<'_>) -> Trigger {
    let mut t = detect_inner(event, opts);
    if !opts.managed_services {
        t.inferred.clear();
    }
    t
}

fn detect_inner(event: &Value, opts: &Options<'_>) -> Trigger {
    if let Some(t) = http::detect(event, opts) {
        return t;
    }
    if let Some(record) = event.get("Records").and_then(|r| r.get(0)) {
        let source = s(record, &["eventSource"])
            .or_else(|| s(record, &["EventSource"]))
            .unwrap_or("");
        return match source {
            "aws:sqs" => messaging::sqs(record, opts),
            "aws:sns" => messaging::sns(record, opts),
            "aws:kinesis" => messaging::kinesis(record, opts),
            "aws:dynamodb" => stores::dynamodb(record, opts),
            "aws:s3" => stores::s3(record, opts),
            _ => Trigger::default(),
        };
    }
    if s(event, &["eventSource"]) == Some("aws:kafka")
        || s(event, &["eventSource"]) == Some("SelfManagedKafka")
    {
        return messaging::msk(event, opts);
    }
    if event.get("detail-type").is_some() && event.get("source").is_some() {
        let (sp, ctx) = messaging::eventbridge_span(event, opts);
        let source = s(event, &["source"]).unwrap_or("").to_string();
        return Trigger {
            source: "eventbridge",
            source_arn: Some(source).filter(|s| !s.is_empty()),
            inferred: vec![asynchronous(sp)],
            context: ctx,
            ..Default::default()
        };
    }
    if let Some(t) = stepfunctions::detect(event, opts) {
        return t;
    }
    // No known trigger: a context in `headers` (any invoke that forwards HTTP headers) still
    // joins the caller's trace.
    let headers = event
        .get("headers")
        .or_else(|| event.get("request").and_then(|r| r.get("headers")));
    Trigger {
        context: headers.and_then(|h| opts.extractor.headers(h)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;

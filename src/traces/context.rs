//! Trace context propagation in the styles Datadog's tracers speak: Datadog headers
//! (`x-datadog-trace-id`, `-parent-id`, `-sampling-priority`, `x-datadog-tags` with
//! `_dd.p.tid` for 128-bit ids and the other `_dd.p.*` tags), W3C `traceparent`/`tracestate`,
//! B3 multi-header and B3 single-header — read from a case-insensitive header map (HTTP
//! triggers) or a `_datadog` carrier (queues and buses). Pure.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use crate::config::PropagationStyle;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TraceContext {
    pub trace_id: u64,
    /// Upper 64 bits of a 128-bit trace id (`_dd.p.tid`), 0 when absent.
    pub trace_id_high: u64,
    pub parent_id: u64,
    pub sampling_priority: Option<i32>,
    /// Propagation tags (`_dd.p.*` other than the trace id's high bits), kept on the root
    /// inferred span (or `aws.lambda`) as Datadog does.
    pub tags: Vec<(String, String)>,
    /// The W3C `baggage` header, passed on to the tracer as it came.
    pub baggage: Option<String>,
}

/// Reads trace contexts in the styles `DD_TRACE_PROPAGATION_STYLE(_EXTRACT)` names, in order:
/// the first style that finds a context wins.
#[derive(Debug, Clone)]
pub(crate) struct Extractor {
    styles: Vec<PropagationStyle>,
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new(&crate::config::apm::DEFAULT_STYLES)
    }
}

impl Extractor {
    pub(crate) fn new(styles: &[PropagationStyle]) -> Self {
        Self {
            styles: styles.to_vec(),
        }
    }

    /// From a header map (a JSON object of header names to strings).
    pub(crate) fn headers(&self, headers: &Value) -> Option<TraceContext> {
        let h = headers.as_object()?;
        let mut ctx = self.styles.iter().find_map(|style| match style {
            PropagationStyle::Datadog => datadog(h),
            PropagationStyle::TraceContext => w3c(h),
            PropagationStyle::B3Multi => b3multi(h),
            PropagationStyle::B3 => b3single(h),
        })?;
        ctx.baggage = get(h, "baggage").map(str::to_string);
        Some(ctx)
    }

    /// A `_datadog` carrier: a JSON object, or a JSON string holding one, or base64 of that
    /// (what a Lambda authorizer instrumented by Datadog leaves in its context).
    pub(crate) fn carrier(&self, v: &Value) -> Option<TraceContext> {
        match v {
            Value::Object(_) => self.headers(v),
            Value::String(s) => serde_json::from_str::<Value>(s)
                .ok()
                .or_else(|| serde_json::from_slice(&crate::base64::decode(s)?).ok())
                .and_then(|m| self.headers(&m)),
            _ => None,
        }
    }
}

/// Looks a header up whatever its case.
fn get<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn datadog(h: &Map<String, Value>) -> Option<TraceContext> {
    let trace_id = get(h, "x-datadog-trace-id")?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|t| *t != 0)?;
    let parent_id = get(h, "x-datadog-parent-id")
        .and_then(|p| p.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let sampling_priority =
        get(h, "x-datadog-sampling-priority").and_then(|p| p.trim().parse().ok());
    let (trace_id_high, tags) = datadog_tags(get(h, "x-datadog-tags").unwrap_or(""));
    Some(TraceContext {
        trace_id,
        trace_id_high,
        parent_id,
        sampling_priority,
        tags,
        baggage: None,
    })
}

/// An `x-datadog-tags` value: the trace id's upper 64 bits (`_dd.p.tid`, 0 when absent) and
/// the other propagation tags (`_dd.p.*`).
pub(crate) fn datadog_tags(value: &str) -> (u64, Vec<(String, String)>) {
    let mut trace_id_high = 0;
    let mut tags = Vec::new();
    for tag in value.split(',') {
        let Some((k, v)) = tag.trim().split_once('=') else {
            continue;
        };
        if k == "_dd.p.tid" {
            trace_id_high = u64::from_str_radix(v, 16).unwrap_or(0);
        } else if k.starts_with("_dd.p.") {
            tags.push((k.to_string(), v.to_string()));
        }
    }
    (trace_id_high, tags)
}

/// A 32-hex (or 16-hex) trace id as (high, low).
fn hex_trace_id(t: &str) -> Option<(u64, u64)> {
    let (high, low) = match t.len() {
        32 => (u64::from_str_radix(t.get(..16)?, 16).ok()?, t.get(16..)?),
        16 => (0, t),
        _ => return None,
    };
    let low = u64::from_str_radix(low, 16).ok()?;
    (high != 0 || low != 0).then_some((high, low))
}

/// `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; Datadog's
/// propagation tags ride in `tracestate` (`dd=s:…;t.dm:…`).
fn w3c(h: &Map<String, Value>) -> Option<TraceContext> {
    let tp = get(h, "traceparent")?.trim();
    let mut parts = tp.split('-').skip(1);
    let (Some(trace), Some(parent), Some(flags)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
        return None;
    }
    let (trace_id_high, trace_id) = hex_trace_id(trace)?;
    let parent_id = u64::from_str_radix(parent, 16).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let mut sampling_priority = i32::from(flags & 1);
    // The headers themselves ride along (Datadog keeps them on the root span).
    let mut tags = vec![("traceparent".to_string(), tp.to_string())];
    let state = get(h, "tracestate").map(str::trim).unwrap_or("");
    if !state.is_empty() {
        tags.push(("tracestate".to_string(), state.to_string()));
    }
    let dd = state.split(',').find_map(|m| m.trim().strip_prefix("dd="));
    for field in dd.unwrap_or("").split(';') {
        match field.split_once(':') {
            Some(("p", p)) => tags.push(("_dd.parent_id".to_string(), p.to_string())),
            Some(("s", p)) => {
                // The Datadog priority when it agrees with the sampled flag.
                if let Ok(p) = p.parse::<i32>()
                    && (p > 0) == (sampling_priority > 0)
                {
                    sampling_priority = p;
                }
            }
            Some((k, v)) if k.starts_with("t.") && k != "t.tid" => {
                tags.push((
                    format!("_dd.p.{}", k.get(2..).unwrap_or("")),
                    v.replace('~', "="),
                ));
            }
            _ => {}
        }
    }
    Some(TraceContext {
        trace_id,
        trace_id_high,
        parent_id,
        sampling_priority: Some(sampling_priority),
        tags,
        baggage: None,
    })
}

fn b3_sampled(v: &str) -> Option<i32> {
    match v {
        "1" | "true" => Some(1),
        "0" | "false" => Some(0),
        "d" => Some(2),
        _ => None,
    }
}

/// `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (or `x-b3-flags: 1`).
fn b3multi(h: &Map<String, Value>) -> Option<TraceContext> {
    let (trace_id_high, trace_id) = hex_trace_id(get(h, "x-b3-traceid")?.trim())?;
    let parent_id = get(h, "x-b3-spanid")
        .and_then(|p| u64::from_str_radix(p.trim(), 16).ok())
        .unwrap_or(0);
    let sampling_priority = match get(h, "x-b3-flags").map(str::trim) {
        Some("1") => Some(2),
        _ => get(h, "x-b3-sampled").and_then(|s| b3_sampled(s.trim())),
    };
    Some(TraceContext {
        trace_id,
        trace_id_high,
        parent_id,
        sampling_priority,
        ..Default::default()
    })
}

/// `b3: <trace id>-<span id>[-<sampled>[-<parent span id>]]`, or just `b3: 0|1|d`.
fn b3single(h: &Map<String, Value>) -> Option<TraceContext> {
    let mut parts = get(h, "b3")?.trim().split('-');
    let (trace_id_high, trace_id) = hex_trace_id(parts.next()?)?;
    let parent_id = u64::from_str_radix(parts.next()?, 16).ok()?;
    let sampling_priority = parts.next().and_then(b3_sampled);
    Some(TraceContext {
        trace_id,
        trace_id_high,
        parent_id,
        sampling_priority,
        ..Default::default()
    })
}

/// Response headers that hand the context to the tracer (start-invocation): the trace id,
/// the span to parent under, the sampling decision if one was made upstream, and the
/// propagation tags.
pub(crate) fn to_headers(ctx: &TraceContext, parent_id: u64) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("x-datadog-trace-id", ctx.trace_id.to_string()),
        ("x-datadog-parent-id", parent_id.to_string()),
    ];
    if let Some(p) = ctx.sampling_priority {
        out.push(("x-datadog-sampling-priority", p.to_string()));
    }
    let mut tags: Vec<String> = ctx
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with("_dd.p."))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if ctx.trace_id_high != 0 {
        tags.push(format!("_dd.p.tid={:016x}", ctx.trace_id_high));
    }
    if !tags.is_empty() {
        out.push(("x-datadog-tags", tags.join(",")));
    }
    if let Some(b) = &ctx.baggage {
        out.push(("baggage", b.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn extract(m: Map<String, Value>) -> Option<TraceContext> {
        Extractor::default().headers(&Value::Object(m))
    }

    fn from_carrier(v: &Value) -> Option<TraceContext> {
        Extractor::default().carrier(v)
    }

    /// Issue 11, row 12: the header comes from the internet; multi-byte characters of the right
    /// byte length are refused, never sliced through.
    #[test]
    fn a_traceparent_with_multibyte_characters_is_refused_without_panicking() {
        for tp in [
            "00-é0000000000000000000000000000000-0000000000000001-01",
            "00-0000000000000000é000000000000000-0000000000000001-01",
            "00-000000000000000é0000000000000000-0000000000000001-01",
            "00-00000000000000000000000000000001-00000000000000é0-01",
            "00-00000000000000000000000000000001-0000000000000001-é",
        ] {
            assert_eq!(extract(map(json!({ "traceparent": tp }))), None, "{tp}");
        }
    }

    #[test]
    fn datadog_headers_any_case_with_128_bit_tid() {
        let h = map(
            json!({"X-Datadog-Trace-Id": "123", "x-datadog-parent-id": "456", "x-datadog-sampling-priority": "2", "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=66d1b2c300000000"}),
        );
        assert_eq!(
            extract(h.clone()),
            Some(TraceContext {
                trace_id: 123,
                trace_id_high: 0x66d1_b2c3_0000_0000,
                parent_id: 456,
                sampling_priority: Some(2),
                tags: vec![("_dd.p.dm".into(), "-0".into())],
                baggage: None,
            })
        );
    }

    #[test]
    fn w3c_traceparent() {
        let h =
            map(json!({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}));
        let c = extract(h.clone()).unwrap();
        assert_eq!(
            (
                c.trace_id_high,
                c.trace_id,
                c.parent_id,
                c.sampling_priority
            ),
            (
                0x4bf9_2f35_77b3_4da6,
                0xa3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                Some(1)
            )
        );
        for bad in [
            "00-zz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(extract(map(json!({"traceparent": bad}))), None, "{bad}");
        }
    }

    #[test]
    fn w3c_tracestate_tags_ride_along() {
        let ctx = extract(map(json!({
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "dd=s:2;p:00f067aa0ba902b7;t.dm:-4,other=x"})))
        .unwrap();
        assert_eq!(ctx.sampling_priority, Some(2));
        for (k, v) in [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "dd=s:2;p:00f067aa0ba902b7;t.dm:-4,other=x"),
            ("_dd.parent_id", "00f067aa0ba902b7"),
            ("_dd.p.dm", "-4"),
        ] {
            assert!(ctx.tags.contains(&(k.to_string(), v.to_string())), "{k}");
        }
        let headers = to_headers(&ctx, 1);
        let dd_tags = headers
            .iter()
            .find(|(k, _)| *k == "x-datadog-tags")
            .unwrap();
        assert!(dd_tags.1.contains("_dd.p.dm=-4") && !dd_tags.1.contains("traceparent"));
    }

    #[test]
    fn baggage_is_handed_on_as_it_came() {
        let ctx = extract(map(
            json!({"x-datadog-trace-id": "5", "x-datadog-parent-id": "6",
            "Baggage": "user.id=42,team=a"}),
        ))
        .unwrap();
        let headers = to_headers(&ctx, 6);
        assert!(headers.contains(&("baggage", "user.id=42,team=a".to_string())));
    }

    #[test]
    fn carriers_and_missing_context() {
        assert_eq!(
            from_carrier(&json!(
                "{\"x-datadog-trace-id\":\"9\",\"x-datadog-parent-id\":\"8\"}"
            ))
            .map(|c| (c.trace_id, c.parent_id)),
            Some((9, 8))
        );
        assert_eq!(extract(map(json!({"x-datadog-trace-id": "0"}))), None);
        assert_eq!(extract(map(json!({}))), None);
        assert_eq!(from_carrier(&json!(5)), None);
    }
}

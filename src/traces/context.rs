//! Trace context propagation: Datadog headers (`x-datadog-trace-id`, `-parent-id`,
//! `-sampling-priority`, `x-datadog-tags` with `_dd.p.tid` for 128-bit ids) and W3C
//! `traceparent`, read from a case-insensitive header map (HTTP triggers) or a `_datadog`
//! carrier (queues and buses). Pure.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TraceContext {
    pub trace_id: u64,
    /// Upper 64 bits of a 128-bit trace id (`_dd.p.tid`), 0 when absent.
    pub trace_id_high: u64,
    pub parent_id: u64,
    pub sampling_priority: Option<i32>,
}

/// Looks a header up whatever its case.
fn get<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// Extracts a context from headers; Datadog headers first, then W3C.
pub(crate) fn extract(headers: &Map<String, Value>) -> Option<TraceContext> {
    datadog(headers).or_else(|| w3c(headers))
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
    let trace_id_high = get(h, "x-datadog-tags")
        .and_then(|tags| {
            tags.split(',')
                .find_map(|t| t.trim().strip_prefix("_dd.p.tid="))
        })
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    Some(TraceContext {
        trace_id,
        trace_id_high,
        parent_id,
        sampling_priority,
    })
}

/// `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
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
    let trace_id_high = u64::from_str_radix(trace.get(..16)?, 16).ok()?;
    let trace_id = u64::from_str_radix(trace.get(16..)?, 16).ok()?;
    let parent_id = u64::from_str_radix(parent, 16).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == 0 && trace_id_high == 0 {
        return None;
    }
    Some(TraceContext {
        trace_id,
        trace_id_high,
        parent_id,
        sampling_priority: Some(i32::from(flags & 1)),
    })
}

/// A `_datadog` carrier: a JSON object, or a JSON string holding one.
pub(crate) fn from_carrier(v: &Value) -> Option<TraceContext> {
    match v {
        Value::Object(m) => extract(m),
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(s)
            .ok()
            .and_then(|m| extract(&m)),
        _ => None,
    }
}

/// Response headers that hand the context to the tracer (start-invocation).
pub(crate) fn to_headers(ctx: &TraceContext, parent_id: u64) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("x-datadog-trace-id", ctx.trace_id.to_string()),
        ("x-datadog-parent-id", parent_id.to_string()),
        ("x-datadog-span-id", parent_id.to_string()),
        (
            "x-datadog-sampling-priority",
            ctx.sampling_priority.unwrap_or(1).to_string(),
        ),
    ];
    if ctx.trace_id_high != 0 {
        out.push((
            "x-datadog-tags",
            format!("_dd.p.tid={:016x}", ctx.trace_id_high),
        ));
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
            assert_eq!(extract(&map(json!({ "traceparent": tp }))), None, "{tp}");
        }
    }

    #[test]
    fn datadog_headers_any_case_with_128_bit_tid() {
        let h = map(
            json!({"X-Datadog-Trace-Id": "123", "x-datadog-parent-id": "456", "x-datadog-sampling-priority": "2", "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=66d1b2c300000000"}),
        );
        assert_eq!(
            extract(&h),
            Some(TraceContext {
                trace_id: 123,
                trace_id_high: 0x66d1_b2c3_0000_0000,
                parent_id: 456,
                sampling_priority: Some(2)
            })
        );
    }

    #[test]
    fn w3c_traceparent() {
        let h =
            map(json!({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}));
        let c = extract(&h).unwrap();
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
            assert_eq!(extract(&map(json!({"traceparent": bad}))), None, "{bad}");
        }
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
        assert_eq!(extract(&map(json!({"x-datadog-trace-id": "0"}))), None);
        assert_eq!(extract(&map(json!({}))), None);
        assert_eq!(from_carrier(&json!(5)), None);
    }
}

//! Events without their trace context, as a function invoked by a non-Datadog caller sees them.

use serde_json::{Value, json};

/// The event without any trace context: Datadog headers, W3C headers and `_datadog` carriers
/// removed at every depth, inside JSON strings and base64 data too (a Step Functions context
/// object under `_datadog` stays: it is the event, not a carrier).
fn strip_context(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, x)| {
                    let k = k.to_ascii_lowercase();
                    !(k.starts_with("x-datadog-")
                        || k == "traceparent"
                        || k == "tracestate"
                        || (k == "_datadog" && x.get("Execution").is_none()))
                })
                .map(|(k, x)| (k.clone(), strip_context(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_context).collect()),
        Value::String(s) => {
            if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                return Value::String(strip_context(&inner).to_string());
            }
            v.clone()
        }
        other => other.clone(),
    }
}

/// Kinesis data is base64 JSON: strip it too.
pub(crate) fn strip_event(event: &Value) -> Value {
    let mut e = strip_context(event);
    if let Some(data) = e.pointer_mut("/Records/0/kinesis/data") {
        let raw = b64_decode(data.as_str().unwrap());
        let inner: Value = serde_json::from_slice(&raw).unwrap();
        *data = json!(b64_encode(strip_context(&inner).to_string().as_bytes()));
    }
    e
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(B64[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        bits = (bits << 6) | B64.iter().position(|x| *x == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

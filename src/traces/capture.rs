//! Payload capture (`DD_CAPTURE_LAMBDA_PAYLOAD`): the event and the response as
//! `function.request.*` / `function.response.*` tags. JSON found inside strings (an API body,
//! an SQS message) is expanded like the rest; keys that look like secrets are redacted at every
//! depth (Datadog's list, plus `Authorization` and `Cookie` in any case); values are truncated;
//! beyond `DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH` a value is kept as JSON text. Pure.

use serde_json::Value;

const MAX_CAPTURED_VALUE: usize = 5_000;
/// Key fragments (lower case) whose values are never captured.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "credential",
    "session",
    "signature",
];
/// Tags a single capture may produce: a huge event must not turn into a huge span.
const MAX_TAGS: usize = 1_000;

/// Flattens JSON into `prefix.a.b` tags up to `depth` levels.
pub(crate) fn flatten(prefix: &str, v: &Value, depth: u64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(prefix, v, 0, depth, &mut out);
    out
}

fn is_secret(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| leaf.contains(s))
}

fn walk(key: &str, v: &Value, level: u64, max: u64, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_TAGS {
        return;
    }
    if level > 0 && is_secret(key) {
        out.push((key.to_string(), "redacted".into()));
        return;
    }
    match v {
        Value::Object(m) if level < max && !m.is_empty() => {
            for (k, child) in m {
                walk(&format!("{key}.{k}"), child, level + 1, max, out);
            }
        }
        Value::Array(a) if level < max && !a.is_empty() => {
            for (i, child) in a.iter().enumerate() {
                walk(&format!("{key}.{i}"), child, level + 1, max, out);
            }
        }
        // JSON text inside a string is data like the rest (and may hold secrets).
        Value::String(s) if looks_like_json(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => {
                if level < max {
                    walk(key, &inner, level, max, out);
                } else {
                    out.push((key.to_string(), truncate(&redacted_json(inner).to_string())));
                }
            }
            _ => out.push((key.to_string(), truncate(s))),
        },
        Value::String(s) => out.push((key.to_string(), truncate(s))),
        Value::Object(_) | Value::Array(_) => {
            out.push((
                key.to_string(),
                truncate(&redacted_json(v.clone()).to_string()),
            ));
        }
        other => out.push((key.to_string(), truncate(&other.to_string()))),
    }
}

fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

/// A value kept as JSON text still must not carry secrets.
fn redacted_json(mut v: Value) -> Value {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if is_secret(k) {
                        *child = Value::String("redacted".into());
                    } else {
                        scrub(child);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(scrub),
            Value::String(s) if looks_like_json(s) => {
                if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                    scrub(&mut inner);
                    *s = inner.to_string();
                }
            }
            _ => {}
        }
    }
    scrub(&mut v);
    v
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_CAPTURED_VALUE {
        return s.to_string();
    }
    let mut cut = MAX_CAPTURED_VALUE;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", s.get(..cut).unwrap_or(""))
}

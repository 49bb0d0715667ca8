//! OTLP attribute values as Datadog reads them: the string form of any value, numbers for
//! metrics, lookups over a resource's and a record's attributes, and the resource attributes
//! that become Datadog tags (`service`, `env`, `version`, …). Pure.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

/// The value of `key` among `attrs`, if present.
pub(crate) fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The string form of `key`'s value, if present and not empty.
pub(crate) fn get_str(attrs: &[KeyValue], key: &str) -> Option<String> {
    get(attrs, key).map(text).filter(|s| !s.is_empty())
}

/// The first of `keys` present (not empty) in `attrs`.
pub(crate) fn first_str(attrs: &[KeyValue], keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| get_str(attrs, k))
}

/// A whole number (an int, or a float without a fraction).
pub(crate) fn get_int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match get(attrs, key)? {
        Value::IntValue(i) => Some(*i),
        Value::DoubleValue(d) if d.fract() == 0.0 && d.abs() < 9.0e18 => Some(*d as i64),
        Value::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The string form Datadog gives a value: strings as they are, numbers and booleans as
/// written, arrays and maps as JSON, bytes as base64.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => number(*d),
        Value::BytesValue(b) => crate::base64::encode(b),
        Value::ArrayValue(_) | Value::KvlistValue(_) => json(v).to_string(),
        // An index into a profile's string table: meaningless outside profiles.
        Value::StringValueStrindex(_) => String::new(),
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it: no exponent, no `.0`.
pub(crate) fn number(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{}", d as i64)
    } else {
        d.to_string()
    }
}

/// The JSON form of a value (log attributes, span events).
pub(crate) fn json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::StringValue(s) => J::String(s.clone()),
        Value::BoolValue(b) => J::Bool(*b),
        Value::IntValue(i) => J::from(*i),
        Value::DoubleValue(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::BytesValue(b) => J::String(crate::base64::encode(b)),
        Value::ArrayValue(a) => J::Array(a.values.iter().map(any_json).collect()),
        Value::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, any_json)))
                .collect(),
        ),
        Value::StringValueStrindex(_) => J::Null,
    }
}

/// `json` of an `AnyValue` (which may hold nothing).
pub(crate) fn any_json(v: &AnyValue) -> serde_json::Value {
    v.value.as_ref().map_or(serde_json::Value::Null, json)
}

/// Resource attributes Datadog turns into tags of the same meaning (its semantic-conventions
/// mapping, the part that applies in Lambda), in the order they are looked up.
const RESOURCE_TAGS: &[(&str, &str)] = &[
    ("service.name", "service"),
    ("deployment.environment.name", "env"),
    ("deployment.environment", "env"),
    ("service.version", "version"),
    ("cloud.provider", "cloud_provider"),
    ("cloud.region", "region"),
    ("cloud.availability_zone", "zone"),
    ("cloud.account.id", "account_id"),
    ("faas.name", "functionname"),
    ("container.id", "container_id"),
    ("k8s.namespace.name", "kube_namespace"),
];

/// The Datadog tags a resource gives its data: `key:value` for each mapped attribute (the first
/// of `deployment.environment.name` and `deployment.environment` only).
pub(crate) fn resource_tags(attrs: &[KeyValue]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (otel, dd) in RESOURCE_TAGS {
        if out.iter().any(|t| t.split(':').next() == Some(dd)) {
            continue;
        }
        if let Some(v) = get_str(attrs, otel) {
            out.push(format!("{dd}:{v}"));
        }
    }
    out
}

/// `key:value` tags of a data point's attributes.
pub(crate) fn tags(attrs: &[KeyValue]) -> impl Iterator<Item = String> + '_ {
    attrs.iter().filter_map(|kv| {
        let v = kv.value.as_ref()?.value.as_ref()?;
        Some(format!("{}:{}", kv.key, text(v)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..KeyValue::default()
        }
    }

    #[test]
    fn values_read_as_datadog_writes_them() {
        assert_eq!(text(&Value::DoubleValue(3.0)), "3");
        assert_eq!(text(&Value::DoubleValue(0.25)), "0.25");
        assert_eq!(text(&Value::BoolValue(true)), "true");
        let attrs = [
            kv("service.name", Value::StringValue("checkout".into())),
            kv("deployment.environment", Value::StringValue("old".into())),
            kv(
                "deployment.environment.name",
                Value::StringValue("prod".into()),
            ),
            kv("n", Value::DoubleValue(42.0)),
        ];
        assert_eq!(resource_tags(&attrs), ["service:checkout", "env:prod"]);
        assert_eq!(get_int(&attrs, "n"), Some(42));
        assert_eq!(
            first_str(&attrs, &["x", "service.name"]).as_deref(),
            Some("checkout")
        );
    }
}

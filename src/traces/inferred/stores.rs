//! Storage triggers: S3 notifications and DynamoDB Streams — their inferred spans and the span
//! pointers (`_dd.span_links`) that link them to the span that wrote the object or item.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::*;
use sha2::{Digest, Sha256};

/// A span pointer's hash: the first 128 bits of SHA-256 over the parts joined by `|`, in hex
/// (Datadog's span-pointer rules for S3 objects and DynamoDB items).
pub(super) fn pointer_hash(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("|").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// `_dd.span_links` holding one upstream span pointer.
fn span_links(kind: &str, hash: &str) -> String {
    serde_json::json!([{
        "attributes": {
            "link.kind": "span-pointer",
            "ptr.dir": "u",
            "ptr.hash": hash,
            "ptr.kind": kind,
        },
        "span_id": "0",
        "trace_id": "0",
    }])
    .to_string()
}

pub(super) fn s3(record: &Value, opts: &Options<'_>) -> Trigger {
    let bucket = text(record, &["s3", "bucket", "name"]);
    let arn = text(record, &["s3", "bucket", "arn"]);
    let key = text(record, &["s3", "object", "key"]);
    let etag = text(record, &["s3", "object", "eTag"]);
    let start = s(record, &["eventTime"]).and_then(rfc3339_ns).unwrap_or(0);
    let mut meta = vec![
        ("event_name", text(record, &["eventName"])),
        ("bucketname", bucket.clone()),
        ("bucket_arn", arn.clone()),
        ("object_key", key.clone()),
        ("object_size", text(record, &["s3", "object", "size"])),
        ("object_etag", etag.clone()),
    ];
    let etag = etag.trim_matches('"');
    if !bucket.is_empty() && !key.is_empty() && !etag.is_empty() {
        let hash = pointer_hash(&[&bucket, &key, etag]);
        meta.push(("_dd.span_links", span_links("aws.s3.object", &hash)));
    }
    let sp = span(
        "aws.s3",
        "web",
        opts.service(&bucket, "lambda_s3", &bucket, "s3"),
        bucket,
        start,
    );
    Trigger {
        source: "s3",
        source_arn: Some(arn).filter(|a| !a.is_empty()),
        inferred: vec![asynchronous(with_meta(sp, meta))],
        ..Default::default()
    }
}

/// A DynamoDB attribute value as text: `{"S": …}`, `{"N": …}` or `{"B": base64}`.
fn attribute(v: &Value) -> Option<String> {
    if let Some(s) = v.get("S").or_else(|| v.get("N")).and_then(Value::as_str) {
        return Some(s.to_string());
    }
    let b = crate::base64::decode(v.get("B")?.as_str()?)?;
    String::from_utf8(b).ok()
}

pub(super) fn dynamodb(record: &Value, opts: &Options<'_>) -> Trigger {
    let arn = text(record, &["eventSourceARN"]);
    let table = arn.split('/').nth(1).unwrap_or("").to_string();
    let event_name = text(record, &["eventName"]);
    let start =
        (n(record, &["dynamodb", "ApproximateCreationDateTime"]).unwrap_or(0.0) * 1e9) as i64;
    let mut meta = vec![
        ("table_name", table.clone()),
        ("event_id", text(record, &["eventID"])),
        ("event_name", event_name.clone()),
        ("event_version", text(record, &["eventVersion"])),
        ("event_source_arn", arn.clone()),
        ("source_arn", arn.clone()),
        ("size_bytes", text(record, &["dynamodb", "SizeBytes"])),
        (
            "stream_view_type",
            text(record, &["dynamodb", "StreamViewType"]),
        ),
    ];
    // Primary keys sorted by name: one (partition) or two (partition and sort).
    let mut keys: Vec<(String, String)> = record
        .get("dynamodb")
        .and_then(|d| d.get("Keys"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), attribute(v)?)))
        .collect();
    keys.sort();
    let (k1, v1) = keys.first().cloned().unwrap_or_default();
    let (k2, v2) = keys.get(1).cloned().unwrap_or_default();
    if !table.is_empty() && !k1.is_empty() {
        let hash = pointer_hash(&[&table, &k1, &v1, &k2, &v2]);
        meta.push(("_dd.span_links", span_links("aws.dynamodb.item", &hash)));
    }
    let sp = span(
        "aws.dynamodb",
        "web",
        opts.service(&table, "lambda_dynamodb", &table, "dynamodb"),
        format!("{event_name} {table}"),
        start,
    );
    Trigger {
        source: "dynamodb",
        source_arn: Some(arn).filter(|a| !a.is_empty()),
        inferred: vec![asynchronous(with_meta(sp, meta))],
        ..Default::default()
    }
}

//! OTLP spans → Datadog spans, as Datadog's OTLP ingestion maps them (its Agent's receiver,
//! "v2" operation and resource names): 128-bit trace ids (`_dd.p.tid` for the upper half,
//! `otel.trace_id` whole), service / env / version from the resource, operation name, resource
//! and type from the semantic conventions, status → error, attributes → meta and metrics, events
//! → the `events` meta, links → span links. Spans are grouped into one chunk per trace id. The
//! processing every span then gets (unified tags, rules, `_dd.compute_stats`) is the pipeline's.
//! Pure.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // reads input from outside the process

use super::attrs::{self, first_str, get_int, get_str};
use crate::traces::proto::{Span, SpanLink};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, Span as OtelSpan, span::SpanKind, status::StatusCode,
};
use std::collections::{BTreeMap, HashMap};

/// Datadog's service for spans whose resource names none.
pub(crate) const NO_SERVICE: &str = "otlpresourcenoservicename";

/// How names are chosen (`DD_OTLP_CONFIG_TRACES_*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Naming {
    pub span_name_as_resource_name: bool,
    pub remappings: BTreeMap<String, String>,
}

/// One resource's spans by trace, in arrival order, and how many were refused (ids of the
/// wrong length or zero).
pub(crate) fn map(rs: &ResourceSpans, naming: &Naming) -> (Vec<Vec<Span>>, u64) {
    let mut traces: Vec<Vec<Span>> = Vec::new();
    let mut index: HashMap<u128, usize> = HashMap::new();
    let mut rejected = 0;
    {
        let resource: &[KeyValue] = rs.resource.as_ref().map_or(&[], |r| &r.attributes);
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let Some((trace, span)) = convert(s, resource, ss.scope.as_ref(), naming) else {
                    rejected += 1;
                    continue;
                };
                match index.get(&trace).and_then(|i| traces.get_mut(*i)) {
                    Some(t) => t.push(span),
                    None => {
                        index.insert(trace, traces.len());
                        traces.push(vec![span]);
                    }
                }
            }
        }
    }
    (traces, rejected)
}

fn id64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn id128(bytes: &[u8]) -> Option<u128> {
    Some(u128::from_be_bytes(bytes.try_into().ok()?))
}

/// A string attribute of the span, else of the resource.
fn span_or_resource(span: &[KeyValue], resource: &[KeyValue], keys: &[&str]) -> Option<String> {
    first_str(span, keys).or_else(|| first_str(resource, keys))
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal | SpanKind::Unspecified => "internal",
    }
}

fn convert(
    s: &OtelSpan,
    resource: &[KeyValue],
    scope: Option<&InstrumentationScope>,
    naming: &Naming,
) -> Option<(u128, Span)> {
    let trace = id128(&s.trace_id).filter(|t| *t != 0)?;
    let span_id = id64(&s.span_id).filter(|i| *i != 0)?;
    let parent_id = if s.parent_span_id.is_empty() {
        0
    } else {
        id64(&s.parent_span_id)?
    };
    let kind = SpanKind::try_from(s.kind).unwrap_or(SpanKind::Unspecified);
    let a = &s.attributes;
    let start = i64::try_from(s.start_time_unix_nano).unwrap_or(i64::MAX);
    let end = i64::try_from(s.end_time_unix_nano).unwrap_or(i64::MAX);
    let mut span = Span {
        trace_id: trace as u64,
        span_id,
        parent_id,
        start,
        duration: end.saturating_sub(start).max(0),
        ..Span::default()
    };
    span.service = first_str(a, &["datadog.service", "service.name"])
        .or_else(|| get_str(resource, "service.name"))
        .unwrap_or_else(|| NO_SERVICE.to_string());
    let name = get_str(a, "datadog.name").unwrap_or_else(|| {
        if naming.span_name_as_resource_name {
            s.name.clone()
        } else {
            operation_name(s, kind)
        }
    });
    span.name = naming.remappings.get(&name).cloned().unwrap_or(name);
    span.resource =
        get_str(a, "datadog.resource").unwrap_or_else(|| resource_name(s, kind, resource));
    span.r#type = get_str(a, "datadog.type")
        .or_else(|| span_or_resource(a, resource, &["span.type"]))
        .unwrap_or_else(|| span_type(kind, a, resource).to_string());
    let meta = &mut span.meta;
    meta.insert(
        "span.kind".into(),
        get_str(a, "datadog.span.kind").unwrap_or_else(|| kind_name(kind).into()),
    );
    // Resource attributes first: the span's own win.
    for kv in resource {
        if let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            let key = match kv.key.as_str() {
                "deployment.environment" | "deployment.environment.name" => "env",
                "service.version" => "version",
                "service.name" => continue,
                k => k,
            };
            if !(key == "env" && meta.contains_key("env")) {
                meta.insert(key.to_string(), attrs::text(v));
            }
        }
    }
    if let Some(env) = first_str(resource, &["deployment.environment.name"]) {
        meta.insert("env".into(), env);
    }
    if let Some(scope) = scope {
        for kv in &scope.attributes {
            if let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                meta.insert(kv.key.clone(), attrs::text(v));
            }
        }
        if !scope.name.is_empty() {
            meta.insert("otel.scope.name".into(), scope.name.clone());
        }
        if !scope.version.is_empty() {
            meta.insert("otel.scope.version".into(), scope.version.clone());
        }
    }
    for kv in a {
        let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        let key = kv.key.as_str();
        if key.starts_with("datadog.") {
            continue;
        }
        match (key, v) {
            ("sampling.priority", Value::IntValue(_) | Value::DoubleValue(_)) => {
                let p = get_int(a, key).unwrap_or(1) as f64;
                span.metrics.insert("_sampling_priority_v1".into(), p);
            }
            ("analytics.event", _) => {
                let on = attrs::text(v).eq_ignore_ascii_case("true");
                span.metrics
                    .insert("_dd1.sr.eausr".into(), if on { 1.0 } else { 0.0 });
            }
            ("operation.name" | "resource.name" | "span.type" | "service.name", _) => {}
            (_, Value::IntValue(i)) => {
                span.metrics.insert(key.to_string(), *i as f64);
            }
            (_, Value::DoubleValue(d)) => {
                span.metrics.insert(key.to_string(), *d);
            }
            _ => {
                span.meta.insert(key.to_string(), attrs::text(v));
            }
        }
    }
    for (dd, key) in [
        ("env", "datadog.env"),
        ("version", "datadog.version"),
        ("error.message", "datadog.error.msg"),
        ("error.type", "datadog.error.type"),
        ("error.stack", "datadog.error.stack"),
    ] {
        if let Some(v) = get_str(a, key) {
            span.meta.insert(dd.into(), v);
        }
    }
    let code = get_int(a, "datadog.http_status_code")
        .or_else(|| get_int(a, "http.response.status_code"))
        .or_else(|| get_int(a, "http.status_code"))
        .filter(|c| *c != 0);
    if let Some(c) = code {
        span.meta.insert("http.status_code".into(), c.to_string());
    }
    let high = (trace >> 64) as u64;
    span.meta
        .insert("otel.trace_id".into(), format!("{trace:032x}"));
    if high != 0 {
        span.meta.insert("_dd.p.tid".into(), format!("{high:016x}"));
    }
    if !s.trace_state.is_empty() {
        span.meta
            .insert("w3c.tracestate".into(), s.trace_state.clone());
    }
    span.metrics
        .entry("_sampling_priority_v1".into())
        .or_insert(1.0);
    if matches!(kind, SpanKind::Client | SpanKind::Producer)
        || get_int(a, "_dd.measured") == Some(1)
    {
        span.metrics.insert("_dd.measured".into(), 1.0);
    }
    if parent_id == 0 || matches!(kind, SpanKind::Server | SpanKind::Consumer) {
        span.metrics.insert("_top_level".into(), 1.0);
    }
    span.span_links = s.links.iter().filter_map(link).collect();
    events(s, &mut span);
    status(s, &mut span);
    Some((trace, span))
}

fn link(l: &opentelemetry_proto::tonic::trace::v1::span::Link) -> Option<SpanLink> {
    let trace = id128(&l.trace_id)?;
    Some(SpanLink {
        trace_id: trace as u64,
        trace_id_high: (trace >> 64) as u64,
        span_id: id64(&l.span_id)?,
        attributes: l
            .attributes
            .iter()
            .filter_map(|kv| {
                Some((
                    kv.key.clone(),
                    attrs::text(kv.value.as_ref()?.value.as_ref()?),
                ))
            })
            .collect(),
        tracestate: l.trace_state.clone(),
        flags: l.flags,
    })
}

/// Events as the `events` meta (JSON, as Datadog's Agent writes it), and the exception flag.
fn events(s: &OtelSpan, span: &mut Span) {
    if s.events.is_empty() {
        return;
    }
    let list: Vec<serde_json::Value> = s
        .events
        .iter()
        .map(|e| {
            let mut o = serde_json::Map::new();
            o.insert("time_unix_nano".into(), e.time_unix_nano.into());
            o.insert("name".into(), e.name.clone().into());
            if !e.attributes.is_empty() {
                let fields = e
                    .attributes
                    .iter()
                    .map(|kv| {
                        let v = kv
                            .value
                            .as_ref()
                            .map_or(serde_json::Value::Null, attrs::any_json);
                        (kv.key.clone(), v)
                    })
                    .collect();
                o.insert("attributes".into(), serde_json::Value::Object(fields));
            }
            if e.dropped_attributes_count > 0 {
                o.insert(
                    "dropped_attributes_count".into(),
                    e.dropped_attributes_count.into(),
                );
            }
            serde_json::Value::Object(o)
        })
        .collect();
    span.meta
        .insert("events".into(), serde_json::Value::Array(list).to_string());
    if s.events
        .iter()
        .any(|e| e.name.eq_ignore_ascii_case("exception"))
    {
        span.meta
            .insert("_dd.span_events.has_exception".into(), "true".into());
    }
}

/// `otel.status_code` / `otel.status_description`, and an Error status as the span's error
/// with its message, type and stack from the exception event (else the description, else the
/// HTTP status).
fn status(s: &OtelSpan, span: &mut Span) {
    let st = s.status.as_ref();
    let code = st
        .and_then(|st| StatusCode::try_from(st.code).ok())
        .unwrap_or(StatusCode::Unset);
    let label = match code {
        StatusCode::Unset => "Unset",
        StatusCode::Ok => "Ok",
        StatusCode::Error => "Error",
    };
    span.meta.insert("otel.status_code".into(), label.into());
    let description = st.map(|st| st.message.as_str()).unwrap_or("");
    if code == StatusCode::Error && !description.is_empty() {
        span.meta
            .insert("otel.status_description".into(), description.into());
    }
    if let Some(e) = get_int(&s.attributes, "datadog.error") {
        span.error = i32::from(e != 0);
        return;
    }
    if code != StatusCode::Error {
        return;
    }
    span.error = 1;
    for e in s
        .events
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case("exception"))
    {
        for (otel, dd) in [
            ("exception.message", "error.message"),
            ("exception.type", "error.type"),
            ("exception.stacktrace", "error.stack"),
        ] {
            if let Some(v) = get_str(&e.attributes, otel) {
                span.meta.insert(dd.into(), v);
            }
        }
    }
    if !span.meta.contains_key("error.message") {
        let msg = if !description.is_empty() {
            Some(description.to_string())
        } else {
            span.meta
                .get("http.status_code")
                .map(|c| match span.meta.get("http.status_text") {
                    Some(t) => format!("{c} {t}"),
                    None => c.clone(),
                })
        };
        if let Some(m) = msg {
            span.meta.insert("error.message".into(), m);
        }
    }
}

/// Datadog's operation name for a span (its receiver's "v2" rules).
fn operation_name(s: &OtelSpan, kind: SpanKind) -> String {
    let a = &s.attributes;
    if let Some(n) = get_str(a, "operation.name") {
        return n;
    }
    let client = kind == SpanKind::Client;
    let server = kind == SpanKind::Server;
    let has = |k: &str| attrs::get(a, k).is_some();
    if has("http.request.method") || has("http.method") {
        if client {
            return "http.client.request".into();
        }
        if server {
            return "http.server.request".into();
        }
    }
    if let Some(db) = first_str(a, &["db.system", "db.system.name"])
        && client
    {
        return format!("{}.query", db.to_lowercase());
    }
    let messaging = get_str(a, "messaging.system");
    let operation = first_str(a, &["messaging.operation", "messaging.operation.type"]);
    if let (Some(m), Some(op)) = (&messaging, &operation)
        && matches!(
            kind,
            SpanKind::Client | SpanKind::Server | SpanKind::Consumer | SpanKind::Producer
        )
    {
        return format!("{}.{}", m.to_lowercase(), op.to_lowercase());
    }
    let rpc = get_str(a, "rpc.system");
    if client && rpc.as_deref() == Some("aws-api") {
        return match get_str(a, "rpc.service") {
            Some(svc) => format!("aws.{}.request", svc.to_lowercase()),
            None => "aws.client.request".into(),
        };
    }
    if let Some(r) = &rpc {
        if client {
            return format!("{}.client.request", r.to_lowercase());
        }
        if server {
            return format!("{}.server.request", r.to_lowercase());
        }
    }
    if client
        && let (Some(p), Some(n)) = (
            get_str(a, "faas.invoked_provider"),
            get_str(a, "faas.invoked_name"),
        )
    {
        return format!("{}.{}.invoke", p.to_lowercase(), n.to_lowercase());
    }
    if server && let Some(t) = get_str(a, "faas.trigger") {
        return format!("{}.invoke", t.to_lowercase());
    }
    if has("graphql.operation.type") {
        return "graphql.server.request".into();
    }
    let protocol = get_str(a, "network.protocol.name");
    match (kind, protocol) {
        (SpanKind::Server, Some(p)) => format!("{}.server.request", p.to_lowercase()),
        (SpanKind::Server, None) => "server.request".into(),
        (SpanKind::Client, Some(p)) => format!("{}.client.request", p.to_lowercase()),
        (SpanKind::Client, None) => "client.request".into(),
        (k, _) => kind_name(k).into(),
    }
}

/// Datadog's resource name for a span (its receiver's "v2" rules).
fn resource_name(s: &OtelSpan, kind: SpanKind, resource: &[KeyValue]) -> String {
    let a = &s.attributes;
    let get = |keys: &[&str]| span_or_resource(a, resource, keys);
    if let Some(r) = get(&["resource.name"]) {
        return r;
    }
    if let Some(mut m) = get(&["http.request.method", "http.method"]) {
        if m == "_OTHER" {
            m = "HTTP".into();
        }
        if kind == SpanKind::Server
            && let Some(route) = get(&["http.route"])
        {
            return format!("{m} {route}");
        }
        return m;
    }
    if let Some(op) = get(&["messaging.operation.type", "messaging.operation"]) {
        return match get(&["messaging.destination", "messaging.destination.name"]) {
            Some(d) => format!("{op} {d}"),
            None => op,
        };
    }
    if let Some(method) = get(&["rpc.method"]) {
        return match get(&["rpc.service"]) {
            Some(svc) => format!("{method} {svc}"),
            None => method,
        };
    }
    if let Some(op) = get(&["graphql.operation.type"]) {
        return match get(&["graphql.operation.name"]) {
            Some(n) => format!("{op} {n}"),
            None => op,
        };
    }
    if get(&["db.system.name", "db.system"]).is_some()
        && let Some(q) = get(&["db.statement"]).or_else(|| get(&["db.query.text"]))
    {
        return q;
    }
    s.name.clone()
}

/// Datadog's span type: from the kind, and for database clients from the database.
fn span_type(kind: SpanKind, a: &[KeyValue], resource: &[KeyValue]) -> &'static str {
    match kind {
        SpanKind::Server => "web",
        SpanKind::Client => match span_or_resource(a, resource, &["db.system.name", "db.system"]) {
            None => "http",
            Some(db) => db_type(&db),
        },
        _ => "custom",
    }
}

fn db_type(db: &str) -> &'static str {
    match db {
        "redis" => "redis",
        "memcached" => "memcached",
        "mongodb" => "mongodb",
        "elasticsearch" => "elasticsearch",
        "opensearch" => "opensearch",
        "cassandra" => "cassandra",
        "other_sql" | "mssql" | "mysql" | "oracle" | "db2" | "postgresql" | "redshift"
        | "cloudscape" | "hsqldb" | "maxdb" | "ingres" | "firstsql" | "edb" | "cache"
        | "firebird" | "derby" | "informix" | "mariadb" | "sqlite" | "sybase" | "teradata"
        | "vertica" | "h2" | "coldfusion" | "cockroachdb" | "progress" | "hanadb" | "adabas"
        | "filemaker" | "instantdb" | "interbase" | "netezza" | "pervasive" | "pointbase"
        | "clickhouse" => "sql",
        _ => "db",
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests may index
mod tests;

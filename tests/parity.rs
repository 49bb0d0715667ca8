//! Issue 12: trace parity with Datadog's extension. Every trigger fixture, with and without
//! `DD_SERVICE`, with and without upstream context, driven both ways a Datadog library drives
//! the extension — universal instrumentation (start-invocation, the tracer's spans including
//! its placeholder root, end-invocation; half of them with the spans arriving before
//! end-invocation, half after) and the Python/Node way (the library sends `aws.lambda` itself)
//! — is compared field by field with `tests/fixtures/parity/expected.json`, which says where
//! each expectation comes from. A failure prints every difference, one per line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use prost::Message;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tandem::traces::proto::{AgentPayload, Span, TracerPayload};
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);
const UPSTREAM: u64 = 1_111_111_111_111_111_111;
const PLACEHOLDER: &str = "dd-tracer-serverless-span";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn read(path: &str) -> Value {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

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
fn strip_event(event: &Value) -> Value {
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

async fn post(
    addr: SocketAddr,
    path: &str,
    id: &str,
    body: String,
    headers: &[(&str, String)],
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("lambda-runtime-aws-request-id", id)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap()
}

async fn send_traces(addr: SocketAddr, traces: Value) {
    let r = reqwest::Client::new()
        .put(format!("http://{addr}/v0.4/traces"))
        .header("content-type", "application/msgpack")
        .header("datadog-meta-lang", "java")
        .header("x-datadog-trace-count", "1")
        .body(tandem_testkit::msgpack::from_json(&traces))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn span(
    trace: u64,
    id: u64,
    parent: u64,
    name: &str,
    resource: &str,
    meta: Value,
    metrics: Value,
) -> Value {
    json!({"service": "orders-java", "name": name, "resource": resource, "type": "",
        "trace_id": trace, "span_id": id, "parent_id": parent, "start": 1_700_000_000_500_000_000u64,
        "duration": 1_000_000, "error": 0, "meta": meta, "metrics": metrics})
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    Universal,
    Library,
}

/// One invocation of the suite and what the tracer side chose for it.
struct Run {
    trigger: usize,
    way: Way,
    upstream: bool,
    request_id: String,
    trace_id: u64,
    placeholder: u64,
    priority: i32,
}

struct Captured {
    spans: Vec<Span>,
    payloads: Vec<TracerPayload>,
}

fn captured(h: &Harness) -> Captured {
    let payloads: Vec<TracerPayload> = h
        .intake
        .accepted("/api/v0.2/traces")
        .iter()
        .flat_map(|r| AgentPayload::decode(&r.body[..]).unwrap().tracer_payloads)
        .collect();
    let spans = payloads
        .iter()
        .flat_map(|t| &t.chunks)
        .flat_map(|c| c.spans.clone())
        .collect();
    Captured { spans, payloads }
}

/// Runs every trigger both ways, with and without context, against one extension.
async fn run_suite(
    expected: &Value,
    dd_service: Option<&str>,
    library_first: bool,
) -> (Captured, Vec<Run>) {
    let env: Vec<(&str, &str)> = dd_service.map(|s| ("DD_SERVICE", s)).into_iter().collect();
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &env)
        .await
        .unwrap();
    // The init report gives the cold start its duration.
    h.platform.emit([json!({"time": tandem_testkit::events::rfc3339(tandem::time::now_ms()),
        "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init",
        "status": "success", "metrics": {"durationMs": 180.0}}})]);
    assert!(h.platform.wait_telemetry_drained(T).await);
    let lifecycle = h.agent.lifecycle_addr(T).await.unwrap();
    let agent = h.agent.trace_agent_addr(T).await.unwrap();
    let triggers = expected["triggers"].as_array().unwrap();
    let mut runs = Vec::new();
    let mut n = 0u64;
    let ways = if library_first {
        [Way::Library, Way::Universal]
    } else {
        [Way::Universal, Way::Library]
    };
    for (i, t) in triggers.iter().enumerate() {
        for upstream in [true, false] {
            let fixture = read(&format!("events/{}.json", t["fixture"].as_str().unwrap()));
            let event = if upstream {
                fixture
            } else {
                strip_event(&fixture)
            };
            for way in ways {
                n += 1;
                let id = request_id(9_000 + n);
                let run = match way {
                    Way::Universal => universal(lifecycle, agent, &id, &event, t, n).await,
                    Way::Library => library(agent, &id, t, n).await,
                };
                runs.push(Run {
                    trigger: i,
                    way,
                    upstream,
                    request_id: id,
                    trace_id: run.0,
                    placeholder: run.1,
                    priority: run.2,
                });
            }
        }
    }
    h.shutdown(Duration::from_secs(3)).await.unwrap();
    (captured(&h), runs)
}

/// Universal instrumentation: returns (trace id, placeholder span id, priority).
async fn universal(
    lifecycle: SocketAddr,
    agent: SocketAddr,
    id: &str,
    event: &Value,
    t: &Value,
    n: u64,
) -> (u64, u64, i32) {
    let r = post(
        lifecycle,
        "/lambda/start-invocation",
        id,
        event.to_string(),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    let header = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_string());
    // The tracer continues what it is handed, or starts its own trace with its own decision.
    let trace_id = header("x-datadog-trace-id").map_or(5_000_000_000 + n, |v| v.parse().unwrap());
    let parent = header("x-datadog-parent-id").map_or(0, |v| v.parse().unwrap());
    let priority: i32 = header("x-datadog-sampling-priority").map_or(2, |v| v.parse().unwrap());
    let ph = 6_000_000_000 + n * 10;
    let placeholder = span(
        trace_id,
        ph,
        parent,
        "aws.lambda",
        PLACEHOLDER,
        json!({"language": "java", "customer.tier": "gold", "request_id": id}),
        json!({"_sampling_priority_v1": priority as f64, "_dd.top_level": 1.0}),
    );
    let child = span(
        trace_id,
        ph + 1,
        ph,
        "http.request",
        "GET /inventory",
        json!({"http.url": "https://inventory.example.com/items?id=5", "span.kind": "client"}),
        json!({}),
    );
    let mut sql = span(
        trace_id,
        ph + 2,
        ph + 1,
        "postgresql.query",
        "SELECT * FROM items WHERE id = 5",
        json!({"db.system": "postgresql"}),
        json!({}),
    );
    sql["type"] = json!("sql");
    let traces = json!([[placeholder, child, sql]]);
    let response = t["response"].clone();
    let body = if response.is_null() {
        "{}".to_string()
    } else {
        response.to_string()
    };
    let end_headers = [
        ("x-datadog-trace-id", trace_id.to_string()),
        ("x-datadog-span-id", ph.to_string()),
        ("x-datadog-sampling-priority", priority.to_string()),
    ];
    // Half the time the tracer's spans arrive first, half the time end-invocation does.
    if n.is_multiple_of(2) {
        send_traces(agent, traces).await;
        assert_eq!(
            post(lifecycle, "/lambda/end-invocation", id, body, &end_headers)
                .await
                .status(),
            200
        );
    } else {
        assert_eq!(
            post(lifecycle, "/lambda/end-invocation", id, body, &end_headers)
                .await
                .status(),
            200
        );
        send_traces(agent, traces).await;
    }
    (trace_id, ph, priority)
}

/// The Python/Node way: the library builds its inferred spans and `aws.lambda` itself and only
/// talks to the trace agent. Returns (trace id, aws.lambda span id, priority).
async fn library(agent: SocketAddr, id: &str, t: &Value, n: u64) -> (u64, u64, i32) {
    let trace_id = 7_000_000_000 + n;
    let base = 8_000_000_000 + n * 10;
    let mut spans = Vec::new();
    let mut parent = 0;
    for (k, inf) in t["inferred"].as_array().unwrap().iter().enumerate() {
        let sid = base + k as u64 + 1;
        let mut s = span(
            trace_id,
            sid,
            parent,
            inf["name"].as_str().unwrap(),
            inf["resource"].as_str().unwrap(),
            json!({"_inferred_span.tag_source": "self"}),
            json!({}),
        );
        s["service"] = inf["service"].clone();
        spans.push(s);
        parent = sid;
    }
    let lambda_id = base + 5;
    let mut lambda = span(
        trace_id,
        lambda_id,
        parent,
        "aws.lambda",
        "tandem-test",
        json!({"request_id": id, "cold_start": if n == 1 { "true" } else { "false" }, "language": "python"}),
        json!({"_sampling_priority_v1": 1.0}),
    );
    lambda["service"] = json!("aws.lambda");
    spans.push(lambda);
    spans.push(span(
        trace_id,
        base + 6,
        lambda_id,
        "aws.lambda.load",
        "handler",
        json!({}),
        json!({}),
    ));
    send_traces(agent, json!([spans])).await;
    (trace_id, lambda_id, 1)
}

fn ancestors<'a>(all: &'a [Span], span: &Span) -> Vec<&'a Span> {
    let by_id: HashMap<u64, &Span> = all.iter().map(|s| (s.span_id, s)).collect();
    let mut chain = Vec::new();
    let mut parent = span.parent_id;
    while let Some(p) = by_id.get(&parent) {
        chain.push(*p);
        parent = p.parent_id;
    }
    chain.reverse();
    chain
}

/// Compares one field; a difference becomes a readable line.
fn check<G>(
    diffs: &mut Vec<String>,
    at: &str,
    field: &str,
    want: impl std::fmt::Debug + PartialEq<G>,
    got: G,
) where
    G: std::fmt::Debug,
{
    if want != got {
        diffs.push(format!("{at}: {field}: expected {want:?}, got {got:?}"));
    }
}

fn check_meta(diffs: &mut Vec<String>, at: &str, span: &Span, want: &Value) {
    for (k, v) in want.as_object().into_iter().flatten() {
        check(
            diffs,
            at,
            &format!("meta[{k}]"),
            v.as_str().map(str::to_string),
            span.meta.get(k).cloned(),
        );
    }
}

fn verify(expected: &Value, dd_service: Option<&str>, cap: &Captured, runs: &[Run]) -> Vec<String> {
    let mut diffs = Vec::new();
    let service = dd_service.unwrap_or("tandem-test");
    let triggers = expected["triggers"].as_array().unwrap();
    let every = &expected["every_built_span"];
    let all = &cap.spans;
    let label = dd_service.map_or("no DD_SERVICE".to_string(), |s| format!("DD_SERVICE={s}"));
    if let Some(p) = all.iter().find(|s| s.resource == PLACEHOLDER) {
        diffs.push(format!(
            "[{label}] a placeholder span reached the intake: {p:?}"
        ));
    }
    for run in runs {
        let t = &triggers[run.trigger];
        let at = format!(
            "[{label} / {} / {:?} / {}]",
            t["fixture"].as_str().unwrap(),
            run.way,
            if run.upstream {
                "with context"
            } else {
                "without context"
            }
        );
        let lambdas: Vec<&Span> = all
            .iter()
            .filter(|s| s.name == "aws.lambda" && s.meta.get("request_id") == Some(&run.request_id))
            .collect();
        check(&mut diffs, &at, "aws.lambda spans", 1, lambdas.len());
        let Some(lambda) = lambdas.first().copied() else {
            continue;
        };
        for s in all.iter().filter(|s| s.trace_id == lambda.trace_id) {
            check_meta(&mut diffs, &format!("{at} {}", s.name), s, &every["meta"]);
            for k in every["meta_keys"].as_array().unwrap() {
                if !s.meta.contains_key(k.as_str().unwrap()) {
                    diffs.push(format!("{at} {}: meta[{k}] missing", s.name));
                }
            }
        }
        check(
            &mut diffs,
            &at,
            "aws.lambda service",
            service.to_string(),
            lambda.service.clone(),
        );
        if run.way == Way::Library {
            check(
                &mut diffs,
                &at,
                "aws.lambda span id (the library's)",
                run.placeholder,
                lambda.span_id,
            );
            check(
                &mut diffs,
                &at,
                "trace id (the library's)",
                run.trace_id,
                lambda.trace_id,
            );
            let load = all
                .iter()
                .find(|s| s.trace_id == lambda.trace_id && s.name == "aws.lambda.load");
            let cold = all
                .iter()
                .find(|s| s.trace_id == lambda.trace_id && s.name == "aws.lambda.cold_start");
            if lambda.meta.get("cold_start").map(String::as_str) == Some("true") {
                match cold {
                    None => diffs.push(format!(
                        "{at}: no aws.lambda.cold_start span beside the library's aws.lambda"
                    )),
                    Some(c) => {
                        check(
                            &mut diffs,
                            &at,
                            "cold_start parent (aws.lambda's parent)",
                            lambda.parent_id,
                            c.parent_id,
                        );
                        check(
                            &mut diffs,
                            &at,
                            "aws.lambda.load parent",
                            Some(c.span_id),
                            load.map(|l| l.parent_id),
                        );
                        check(
                            &mut diffs,
                            &at,
                            "cold_start duration",
                            180_000_000,
                            c.duration,
                        );
                    }
                }
            } else if cold.is_some() {
                diffs.push(format!("{at}: a cold start span on a warm invocation"));
            }
            continue;
        }
        // Universal instrumentation.
        check(
            &mut diffs,
            &at,
            "aws.lambda span id (the placeholder's)",
            run.placeholder,
            lambda.span_id,
        );
        check(&mut diffs, &at, "trace id", run.trace_id, lambda.trace_id);
        check(
            &mut diffs,
            &at,
            "placeholder tag language",
            Some("java".to_string()),
            lambda.meta.get("language").cloned(),
        );
        check(
            &mut diffs,
            &at,
            "placeholder tag customer.tier",
            Some("gold".to_string()),
            lambda.meta.get("customer.tier").cloned(),
        );
        check(
            &mut diffs,
            &at,
            "_sampling_priority_v1",
            Some(f64::from(run.priority)),
            lambda.metrics.get("_sampling_priority_v1").copied(),
        );
        let chunk_priority = cap
            .payloads
            .iter()
            .flat_map(|p| &p.chunks)
            .find(|c| {
                c.spans
                    .iter()
                    .any(|s| s.span_id == lambda.span_id && s.trace_id == lambda.trace_id)
            })
            .map(|c| c.priority);
        check(
            &mut diffs,
            &at,
            "chunk priority",
            Some(run.priority),
            chunk_priority,
        );
        let child = all
            .iter()
            .find(|s| s.span_id == run.placeholder + 1 && s.trace_id == run.trace_id);
        check(
            &mut diffs,
            &at,
            "tracer child under aws.lambda",
            Some(lambda.span_id),
            child.map(|c| c.parent_id),
        );
        let sql = all
            .iter()
            .find(|s| s.span_id == run.placeholder + 2 && s.trace_id == run.trace_id);
        check(
            &mut diffs,
            &at,
            "obfuscated SQL",
            Some("SELECT * FROM items WHERE id = ?".to_string()),
            sql.map(|s| s.resource.clone()),
        );
        check(
            &mut diffs,
            &at,
            "span.kind",
            Some("server".to_string()),
            lambda.meta.get("span.kind").cloned(),
        );
        check(
            &mut diffs,
            &at,
            "aws.lambda error",
            t["lambda"]["error"].as_i64().unwrap() as i32,
            lambda.error,
        );
        check_meta(&mut diffs, &at, lambda, &t["lambda"]["meta"]);
        let chain = ancestors(all, lambda);
        let names: Vec<&str> = chain.iter().map(|s| s.name.as_str()).collect();
        let inferred = t["inferred"].as_array().unwrap();
        let want: Vec<&str> = inferred
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        check(&mut diffs, &at, "inferred spans", want, names);
        for (k, (inf, got)) in inferred.iter().zip(&chain).enumerate() {
            let at = format!("{at} inferred[{k}] {}", got.name);
            // What differs when the upstream tracer (and so its carrier) is absent.
            let mut inf = inf.clone();
            if let (false, Some(Value::Object(over))) =
                (run.upstream, inf.get("without_context").cloned())
            {
                for (key, v) in over {
                    inf[key] = v;
                }
            }
            check(
                &mut diffs,
                &at,
                "service",
                inf["service"].as_str().unwrap().to_string(),
                got.service.clone(),
            );
            check(
                &mut diffs,
                &at,
                "resource",
                inf["resource"].as_str().unwrap().to_string(),
                got.resource.clone(),
            );
            check(
                &mut diffs,
                &at,
                "type",
                inf["type"].as_str().unwrap().to_string(),
                got.r#type.clone(),
            );
            check(
                &mut diffs,
                &at,
                "error",
                inf["error"].as_i64().unwrap() as i32,
                got.error,
            );
            check(&mut diffs, &at, "trace id", lambda.trace_id, got.trace_id);
            check(
                &mut diffs,
                &at,
                "_dd.base_service",
                Some(service.to_string()),
                got.meta.get("_dd.base_service").cloned(),
            );
            if let Some(start) = inf.get("start").and_then(Value::as_i64) {
                check(&mut diffs, &at, "start", start, got.start);
            }
            check_meta(&mut diffs, &at, got, &inf["meta"]);
            if let Some(ptr) = inf.get("span_pointer") {
                let links: Value = got
                    .meta
                    .get("_dd.span_links")
                    .and_then(|l| serde_json::from_str(l).ok())
                    .unwrap_or(Value::Null);
                let attrs = &links[0]["attributes"];
                check(
                    &mut diffs,
                    &at,
                    "span pointer kind",
                    ptr["ptr.kind"].clone(),
                    attrs["ptr.kind"].clone(),
                );
                check(
                    &mut diffs,
                    &at,
                    "span pointer hash",
                    ptr["ptr.hash"].clone(),
                    attrs["ptr.hash"].clone(),
                );
                check(
                    &mut diffs,
                    &at,
                    "span pointer direction",
                    json!("u"),
                    attrs["ptr.dir"].clone(),
                );
            }
        }
        let top = chain.first().copied().unwrap_or(lambda);
        let context = if run.upstream {
            &t["context"]
        } else {
            t.get("context_without_upstream").unwrap_or(&t["context"])
        };
        match (t["upstream"].as_u64(), run.upstream) {
            (Some(k), true) => {
                let want_parent = context
                    .get("parent_id")
                    .and_then(Value::as_u64)
                    .unwrap_or(2222 + k);
                check(
                    &mut diffs,
                    &at,
                    "upstream trace id",
                    UPSTREAM + k,
                    lambda.trace_id,
                );
                check(
                    &mut diffs,
                    &at,
                    "upstream parent",
                    want_parent,
                    top.parent_id,
                );
            }
            _ if context.is_object() => {
                check(
                    &mut diffs,
                    &at,
                    "derived trace id",
                    context["trace_id"].as_u64(),
                    Some(lambda.trace_id),
                );
                check(
                    &mut diffs,
                    &at,
                    "derived parent id",
                    context["parent_id"].as_u64(),
                    Some(top.parent_id),
                );
                check(
                    &mut diffs,
                    &at,
                    "_dd.p.tid on the root span",
                    context["trace_id_high"].as_str().map(str::to_string),
                    top.meta.get("_dd.p.tid").cloned(),
                );
            }
            _ => check(
                &mut diffs,
                &at,
                "a new trace (root parent)",
                0,
                top.parent_id,
            ),
        }
    }
    // One cold start per environment.
    let colds: Vec<&Span> = all
        .iter()
        .filter(|s| s.name == "aws.lambda.cold_start")
        .collect();
    check(
        &mut diffs,
        &format!("[{label}]"),
        "cold start spans",
        1,
        colds.len(),
    );
    for c in colds {
        let beside = all
            .iter()
            .find(|s| s.name == "aws.lambda" && s.trace_id == c.trace_id);
        check(
            &mut diffs,
            &format!("[{label}] cold start"),
            "parent = aws.lambda's parent",
            beside.map(|l| l.parent_id),
            Some(c.parent_id),
        );
    }
    for p in &cap.payloads {
        if !p
            .tags
            .get("_dd.tags.function")
            .is_some_and(|t| t.contains("functionname:tandem-test"))
        {
            diffs.push(format!(
                "[{label}] a tracer payload without _dd.tags.function: {:?}",
                p.tags
            ));
        }
    }
    diffs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_ships_what_datadogs_extension_ships() {
    let expected = read("parity/expected.json");
    let mut diffs = Vec::new();
    for (dd_service, library_first) in [(None, true), (Some("orders-api"), false)] {
        let (cap, runs) = run_suite(&expected, dd_service, library_first).await;
        diffs.extend(verify(&expected, dd_service, &cap, &runs));
    }
    assert!(
        diffs.is_empty(),
        "{} differences from Datadog's behaviour:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

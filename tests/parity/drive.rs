//! Driving the extension as the Datadog libraries do: start-invocation, the tracer's spans
//! (its placeholder root included), end-invocation; or, the Python/Node way, the library's own
//! `aws.lambda` and inferred spans sent to the trace agent.

use super::events::strip_event;
use super::{PLACEHOLDER, T, bin, read};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tandem::traces::proto::{Span, TracerPayload};
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, lifecycle, request_id};

/// A lifecycle call with headers the test computed.
pub(crate) async fn post(
    addr: SocketAddr,
    path: &str,
    id: &str,
    body: String,
    headers: &[(&str, String)],
) -> reqwest::Response {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    lifecycle::call(addr, path, id, body, &headers).await
}

pub(crate) async fn send_traces(addr: SocketAddr, traces: Value) {
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

pub(crate) fn span(
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
pub(crate) enum Way {
    Universal,
    Library,
}

/// One invocation of the suite and what the tracer side chose for it.
pub(crate) struct Run {
    pub(crate) trigger: usize,
    pub(crate) way: Way,
    pub(crate) upstream: bool,
    pub(crate) request_id: String,
    pub(crate) trace_id: u64,
    pub(crate) placeholder: u64,
    pub(crate) priority: i32,
}

pub(crate) struct Captured {
    pub(crate) spans: Vec<Span>,
    pub(crate) payloads: Vec<TracerPayload>,
}

pub(crate) fn captured(h: &Harness) -> Captured {
    Captured {
        spans: h.intake.spans(),
        payloads: h.intake.tracer_payloads(),
    }
}

/// Runs every trigger both ways, with and without context, against one extension.
pub(crate) async fn run_suite(
    expected: &Value,
    dd_service: Option<&str>,
    library_first: bool,
) -> (Captured, Vec<Run>) {
    let env: Vec<(&str, &str)> = dd_service.map(|s| ("DD_SERVICE", s)).into_iter().collect();
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &env)
        .await
        .unwrap();
    // The init report gives the cold start its duration.
    h.platform
        .emit([tandem_testkit::events::init_report(180.0)]);
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
pub(crate) async fn universal(
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
pub(crate) async fn library(agent: SocketAddr, id: &str, t: &Value, n: u64) -> (u64, u64, i32) {
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

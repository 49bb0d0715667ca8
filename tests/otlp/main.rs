//! The OTLP receiver against OpenTelemetry's real SDKs: Python's over OTLP/HTTP and OTLP/gRPC,
//! Node's over OTLP/HTTP (provisioned by the test kit at the versions pinned in
//! `tests/clients/`), each sending spans, metrics and logs during an invocation; every check is
//! on what reached the capture intake, field by field, as Datadog's OTLP ingestion maps them.
//! `hostile` sends malformed and oversized bodies, `managed` overlapping Managed Instance
//! invocations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod hostile;
mod join;
mod managed;

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tandem::traces::proto::Span;
use tandem_testkit::platform::{Outcome, SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, free_port, request_id, tools};

const T: Duration = Duration::from_secs(30);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

/// Runs a client script to completion (bounded); its stdout. Fails on a non-zero exit.
async fn run(program: &str, args: &[String]) -> String {
    tools::run_client(program, args, &[], T).await
}

/// An on-demand extension with both OTLP receivers on free ports and OTLP logs on.
async fn agent(mode: SimMode, extra: &[(&str, String)]) -> (Harness, u16, u16) {
    let (http, grpc) = (free_port(), free_port());
    let mut env: Vec<(&str, String)> = vec![
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end".into()),
        (
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT",
            format!("localhost:{http}"),
        ),
        (
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT",
            format!("localhost:{grpc}"),
        ),
        ("DD_OTLP_CONFIG_LOGS_ENABLED", "true".into()),
    ];
    env.extend(extra.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let h = Harness::start(bin(), mode, TelemetryAnswer::Accept, &env)
        .await
        .unwrap();
    assert!(
        tandem_testkit::wait_listening(http, T),
        "OTLP/HTTP is not listening"
    );
    (h, http, grpc)
}

/// `name=value` lines a client printed.
fn printed(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Runs `program args` inside one invocation and shuts down; what the client printed, the
/// request id, and the harness (its intake holds what arrived).
async fn one_invocation(
    program: &str,
    args: Vec<String>,
    h: &mut Harness,
) -> (HashMap<String, String>, String) {
    let rid = request_id(1);
    let before = h.platform.begin_invoke(&rid, T).await.unwrap();
    let out = run(program, &args).await;
    h.platform
        .finish_invoke(&rid, before, Outcome::default(), T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    (printed(&out), rid)
}

fn find<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.resource == name)
        .unwrap_or_else(|| panic!("{name} missing from {spans:#?}"))
}

/// The checks every SDK's data must pass (the scripts send the same things).
fn check_all(h: &Harness, ids: &HashMap<String, String>, rid: &str, service: &str) {
    let spans = h.intake.spans();
    let trace_hex = &ids["trace"];
    let trace = u128::from_str_radix(trace_hex, 16).unwrap();
    let root = find(&spans, "GET /orders");
    let db = find(&spans, "SELECT * FROM orders");
    let fail = find(&spans, "fail");
    // Ids: the low 64 bits as the trace id, the high half in _dd.p.tid, the whole in otel.trace_id.
    assert_eq!(root.trace_id, trace as u64);
    assert_eq!(
        root.meta["_dd.p.tid"],
        format!("{:016x}", (trace >> 64) as u64)
    );
    assert_eq!(root.meta["otel.trace_id"], *trace_hex);
    assert_eq!(root.span_id.to_string(), ids["root"]);
    assert_eq!(db.parent_id, root.span_id);
    assert_eq!(fail.parent_id, root.span_id);
    for s in [root, db, fail] {
        assert_eq!(s.trace_id, root.trace_id);
        assert_eq!(s.service, service);
        assert_eq!(s.meta["env"], "otel-env");
        assert_eq!(s.meta["version"], "1.2.3");
        assert_eq!(s.meta["otel.scope.name"], "otlp-test");
    }
    // Names and types by Datadog's rules.
    assert_eq!(root.name, "http.server.request");
    assert_eq!(root.r#type, "web");
    assert_eq!(root.meta["span.kind"], "server");
    assert_eq!(root.meta["http.status_code"], "200");
    assert_eq!(root.meta["customer"], "acme");
    assert_eq!(root.metrics["items"], 3.0);
    assert_eq!(root.error, 0);
    assert_eq!(db.name, "postgresql.query");
    assert_eq!(db.r#type, "sql");
    assert_eq!(db.metrics["_dd.measured"], 1.0);
    assert_eq!(fail.name, "internal");
    // Status → error, with the exception event's fields.
    assert_eq!(fail.error, 1);
    assert_eq!(fail.meta["otel.status_code"], "Error");
    assert_eq!(fail.meta["otel.status_description"], "it failed");
    assert_eq!(fail.meta["error.message"], "boom");
    assert!(fail.meta["error.type"].contains("Error"), "{:?}", fail.meta);
    assert_eq!(fail.meta["_dd.span_events.has_exception"], "true");
    // Events and links.
    let events: Value = serde_json::from_str(&root.meta["events"]).unwrap();
    assert_eq!(events[0]["name"], "cache.miss");
    assert_eq!(events[0]["attributes"]["key"], "orders:7");
    let link = root.span_links.first().expect("a span link");
    assert_eq!(link.span_id.to_string(), ids["other"]);
    assert_eq!(link.attributes["why"], "batch");
    // The processing every span gets: the function's tags.
    assert!(root.meta.contains_key("functionname"), "{:?}", root.meta);

    // Metrics.
    let series = h.intake.series();
    let by = |name: &str| -> Vec<_> { series.iter().filter(|s| s.metric == name).collect() };
    let sum = |name: &str| -> f64 {
        by(name)
            .iter()
            .flat_map(|s| &s.points)
            .map(|p| p.value)
            .sum()
    };
    assert_eq!(
        sum("otel.requests"),
        7.0,
        "counter as a count of its increase"
    );
    let requests = by("otel.requests");
    assert!(
        requests[0].tags.contains(&"route:/orders".to_string()),
        "{:?}",
        requests[0].tags
    );
    assert!(
        requests[0].tags.contains(&"env:otel-env".to_string()),
        "{:?}",
        requests[0].tags
    );
    assert!(
        requests[0].tags.contains(&format!("service:{service}")),
        "{:?}",
        requests[0].tags
    );
    let last = |name: &str| {
        by(name)
            .iter()
            .flat_map(|s| &s.points)
            .next_back()
            .map(|p| p.value)
    };
    assert_eq!(last("otel.queue"), Some(7.0), "up-down counter as a gauge");
    assert_eq!(last("otel.temperature"), Some(21.5));
    let sketches = h.intake.sketches();
    for name in ["otel.latency", "otel.latency.exp"] {
        let s = sketches
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let count: i64 = s.dogsketches.iter().map(|d| d.cnt).sum();
        assert_eq!(count, 5, "{name}: every recorded value");
        let max = s.dogsketches.iter().map(|d| d.max).fold(0.0, f64::max);
        assert!(max > 250.0 && max <= 1_000.0, "{name}: max {max}");
    }

    // Logs.
    let logs = h.intake.log_entries();
    let otel: Vec<&Value> = logs
        .iter()
        .filter(|l| l["ddsource"] == "otlp_log_ingestion")
        .collect();
    let slow = otel
        .iter()
        .find(|l| l["message"] == "order lookup slow")
        .unwrap_or_else(|| panic!("no OTLP log in {logs:#?}"));
    assert_eq!(slow["status"], "warn");
    assert_eq!(slow["service"], service);
    assert_eq!(slow["order_id"], 7);
    assert_eq!(slow["dd.trace_id"], (trace as u64).to_string());
    assert_eq!(slow["dd.span_id"], ids["root"]);
    assert_eq!(slow["otel.trace_id"], *trace_hex);
    assert_eq!(
        slow["lambda"]["request_id"], rid,
        "the current invocation's"
    );
    assert!(slow["ddtags"].as_str().unwrap().contains("env:otel-env"));
    let failed = otel
        .iter()
        .find(|l| l["message"] == "order lookup failed")
        .unwrap();
    assert_eq!(failed["status"], "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_http_every_signal_maps_as_datadog_maps_it() {
    let (mut h, http, _) = agent(SimMode::OnDemand, &[]).await;
    let args = vec![
        "otlp.py".into(),
        "http".into(),
        format!("http://127.0.0.1:{http}"),
    ];
    let (ids, rid) = one_invocation("python3", args, &mut h).await;
    check_all(&h, &ids, &rid, "otel-py");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_grpc_every_signal_maps_as_datadog_maps_it() {
    let (mut h, _, grpc) = agent(SimMode::OnDemand, &[]).await;
    let args = vec!["otlp.py".into(), "grpc".into(), format!("127.0.0.1:{grpc}")];
    let (ids, rid) = one_invocation("python3", args, &mut h).await;
    check_all(&h, &ids, &rid, "otel-py");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_over_http_json_every_signal_maps_as_datadog_maps_it() {
    let (mut h, http, _) = agent(SimMode::OnDemand, &[]).await;
    let args = vec!["otlp.js".into(), format!("http://127.0.0.1:{http}")];
    let (ids, rid) = one_invocation("node", args, &mut h).await;
    check_all(&h, &ids, &rid, "otel-node");
}

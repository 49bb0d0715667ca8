//! Datadog's real client libraries against the real agent: Python `datadog` and Node
//! `hot-shots` (DogStatsD), Python `ddtrace` and Node `dd-trace` (the trace agent API), and
//! Python `datadog-lambda` wrapping a handler under AWS's real runtime client `awslambdaric`,
//! polling the simulator's Runtime API. The test kit provisions them on first use, at the versions
//! pinned in `tests/clients/`; each check here is on what reached the capture intake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tandem::metrics::proto::MetricSeries;
use tandem_testkit::events as ev;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id, tools};

mod lambda;
mod wrapper;

const T: Duration = Duration::from_secs(20);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs a client script to completion (bounded) and returns its stdout; fails on a non-zero
/// exit, showing its stderr.
async fn run(program: &str, args: &[String], env: &[(&str, String)]) -> String {
    tools::run_client(program, args, env, T).await
}

async fn agent(extra: &[(&str, &str)]) -> Harness {
    let mut env = vec![("DD_SERVERLESS_FLUSH_STRATEGY", "end")];
    env.extend_from_slice(extra);
    Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &env)
        .await
        .unwrap()
}

fn named<'a>(all: &'a [MetricSeries], name: &str) -> Vec<&'a MetricSeries> {
    all.iter().filter(|s| s.metric == name).collect()
}

/// The sum of every point of `name` (counts may be split over flushes).
fn total(all: &[MetricSeries], name: &str) -> f64 {
    let found = named(all, name);
    assert!(!found.is_empty(), "{name} missing");
    found.iter().flat_map(|s| &s.points).map(|p| p.value).sum()
}

fn last(all: &[MetricSeries], name: &str) -> f64 {
    let found = named(all, name);
    let p = found.iter().flat_map(|s| &s.points).next_back();
    p.unwrap_or_else(|| panic!("{name} missing")).value
}

fn has_tags(all: &[MetricSeries], name: &str, tags: &[&str]) -> bool {
    named(all, name)
        .iter()
        .all(|s| tags.iter().all(|t| s.tags.iter().any(|x| x == t)))
}

/// Sends a client's DogStatsD traffic, then one invocation and SHUTDOWN, so that everything
/// is flushed.
async fn dogstatsd_run(program: &str, script: &str, extra_args: &[String]) -> Harness {
    let mut h = agent(&[]).await;
    let addr = h.agent.dogstatsd_addr(T).await.expect("DogStatsD address");
    let mut args = vec![
        script.to_string(),
        "127.0.0.1".to_string(),
        addr.port().to_string(),
    ];
    args.extend_from_slice(extra_args);
    assert_eq!(run(program, &args, &[]).await.trim(), "sent");
    h.platform
        .invoke(&request_id(1), vec![ev::function_text("after metrics")], T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    h
}

fn events_and_checks(h: &Harness) -> (Vec<Value>, Vec<Value>) {
    let events = h
        .intake
        .accepted("/api/v1/events")
        .iter()
        .filter_map(|r| r.json())
        .collect();
    let checks = h
        .intake
        .accepted("/api/v1/check_run")
        .iter()
        .filter_map(|r| r.json())
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .collect();
    (events, checks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_datadog_client_every_metric_type_tags_and_timestamps() {
    let past = (tandem::time::now_ms() / 1000 - 120) as i64;
    let h = dogstatsd_run("python3", "dogstatsd.py", &[past.to_string()]).await;
    let series = h.intake.series();
    assert_eq!(last(&series, "eco.py.gauge"), 42.5);
    assert_eq!(total(&series, "eco.py.count"), 2.0, "3 up, 1 down");
    assert_eq!(last(&series, "eco.py.hist.max"), 30.0);
    assert_eq!(last(&series, "eco.py.hist.avg"), 20.0);
    assert_eq!(last(&series, "eco.py.timing.max"), 300.0);
    assert_eq!(total(&series, "eco.py.set"), 2.0, "ann and bob");
    for name in [
        "eco.py.gauge",
        "eco.py.count",
        "eco.py.set",
        "eco.py.hist.max",
    ] {
        assert!(
            has_tags(&series, name, &["client:python", "team:eco"]),
            "{name}"
        );
    }
    // Client-side timestamps are kept, not replaced by the flush time.
    for (name, value) in [("eco.py.gauge_ts", 7.0), ("eco.py.count_ts", 5.0)] {
        let points: Vec<_> = named(&series, name)
            .iter()
            .flat_map(|s| s.points.clone())
            .collect();
        assert_eq!(points.len(), 1, "{name}: {points:?}");
        // Kept in the 10 s bucket that holds the client's timestamp, not the flush time.
        assert_eq!(
            (points[0].timestamp, points[0].value),
            (past - past % 10, value),
            "{name}"
        );
    }
    let dist: Vec<_> = h
        .intake
        .sketches()
        .into_iter()
        .filter(|s| s.metric == "eco.py.dist")
        .flat_map(|s| s.dogsketches)
        .collect();
    assert_eq!(dist.iter().map(|d| d.cnt).sum::<i64>(), 4);
    assert_eq!(dist.iter().map(|d| d.sum).sum::<f64>(), 10.0);
    let (events, checks) = events_and_checks(&h);
    assert!(
        events
            .iter()
            .any(|e| e["title"] == "eco py event" && e["alert_type"] == "warning"),
        "{events:?}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "eco.py.check" && c["status"] == 1),
        "{checks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_hot_shots_every_metric_type_and_tags() {
    let h = dogstatsd_run("node", "dogstatsd.js", &[]).await;
    let series = h.intake.series();
    assert_eq!(last(&series, "eco.js.gauge"), 12.5);
    assert_eq!(total(&series, "eco.js.count"), 3.0, "4 up, 1 down");
    assert_eq!(last(&series, "eco.js.hist.max"), 25.0);
    assert_eq!(last(&series, "eco.js.timing.avg"), 15.0);
    assert_eq!(total(&series, "eco.js.set"), 3.0, "ann, bob and cid");
    for name in ["eco.js.gauge", "eco.js.count", "eco.js.set"] {
        assert!(
            has_tags(&series, name, &["client:node", "team:eco"]),
            "{name}"
        );
    }
    let cnt: i64 = h
        .intake
        .sketches()
        .into_iter()
        .filter(|s| s.metric == "eco.js.dist")
        .flat_map(|s| s.dogsketches)
        .map(|d| d.cnt)
        .sum();
    assert_eq!(cnt, 3);
    let (events, checks) = events_and_checks(&h);
    assert!(
        events.iter().any(|e| e["title"] == "eco js event"),
        "{events:?}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "eco.js.check" && c["status"] == 2),
        "{checks:?}"
    );
}

/// Runs a tracer script against the trace agent and returns the spans that reached the intake
/// and the script's stdout.
async fn traced(program: &str, script: &str) -> (Vec<tandem::traces::proto::Span>, String) {
    let mut h = agent(&[("DD_ENV", "eco")]).await;
    let addr = h
        .agent
        .trace_agent_addr(T)
        .await
        .expect("trace agent address");
    let url = format!("http://{addr}");
    let env = [
        ("DD_TRACE_AGENT_URL", url),
        ("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false".into()),
        ("DD_REMOTE_CONFIGURATION_ENABLED", "false".into()),
        ("DD_TRACE_STARTUP_LOGS", "false".into()),
    ];
    let out = run(program, &[script.to_string()], &env).await;
    h.platform.invoke(&request_id(1), vec![], T).await.unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    (h.intake.spans(), out)
}

/// The three spans the scripts make: a root, a child with another service, a failed one.
fn check_trace(spans: &[tandem::traces::proto::Span], prefix: &str, child: &str, out: &str) {
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {spans:?}"))
    };
    let root = find("eco.request");
    let sub = find(child);
    let fail = find("eco.fail");
    assert_eq!(root.service, prefix);
    assert_eq!(root.parent_id, 0);
    assert_eq!(root.meta.get("customer").map(String::as_str), Some("acme"));
    assert_eq!(sub.parent_id, root.span_id);
    assert_eq!(fail.parent_id, root.span_id);
    assert_eq!(fail.error, 1);
    assert!(root.duration > 0 && sub.start >= root.start);
    for s in [root, sub, fail] {
        assert_eq!(s.trace_id, root.trace_id, "one trace");
    }
    // The ids the tracer printed are the ids that arrived (low 64 bits of the trace id).
    let printed: Vec<u64> = out
        .split_whitespace()
        .filter_map(|w| w.parse::<u128>().ok().map(|v| v as u64))
        .collect();
    assert!(printed.contains(&root.span_id), "{out} vs {}", root.span_id);
    assert!(
        printed.contains(&root.trace_id),
        "{out} vs {}",
        root.trace_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ddtrace_spans_arrive_complete() {
    let (spans, out) = traced("python3", "traces.py").await;
    check_trace(&spans, "eco-py", "eco.db", &out);
    let db = spans.iter().find(|s| s.name == "eco.db").unwrap();
    assert_eq!(db.service, "eco-py-db");
    assert_eq!(db.resource, "SELECT orders");
    let root = spans.iter().find(|s| s.name == "eco.request").unwrap();
    assert_eq!(root.metrics.get("items"), Some(&3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_dd_trace_spans_arrive_complete() {
    let (spans, out) = traced("node", "traces.js").await;
    check_trace(&spans, "eco-js", "eco.cache", &out);
    let cache = spans.iter().find(|s| s.name == "eco.cache").unwrap();
    assert_eq!(cache.service, "eco-js-cache");
    assert_eq!(cache.resource, "GET cart:1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_api_answers_hello_and_flush() {
    let mut h = agent(&[]).await;
    let addr = h.agent.lifecycle_addr(T).await.expect("lifecycle address");
    let client = reqwest::Client::new();
    let hello = client
        .get(format!("http://{addr}/lambda/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status().as_u16(), 200);
    // With the `end` strategy nothing else flushes between invocations: a line buffered after
    // one is shipped by `/lambda/flush`, before it answers.
    h.platform.invoke(&request_id(1), vec![], T).await.unwrap();
    h.platform.emit([ev::function_text("between invocations")]);
    assert!(h.platform.wait_telemetry_drained(T).await);
    let flushed = client
        .post(format!("http://{addr}/lambda/flush"))
        .send()
        .await
        .unwrap();
    assert_eq!(flushed.status().as_u16(), 200);
    assert!(
        h.intake
            .log_entries()
            .iter()
            .any(|e| e["message"]["message"] == "between invocations"),
        "shipped before /lambda/flush answered"
    );
    h.shutdown(Duration::from_secs(2)).await.unwrap();
}

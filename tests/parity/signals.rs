//! Issue 13: logs and metrics parity. Three environments — on-demand (cold, success, error,
//! timeout, out of memory; init logs; JSON and text lines with `ddtags`; custom metrics), a
//! durable function under universal instrumentation, and Managed Instances — are compared with
//! `tests/fixtures/parity/logs_metrics.json`, which says where each expectation comes from.
//! A failure prints every difference, one per line.

use super::{T, bin, read};
use serde_json::{Value, json};
use std::collections::HashMap;
use tandem_testkit::events as ev;
use tandem_testkit::intake::CaptureIntake;
use tandem_testkit::platform::{Outcome, SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, lifecycle, request_id};

const DURABLE_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:tandem-test:1/durable-execution/5f1c7a9e-aaaa-bbbb-cccc-0123456789ab/0d1e2f3a-4b5c-5d6e-8f90-123456789abc";

/// What one environment shipped, and its placeholders.
struct Run {
    intake: CaptureIntake,
    ids: HashMap<&'static str, String>,
}

async fn on_demand() -> Run {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVICE", "Orders-API"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS", "user_id"),
        ],
    )
    .await
    .unwrap();
    let ids: HashMap<&str, String> = ["cold", "error", "timeout", "oom"]
        .iter()
        .enumerate()
        .map(|(n, k)| (*k, request_id(9_100 + n as u64)))
        .collect();
    h.platform.emit([
        ev::init_start("python:3.12.v40"),
        ev::function_text("init: loading config"),
        ev::init_report(250.0),
    ]);
    let statsd = h.agent.dogstatsd_addr(T).await.unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = h.platform.begin_invoke(&ids["cold"], T).await.unwrap();
    for user in [42, 43] {
        let line = format!("orders.placed:1|c|#user_id:{user},team:a");
        sock.send_to(line.as_bytes(), statsd).unwrap();
    }
    h.platform.emit([
        ev::function_json(
            json!({"level": "INFO", "message": "order placed", "ddtags": "team:checkout,tier:1"}),
        ),
        ev::function_text(r#"{"message":{"text":"charged","ddtags":"team:payments"}}"#),
    ]);
    let cold = Outcome {
        init_duration_ms: Some(250.0),
        ..Outcome::default()
    };
    h.platform
        .finish_invoke(&ids["cold"], before, cold, T)
        .await
        .unwrap();
    let failed = |error_type: &'static str| Outcome {
        status: "error",
        error_type: Some(error_type),
        ..Outcome::default()
    };
    let runs = [
        (
            "error",
            vec![ev::function_text("Traceback: boom")],
            failed("Runtime.HandlerError"),
        ),
        (
            "timeout",
            vec![],
            Outcome {
                status: "timeout",
                ..Outcome::default()
            },
        ),
        (
            "oom",
            vec![ev::function_text("MemoryError")],
            failed("Runtime.ExitError"),
        ),
    ];
    for (k, lines, outcome) in runs {
        h.platform
            .invoke_as(&ids[k], lines, outcome, T)
            .await
            .unwrap();
    }
    h.shutdown(std::time::Duration::from_secs(2)).await.unwrap();
    Run {
        intake: h.intake,
        ids,
    }
}

async fn durable() -> Run {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await
    .unwrap();
    let id = request_id(9_200);
    h.platform.emit([
        ev::init_start("python:3.13.DurableFunction.v1"),
        ev::init_report(100.0),
    ]);
    let lifecycle = h.agent.lifecycle_addr(T).await.unwrap();
    let before = h.platform.begin_invoke(&id, T).await.unwrap();
    let event = json!({"DurableExecutionArn": DURABLE_ARN, "CheckpointToken": "token",
        "InitialExecutionState": {"Operations": [{"Id": "exec", "Type": "EXECUTION"}]}});
    let r = lifecycle::call(
        lifecycle,
        "/lambda/start-invocation",
        &id,
        event.to_string(),
        &[],
    )
    .await;
    assert!(r.status().is_success());
    h.platform.emit([ev::function_text("step one")]);
    let response = json!({"Status": "SUCCEEDED", "Result": "{}"}).to_string();
    let r = lifecycle::call(lifecycle, "/lambda/end-invocation", &id, response, &[]).await;
    assert!(r.status().is_success());
    h.platform
        .finish_invoke(&id, before, Outcome::default(), T)
        .await
        .unwrap();
    h.shutdown(std::time::Duration::from_secs(2)).await.unwrap();
    Run {
        intake: h.intake,
        ids: HashMap::from([("durable", id)]),
    }
}

async fn managed_instance() -> Run {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[],
    )
    .await
    .unwrap();
    let ok = request_id(9_300);
    let fail = request_id(9_301);
    let mut failed = ev::report(&fail, 20.0, true);
    failed["record"]["status"] = json!("error");
    failed["record"]["errorType"] = json!("Runtime.HandlerError");
    h.platform.emit([
        ev::start(&ok),
        ev::start(&fail),
        ev::report(&ok, 20.0, true),
        failed,
    ]);
    assert!(h.platform.wait_telemetry_drained(T).await);
    h.shutdown(std::time::Duration::from_secs(2)).await.unwrap();
    Run {
        intake: h.intake,
        ids: HashMap::from([("mi-ok", ok), ("mi-fail", fail)]),
    }
}

fn fill(text: &str, run: &Run) -> String {
    let mut out = text.replace("<version>", env!("CARGO_PKG_VERSION"));
    for (k, v) in &run.ids {
        out = out.replace(&format!("<{k}>"), v);
    }
    out
}

fn filled(v: &Value, run: &Run) -> Value {
    match v {
        Value::String(s) => Value::String(fill(s, run)),
        other => other.clone(),
    }
}

fn strings(v: &Value, key: &str, run: &Run) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| fill(s, run))
                .collect()
        })
        .unwrap_or_default()
}

/// Every difference between what `run` shipped and the expectations of `mode`.
fn verify(expected: &Value, mode: &str, run: &Run) -> Vec<String> {
    let mut diffs = Vec::new();
    let entries = run.intake.log_entries();
    let message = |e: &Value| e["message"]["message"].as_str().unwrap_or("").to_string();
    let of_mode = |list: &str| {
        expected[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |x| x["mode"] == mode)
    };
    for x in of_mode("logs") {
        let why = x["why"].as_str().unwrap_or("");
        let find = fill(x["find"].as_str().unwrap_or(""), run);
        let contains = x["contains"].as_str().unwrap_or("");
        let hits: Vec<&Value> = entries
            .iter()
            .filter(|e| x["every"] == true || message(e).starts_with(&find))
            .filter(|e| message(e).contains(contains))
            .collect();
        if x["every"] != true && hits.len() != 1 {
            diffs.push(format!(
                "[{mode}] {find:?}: {} entries, expected one ({why})",
                hits.len()
            ));
            continue;
        }
        for e in hits {
            let tags: Vec<&str> = e["ddtags"].as_str().unwrap_or("").split(',').collect();
            for t in strings(x, "ddtags_include", run) {
                if !tags.contains(&t.as_str()) {
                    diffs.push(format!(
                        "[{mode}] {:?}: ddtags lack {t} ({why})",
                        message(e)
                    ));
                }
            }
            for s in strings(x, "message_excludes", run) {
                if message(e).contains(&s) {
                    diffs.push(format!(
                        "[{mode}] {:?}: message holds {s:?} ({why})",
                        message(e)
                    ));
                }
            }
            for (pointer, want) in x["expect"].as_object().into_iter().flatten() {
                let want = filled(want, run);
                let got = e.pointer(pointer).cloned().unwrap_or(Value::Null);
                if got != want {
                    diffs.push(format!(
                        "[{mode}] {:?} {pointer}: {got} != {want} ({why})",
                        message(e)
                    ));
                }
            }
        }
    }
    for x in of_mode("absent_logs") {
        let find = fill(x["find"].as_str().unwrap_or(""), run);
        let n = entries
            .iter()
            .filter(|e| message(e).starts_with(&find))
            .count();
        if n > 0 {
            diffs.push(format!(
                "[{mode}] {n} entries start with {find:?} ({})",
                x["why"]
            ));
        }
    }
    let sketches = run.intake.sketches();
    let series = run.intake.series();
    for x in of_mode("metrics") {
        let metric = x["metric"].as_str().unwrap_or("");
        let include = strings(x, "tags_include", run);
        let exclude = strings(x, "tags_exclude_prefix", run);
        let fits = |tags: &[String]| {
            include.iter().all(|t| tags.contains(t))
                && !tags
                    .iter()
                    .any(|t| exclude.iter().any(|p| t.starts_with(p)))
        };
        let (mut count, mut sum, mut origins) = (0.0, 0.0, Vec::new());
        if x["series"] == true {
            for s in series
                .iter()
                .filter(|s| s.metric == metric && fits(&s.tags))
            {
                count += s.points.len() as f64;
                sum += s.points.iter().map(|p| p.value).sum::<f64>();
                origins.push(s.metadata.and_then(|m| m.origin).map(|o| o.origin_service));
            }
        } else {
            for s in sketches
                .iter()
                .filter(|s| s.metric == metric && fits(&s.tags))
            {
                count += s.dogsketches.iter().map(|d| d.cnt as f64).sum::<f64>();
                sum += s.dogsketches.iter().map(|d| d.sum).sum::<f64>();
                origins.push(s.metadata.and_then(|m| m.origin).map(|o| o.origin_service));
            }
        }
        let why = x["why"].as_str().unwrap_or("");
        if let Some(want) = x["count"].as_f64()
            && count != want
        {
            diffs.push(format!(
                "[{mode}] {metric} {include:?}: count {count} != {want} ({why})"
            ));
        }
        if let Some(want) = x["sum"].as_f64()
            && (sum - want).abs() > 1e-9
        {
            diffs.push(format!(
                "[{mode}] {metric} {include:?}: sum {sum} != {want} ({why})"
            ));
        }
        if let Some(want) = x["origin_service"].as_u64()
            && (origins.is_empty() || origins.iter().any(|o| *o != Some(want as u32)))
        {
            diffs.push(format!(
                "[{mode}] {metric}: origins {origins:?} != {want} ({why})"
            ));
        }
    }
    let spans = run.intake.spans();
    for x in of_mode("spans") {
        let name = x["name"].as_str().unwrap_or("");
        let hits: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
        if hits.len() != 1 {
            diffs.push(format!(
                "[{mode}] {} {name} spans, expected one",
                hits.len()
            ));
            continue;
        }
        for (k, want) in x["meta"].as_object().into_iter().flatten() {
            let got = hits[0].meta.get(k).map(String::as_str);
            if got != want.as_str() {
                diffs.push(format!(
                    "[{mode}] {name} {k}: {got:?} != {want} ({})",
                    x["why"]
                ));
            }
        }
    }
    diffs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_metrics_ship_what_datadogs_extension_ships() {
    let expected = read("parity/logs_metrics.json");
    let mut diffs = verify(&expected, "on-demand", &on_demand().await);
    diffs.extend(verify(&expected, "durable", &durable().await));
    diffs.extend(verify(
        &expected,
        "managed-instance",
        &managed_instance().await,
    ));
    assert!(
        diffs.is_empty(),
        "{} differences from Datadog's behaviour:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

//! End-to-end, on-demand mode: the real binary against the platform simulator and the
//! capture intake over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::intake::Fault;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::process::TEST_API_KEY;
use tandem_testkit::{Harness, request_id};

mod faults;

const T: Duration = Duration::from_secs(10);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn message(e: &Value) -> &str {
    e["message"]["message"].as_str().unwrap_or("")
}

/// The lines of one invocation: plain text, JSON object, multi-line text, JSON-as-text.
fn workload(id: &str, n: usize) -> Vec<Value> {
    vec![
        ev::function_text(&format!("plain line {n} of {id}\n")),
        ev::function_json(json!({"level": "ERROR", "message": format!("json line {n}"), "n": n})),
        ev::function_text(&format!(
            "Traceback {n}:\n  File \"x.py\", line 1\nValueError: {id}\n"
        )),
        ev::function_text(&format!(
            "{{\"level\":\"warn\",\"message\":\"json text {n}\"}}"
        )),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_flow_end_to_end_exactly_once_with_request_ids() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_ENV", "test"),
            ("DD_TAGS", "team:core"),
        ],
    )
    .await
    .unwrap();

    let reg = &h.platform.registrations()[0];
    assert_eq!(reg.events, ["INVOKE", "SHUTDOWN"]);
    assert_eq!(reg.name.as_deref(), Some("datadog-agent"));
    assert_eq!(reg.accept_feature.as_deref(), Some("accountId"));
    let sub = &h.platform.subscriptions()[0];
    assert_eq!(sub.body["schemaVersion"], "2022-12-13");
    assert_eq!(
        sub.body["types"],
        json!(["platform", "function", "extension"])
    );
    assert!(
        sub.body["destination"]["URI"]
            .as_str()
            .unwrap()
            .starts_with("http://sandbox.localdomain:")
    );

    let mut timings = Vec::new();
    let mut expected: HashMap<String, String> = HashMap::new();
    for n in 0..5 {
        let id = request_id(n);
        let lines = workload(&id, n as usize);
        for l in &lines {
            let text = match &l["record"] {
                Value::String(s) => s.trim_end_matches('\n').to_string(),
                other => other.to_string(),
            };
            expected.insert(text, id.clone());
        }
        timings.push(h.platform.invoke(&id, lines, T).await.unwrap());
    }
    let (status, sent, exited) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());
    assert!(exited < sent + Duration::from_secs(2));

    let entries = h.intake.log_entries();
    // Every function line exactly once, with the request id of its invocation.
    for (text, id) in &expected {
        let found: Vec<&Value> = entries.iter().filter(|e| message(e) == text).collect();
        assert_eq!(found.len(), 1, "{text:?} arrived {} times", found.len());
        assert_eq!(
            found[0]["message"]["lambda"]["request_id"],
            json!(id),
            "{text}"
        );
    }
    // Platform lines for each invocation; the last REPORT goes out at shutdown.
    for t in &timings {
        for prefix in ["START", "END", "REPORT"] {
            let line = format!("{prefix} RequestId: {}", t.request_id);
            assert_eq!(
                entries
                    .iter()
                    .filter(|e| message(e).starts_with(&line))
                    .count(),
                1,
                "{line}"
            );
        }
    }
    let report = entries
        .iter()
        .find(|e| message(e).starts_with("REPORT"))
        .unwrap();
    assert!(
        message(report).contains("Billed Duration: 20 ms")
            && message(report).contains("Max Memory Used: 64 MB"),
        "{report}"
    );
    // Entry shape.
    let e = entries
        .iter()
        .find(|e| message(e).starts_with("json line 0") || message(e).contains("json line 0"))
        .unwrap();
    assert_eq!(e["message"]["status"], "error");
    assert_eq!(e["ddsource"], "lambda");
    assert_eq!(e["service"], "tandem-test");
    assert_eq!(
        e["hostname"],
        "arn:aws:lambda:us-east-1:123456789012:function:tandem-test"
    );
    assert_eq!(e["message"]["lambda"]["arn"], e["hostname"]);
    assert!(e["message"]["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    let tags = e["ddtags"].as_str().unwrap();
    for t in [
        "functionname:tandem-test",
        "env:test",
        "team:core",
        "region:us-east-1",
        "account_id:123456789012",
    ] {
        assert!(tags.split(',').any(|x| x == t), "{t} missing from {tags}");
    }
    let json_line: Value = serde_json::from_str(message(e)).expect("JSON log lines stay JSON");
    assert_eq!(json_line["n"], 0);
    let warn = entries
        .iter()
        .find(|e| message(e).contains("json text 1"))
        .unwrap();
    assert_eq!(warn["message"]["status"], "warn");

    // Headers of every logs request.
    for r in h.intake.accepted("/api/v2/logs") {
        assert_eq!(r.header("dd-api-key"), Some(TEST_API_KEY));
        assert_eq!(r.header("content-encoding"), Some("zstd"));
        assert_eq!(r.header("dd-protocol"), Some("agent-json"));
        assert_eq!(r.method, "POST");
    }
    // End of invocation: the flush starts only after runtimeDone, and /next follows it.
    let requests = h.intake.accepted("/api/v2/logs");
    for t in &timings {
        let flush = requests
            .iter()
            .find(|r| {
                r.json().is_some_and(|v| {
                    v.as_array().is_some_and(|a| {
                        a.iter().any(|e| {
                            message(e).starts_with(&format!("END RequestId: {}", t.request_id))
                        })
                    })
                })
            })
            .expect("a flush carried the invocation's END line");
        assert!(
            flush.received_at >= t.runtime_done_sent,
            "flush started before runtimeDone was delivered"
        );
        assert!(
            t.next_called >= flush.answered_at.unwrap(),
            "/next was called before the flush finished"
        );
    }
    // The agent's own diagnostics never leak the key.
    assert!(!h.agent.stderr().join("\n").contains(TEST_API_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_diagnostics_do_not_loop_back() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let id = request_id(100);
    let lines = vec![
        ev::extension_text("TANDEM | DEBUG | flush: logs sent=3"),
        ev::extension_text("another-extension: hello"),
        ev::function_text("fn line"),
    ];
    h.platform.invoke(&id, lines, T).await.unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let entries = h.intake.log_entries();
    assert!(entries.iter().all(|e| !message(e).starts_with("TANDEM |")));
    assert!(
        entries
            .iter()
            .any(|e| message(e) == "another-extension: hello")
    );
    assert!(entries.iter().any(|e| message(e) == "fn line"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_and_stale_connections_deliver_exactly_once() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await
    .unwrap();
    // First invocation warms a pooled connection; the next flushes meet a dropped connection,
    // then a 503, then success.
    h.platform
        .invoke(&request_id(200), vec![ev::function_text("warm")], T)
        .await
        .unwrap();
    h.intake.queue_faults([Fault::Drop, Fault::Status(503)]);
    h.platform
        .invoke(&request_id(201), vec![ev::function_text("after faults")], T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let entries = h.intake.log_entries();
    assert_eq!(
        entries
            .iter()
            .filter(|e| message(e) == "after faults")
            .count(),
        1
    );
    assert_eq!(entries.iter().filter(|e| message(e) == "warm").count(), 1);
    assert!(h.intake.requests().iter().any(|r| r.answered == Some(503)));
}

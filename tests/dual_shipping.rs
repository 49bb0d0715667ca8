//! Dual shipping: every endpoint × key is delivered and retried on its own. One extra
//! destination answers 500, another is very slow; the primary gets everything on time, and the
//! invocation is never held past the flush deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::intake::{CaptureIntake, Fault};
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::process::TEST_API_KEY;
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);
const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_and_a_slow_destination_never_hold_back_the_healthy_one() {
    let failing = CaptureIntake::start().await.unwrap();
    failing.set_fault(Fault::Status(500));
    let slow = CaptureIntake::start().await.unwrap();
    slow.set_fault(Fault::Delay(Duration::from_secs(5)));
    let (a, b) = (failing.url(), slow.url());
    let port = |u: &str| u.rsplit(':').next().unwrap().to_string();
    let metrics = format!(r#"{{"{a}": ["{KEY_A}"], "{b}": ["{KEY_B}"]}}"#);
    let logs = format!(
        r#"[{{"api_key":"{KEY_A}","Host":"http://127.0.0.1","Port":{}}},{{"api_key":"{KEY_B}","Host":"http://127.0.0.1","Port":{}}}]"#,
        port(&a),
        port(&b)
    );
    let mut h = Harness::start(
        Path::new(env!("CARGO_BIN_EXE_tandem")),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_FLUSH_TIMEOUT", "1"),
            ("DD_ADDITIONAL_ENDPOINTS", &metrics),
            ("DD_APM_ADDITIONAL_ENDPOINTS", &metrics),
            ("DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS", &logs),
        ],
    )
    .await
    .unwrap();
    let mut timings = Vec::new();
    for n in 0..3 {
        let t = h
            .platform
            .invoke(
                &request_id(n),
                vec![ev::function_text(&format!("line {n}"))],
                T,
            )
            .await
            .unwrap();
        timings.push(t);
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();

    // The primary got every line, each once, with the primary key, during its own invocation.
    let primary = h.intake.accepted("/api/v2/logs");
    for (n, t) in timings.iter().enumerate() {
        let text = format!("line {n}");
        let carrying: Vec<_> = primary
            .iter()
            .filter(|r| {
                r.json().is_some_and(|v| {
                    v.as_array()
                        .is_some_and(|a| a.iter().any(|e| e["message"]["message"] == text.as_str()))
                })
            })
            .collect();
        assert_eq!(carrying.len(), 1, "{text}");
        assert!(
            carrying[0].received_at >= t.runtime_done_sent
                && carrying[0].received_at <= t.next_called,
            "{text} shipped within its invocation"
        );
        // The slow destination held the invocation at most until the 1 s flush deadline.
        assert!(
            t.next_called.duration_since(t.runtime_done_delivered) < Duration::from_millis(1_500),
            "invocation held {:?}",
            t.next_called.duration_since(t.runtime_done_delivered)
        );
    }
    assert!(
        primary
            .iter()
            .all(|r| r.header("dd-api-key") == Some(TEST_API_KEY))
    );
    assert!(!h.intake.accepted("/api/beta/sketches").is_empty());

    // Each extra destination saw every signal, with its own key.
    for (intake, key) in [(&failing, KEY_A), (&slow, KEY_B)] {
        let reqs = intake.requests();
        for path in ["/api/v2/logs", "/api/beta/sketches"] {
            assert!(
                reqs.iter().any(|r| r.path == path),
                "{path} at {}",
                intake.url()
            );
        }
        assert!(reqs.iter().all(|r| r.header("dd-api-key") == Some(key)));
    }
    // Neither key ever shows up in the agent's log.
    let log = h.agent.stderr().join("\n");
    assert!(!log.contains(KEY_A) && !log.contains(KEY_B));
}

/// `"is_reliable": false` makes a logs endpoint best effort: what it fails to take is dropped
/// and counted, never kept for the next flush; a reliable one gets it again once it recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreliable_logs_endpoint_is_best_effort_and_a_reliable_one_catches_up() {
    let reliable = CaptureIntake::start().await.unwrap();
    let unreliable = CaptureIntake::start().await.unwrap();
    for i in [&reliable, &unreliable] {
        i.set_fault(Fault::Status(500));
    }
    let port = |u: &str| u.rsplit(':').next().unwrap().to_string();
    let logs = format!(
        r#"[{{"api_key":"{KEY_A}","Host":"http://127.0.0.1","Port":{},"is_reliable":true}},{{"api_key":"{KEY_B}","Host":"http://127.0.0.1","Port":{},"is_reliable":false}}]"#,
        port(&reliable.url()),
        port(&unreliable.url())
    );
    let mut h = Harness::start(
        Path::new(env!("CARGO_BIN_EXE_tandem")),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_FLUSH_TIMEOUT", "1"),
            ("DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS", &logs),
        ],
    )
    .await
    .unwrap();
    h.platform
        .invoke(&request_id(1), vec![ev::function_text("while down")], T)
        .await
        .unwrap();
    for i in [&reliable, &unreliable] {
        i.set_fault(Fault::None);
    }
    h.platform
        .invoke(&request_id(2), vec![ev::function_text("after recovery")], T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let lines = |intake: &CaptureIntake| -> Vec<String> {
        intake
            .log_entries()
            .iter()
            .filter_map(|e| e["message"]["message"].as_str().map(str::to_string))
            .filter(|m| m == "while down" || m == "after recovery")
            .collect()
    };
    let mut got = lines(&reliable);
    got.sort();
    assert_eq!(
        got,
        ["after recovery", "while down"],
        "the reliable one caught up"
    );
    assert_eq!(
        lines(&unreliable),
        ["after recovery"],
        "best effort: no second try"
    );
    let log = h.agent.stderr();
    assert!(
        log.iter()
            .any(|l| l.contains("logs (additional endpoints):") && l.contains("dropped")),
        "the best-effort drop is counted: {log:?}"
    );
}

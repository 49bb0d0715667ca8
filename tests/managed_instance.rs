//! End-to-end, Managed Instance mode: SHUTDOWN-only registration, schema 2025-01-29,
//! overlapping invocations seen only through telemetry, background flushes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::intake::Fault;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn message(e: &Value) -> &str {
    e["message"]["message"].as_str().unwrap_or("")
}

/// Line `k` of invocation `n`, in one of the shapes runtimes produce; the id it carries, if any.
fn line(id: &str, n: usize, k: usize) -> (Value, String, Option<String>) {
    let text = format!("inv {n} line {k}");
    match k % 5 {
        0 => {
            let rec = json!({"timestamp": "2025-01-01T00:00:00Z", "level": "INFO", "requestId": id, "message": text});
            let shown = rec.to_string();
            (ev::function_json(rec), shown, Some(id.to_string()))
        }
        1 => {
            let t =
                format!("{{\"AWSRequestId\":\"{id}\",\"level\":\"WARN\",\"message\":\"{text}\"}}");
            (ev::function_text(&t), t, Some(id.to_string()))
        }
        2 => {
            let t = format!("2025-01-01T00:00:00.000Z\t{id}\tERROR\t{text}");
            (ev::function_text(&t), t, Some(id.to_string()))
        }
        3 => {
            let t = format!("[INFO]\t2025-01-01T00:00:00.000Z\t{id}\t{text}\nwith a second line");
            (ev::function_text(&t), t, Some(id.to_string()))
        }
        _ => (ev::function_text(&text), text, None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_overlapping_invocations_never_get_a_wrong_request_id() {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[],
    )
    .await
    .unwrap();
    let reg = &h.platform.registrations()[0];
    assert_eq!(reg.events, ["SHUTDOWN"]);
    assert_eq!(reg.status, 200);
    assert_eq!(
        h.platform.subscriptions()[0].body["schemaVersion"],
        "2025-01-29"
    );
    assert_eq!(h.platform.subscriptions()[0].status, 200);

    let ids: Vec<String> = (0..50).map(|n| request_id(1000 + n)).collect();
    h.platform.emit(ids.iter().map(|id| ev::start(id)));
    // Lines of all invocations interleaved, as concurrent invocations produce them.
    let mut expected = Vec::new();
    let mut batch = Vec::new();
    for k in 0..5 {
        for (n, id) in ids.iter().enumerate() {
            let (event, shown, carried) = line(id, n, (k + n) % 5);
            batch.push(event);
            expected.push((shown, carried));
        }
    }
    h.platform.emit(batch);
    // Reports in reverse order; one arrives in the same batch as a start it precedes.
    let late = request_id(2000);
    h.platform
        .emit([ev::report(&late, 3.0, true), ev::start(&late)]);
    h.platform
        .emit(ids.iter().rev().map(|id| ev::report(id, 5.0, true)));
    assert!(h.platform.wait_telemetry_drained(T).await);
    let (status, _, _) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());

    let entries = h.intake.log_entries();
    for (shown, carried) in &expected {
        let found: Vec<&Value> = entries.iter().filter(|e| message(e) == shown).collect();
        assert_eq!(found.len(), 1, "{shown:?} arrived {} times", found.len());
        assert_eq!(
            found[0]["message"]["lambda"]["request_id"],
            json!(carried),
            "{shown}"
        );
    }
    // As Datadog's extension: no END line in Managed Instance mode (no runtimeDone there); the
    // REPORT line says how the invocation went.
    assert!(
        !entries
            .iter()
            .any(|e| message(e).starts_with("END RequestId"))
    );
    for id in ids.iter().chain([&late]) {
        for prefix in ["START", "REPORT"] {
            let l = format!("{prefix} RequestId: {id}");
            let found: Vec<&Value> = entries
                .iter()
                .filter(|e| message(e).starts_with(&l))
                .collect();
            assert_eq!(found.len(), 1, "{l}");
            assert_eq!(found[0]["message"]["lambda"]["request_id"], json!(id));
        }
    }
    let report = entries
        .iter()
        .find(|e| message(e).starts_with("REPORT"))
        .unwrap();
    assert!(
        !message(report).contains("Billed"),
        "Managed Instance reports carry only the duration: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_flushes_run_beside_invocations_and_never_overlap() {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "continuously,300")],
    )
    .await
    .unwrap();
    h.intake.set_fault(Fault::Delay(Duration::from_secs(2)));
    let mut sent = Vec::new();
    // Keep invocations flowing until two slow flushes have completed.
    for n in 0..600u64 {
        let done = h.intake.accepted("/api/v2/logs").len() >= 2;
        if done {
            break;
        }
        let id = request_id(3000 + n);
        let text = format!("{{\"requestId\":\"{id}\",\"message\":\"m{n}\"}}");
        h.platform.emit([
            ev::start(&id),
            ev::function_text(&text),
            ev::report(&id, 1.0, true),
        ]);
        assert!(
            h.platform.wait_telemetry_drained(T).await,
            "telemetry delivery stalled"
        );
        sent.push(text);
    }
    h.intake.set_fault(Fault::None);
    assert!(
        h.intake
            .wait_for(T, |r| r.iter().all(|r| r.answered.is_some()))
            .await
    );

    let mut flushes = h.intake.requests();
    flushes.retain(|r| r.path == "/api/v2/logs");
    flushes.sort_by_key(|r| r.received_at);
    assert!(flushes.len() >= 2);
    for pair in flushes.windows(2) {
        assert!(
            pair[1].received_at >= pair[0].answered_at.unwrap(),
            "two flushes were in flight at once"
        );
    }
    // Telemetry kept flowing (invocations kept starting and finishing) during a slow flush.
    let deliveries = h.platform.deliveries();
    let during = |f: &tandem_testkit::intake::Captured| {
        deliveries
            .iter()
            .filter(|d| d.sent_at > f.received_at && d.answered_at < f.answered_at.unwrap())
            .count()
    };
    assert!(
        flushes.iter().any(|f| during(f) >= 3),
        "no invocation telemetry was handled during a flush"
    );

    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let entries = h.intake.log_entries();
    for text in &sent {
        assert_eq!(
            entries.iter().filter(|e| message(e) == text).count(),
            1,
            "{text}"
        );
    }
    assert!(
        !h.agent
            .stderr()
            .iter()
            .any(|l| l.contains("does not apply in Managed Instance mode"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_strategies_warn_once_and_invoke_registration_is_refused() {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await
    .unwrap();
    assert!(
        h.agent
            .wait_for_line("does not apply in Managed Instance mode", T)
            .await
    );
    // The simulator refuses INVOKE in this mode, as Lambda does.
    let r = reqwest::Client::new()
        .post(format!(
            "http://{}/2020-01-01/extension/register",
            h.platform.runtime_api()
        ))
        .header("Lambda-Extension-Name", "other")
        .body(r#"{"events":["INVOKE","SHUTDOWN"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Extension.InvalidEventType")
    );
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert_eq!(
        h.agent
            .stderr()
            .iter()
            .filter(|l| l.contains("does not apply"))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_refusing_invoke_without_the_init_type_still_gets_managed_mode() {
    // As an emulator's Managed Instance mode may look: INVOKE refused, no initialization type.
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")],
    )
    .await
    .unwrap();
    let regs = h.platform.registrations();
    assert_eq!(regs.len(), 2, "{regs:?}");
    assert_eq!((regs[0].events.len(), regs[0].status), (2, 403));
    assert_eq!(regs[1].events, ["SHUTDOWN"]);
    assert_eq!(regs[1].status, 200);
    let subscription = &h.platform.subscriptions()[0];
    assert_eq!(subscription.body["schemaVersion"], "2025-01-29");
    assert_eq!(subscription.status, 200);
    let id = request_id(1);
    h.platform.emit([
        ev::start(&id),
        ev::function_text(&format!("2025-01-01T00:00:00.000Z\t{id}\tINFO\tserved")),
        ev::report(&id, 5.0, true),
    ]);
    assert!(h.platform.wait_telemetry_drained(T).await);
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let served: Vec<Value> = h
        .intake
        .log_entries()
        .into_iter()
        .filter(|e| message(e).ends_with("served"))
        .collect();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0]["message"]["lambda"]["request_id"], id.as_str());
    assert!(
        h.agent
            .stderr()
            .iter()
            .any(|l| l.contains("running in Managed Instance mode"))
    );
}

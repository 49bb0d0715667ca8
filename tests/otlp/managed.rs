//! Managed Instance mode: 20 invocations overlapping, each sending its own OTLP spans and log
//! records concurrently (OTLP JSON, as Node's exporters send it); every record reaches the
//! intake with its own invocation's request id (the one its attributes carry), and a record
//! that carries none gets none — never a guess.

use super::{T, agent};
use serde_json::{Value, json};
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::platform::SimMode;
use tandem_testkit::request_id;

fn hex(n: u64, width: usize) -> String {
    format!("{n:0width$x}")
}

/// One invocation's export: a server span with `faas.invocation_id`, and two log records,
/// one naming its invocation and one that does not.
fn export(n: u64, rid: &str) -> (Value, Value) {
    let resource =
        json!({"attributes": [{"key": "service.name", "value": {"stringValue": "mi-svc"}}]});
    let kv = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    let traces = json!({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [{
        "traceId": hex(0xabc0_0000 + n, 32), "spanId": hex(0x100 + n, 16), "name": format!("handler-{n}"),
        "kind": 2, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000005000000",
        "attributes": [kv("faas.invocation_id", rid)]
    }]}]}]});
    let logs = json!({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1700000000001000000", "severityNumber": 9, "body": {"stringValue": format!("mine {n}")},
         "attributes": [kv("faas.invocation_id", rid)], "traceId": hex(0xabc0_0000 + n, 32), "spanId": hex(0x100 + n, 16)},
        {"timeUnixNano": "1700000000002000000", "severityNumber": 9, "body": {"stringValue": format!("anonymous {n}")}}
    ]}]}]});
    (traces, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_overlapping_invocations_keep_their_own_otel_spans_and_logs() {
    let (mut h, http, _) = agent(SimMode::ManagedInstance, &[]).await;
    let ids: Vec<String> = (0..20).map(|n| request_id(3000 + n)).collect();
    h.platform.emit(ids.iter().map(|id| ev::start(id)));
    let client = reqwest::Client::new();
    let sends = ids.iter().enumerate().map(|(n, rid)| {
        let (traces, logs) = export(n as u64, rid);
        let client = client.clone();
        async move {
            for (path, body) in [("traces", traces), ("logs", logs)] {
                let r = client
                    .post(format!("http://127.0.0.1:{http}/v1/{path}"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{path}");
            }
        }
    });
    futures_join(sends).await;
    h.platform
        .emit(ids.iter().rev().map(|id| ev::report(id, 5.0, true)));
    assert!(h.platform.wait_telemetry_drained(T).await);
    h.shutdown(Duration::from_secs(2)).await.unwrap();

    let spans = h.intake.spans();
    let logs = h.intake.log_entries();
    for (n, rid) in ids.iter().enumerate() {
        let span = spans
            .iter()
            .find(|s| s.resource == format!("handler-{n}"))
            .unwrap_or_else(|| panic!("handler-{n} missing"));
        assert_eq!(span.meta["faas.invocation_id"], *rid);
        assert_eq!(span.service, "mi-svc");
        let mine: Vec<&Value> = logs
            .iter()
            .filter(|l| l["message"] == format!("mine {n}"))
            .collect();
        assert_eq!(mine.len(), 1, "mine {n}");
        assert_eq!(mine[0]["lambda"]["request_id"], json!(rid), "mine {n}");
        assert_eq!(mine[0]["dd.span_id"], (0x100 + n as u64).to_string());
        let anon: Vec<&Value> = logs
            .iter()
            .filter(|l| l["message"] == format!("anonymous {n}"))
            .collect();
        assert_eq!(anon.len(), 1);
        assert_eq!(
            anon[0]["lambda"]["request_id"],
            Value::Null,
            "never guessed"
        );
    }
}

/// Runs every future concurrently on the test's runtime.
async fn futures_join<F: std::future::Future<Output = ()> + Send + 'static>(
    all: impl Iterator<Item = F>,
) {
    let tasks: Vec<_> = all.map(tokio::spawn).collect();
    for t in tasks {
        t.await.unwrap();
    }
}

use super::*;
use crate::config::source::Source;
use crate::lambda::events::InvocationRecord;
use std::collections::HashMap;

/// A pipeline past the init phase (lines without an id are not held for the first invocation).
fn pipeline(pairs: &[(&str, &str)], attribution: Attribution) -> LogsPipeline {
    let p = pipeline_in_init(pairs, attribution);
    p.release_held(None);
    p
}

fn pipeline_in_init(pairs: &[(&str, &str)], attribution: Attribution) -> LogsPipeline {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (config, _) = Config::load(&Source::from_maps(env, HashMap::new()));
    let function = FunctionContext::new(&config, Some("f"), Some("1"));
    LogsPipeline::new(&config, function, attribution)
}

fn timed(event: TelemetryEvent) -> Timed {
    Timed {
        time_ms: 1_700_000_000_000,
        event,
    }
}

fn entries(p: &LogsPipeline) -> Vec<serde_json::Value> {
    p.drain()
        .iter()
        .map(|e| serde_json::from_slice(e).unwrap())
        .collect()
}

fn rec(id: &str) -> InvocationRecord {
    serde_json::from_value(serde_json::json!({"requestId": id, "status": "success"})).unwrap()
}

#[test]
fn stream_order_attribution_uses_the_current_invocation() {
    let p = pipeline(&[], Attribution::StreamOrder);
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("hello\n".into()))),
        Some("req-1"),
    );
    let e = &entries(&p)[0];
    assert_eq!(e["message"]["message"], "hello");
    assert_eq!(e["message"]["lambda"]["request_id"], "req-1");
    assert_eq!(e["message"]["timestamp"], 1_700_000_000_000i64);
}

#[test]
fn record_only_attribution_never_guesses() {
    let p = pipeline(&[], Attribution::RecordOnly);
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("hello".into()))),
        Some("req-1"),
    );
    assert!(entries(&p)[0]["message"]["lambda"]["request_id"].is_null());
}

#[test]
fn long_messages_are_truncated_with_a_marker() {
    let p = pipeline(&[], Attribution::StreamOrder);
    let long = "é".repeat(MAX_MESSAGE_BYTES); // two bytes each: cut on a char boundary
    p.on_event(&timed(TelemetryEvent::Function(LogBody::Text(long))), None);
    let msg = entries(&p)[0]["message"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.ends_with(TRUNCATION_MARKER));
    assert!(msg.len() <= MAX_MESSAGE_BYTES + TRUNCATION_MARKER.len());
    assert_eq!(p.counters.truncated.load(Ordering::Relaxed), 1);
}

#[test]
fn buffer_is_capped_and_drops_are_counted() {
    let p = pipeline(
        &[("TANDEM_LOGS_BUFFER_BYTES", "65536")],
        Attribution::StreamOrder,
    );
    for i in 0..2000 {
        p.on_event(
            &timed(TelemetryEvent::Function(LogBody::Text(format!("line {i}")))),
            None,
        );
    }
    let (n, bytes) = p.buffered();
    assert!(bytes <= 65_536);
    let dropped = p.counters.dropped_buffer_full.load(Ordering::Relaxed) as usize;
    assert!(dropped > 0);
    assert_eq!(n + dropped, 2000);
    // Requeue keeps order and respects the cap.
    let first = p.drain();
    let kept = first.len();
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("newer".into()))),
        None,
    );
    let lost = p.requeue(first);
    assert_eq!(p.buffered().0, kept + 1 - lost);
    // When the requeue does not fit, the oldest entries are the ones given up; order holds.
    let all: Vec<String> = entries(&p)
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.last().map(String::as_str), Some("newer"));
    let nums: Vec<u32> = all[..all.len() - 1]
        .iter()
        .map(|m| m["line ".len()..].parse().unwrap())
        .collect();
    assert!(nums.windows(2).all(|w| w[0] + 1 == w[1]));
    assert_eq!(nums.first().copied(), Some(lost as u32));
}

#[test]
fn platform_lines_by_mode() {
    let on_demand = pipeline(&[], Attribution::StreamOrder);
    on_demand.on_event(&timed(TelemetryEvent::Start(rec("a"))), Some("a"));
    on_demand.on_event(&timed(TelemetryEvent::RuntimeDone(rec("a"))), Some("a"));
    on_demand.on_event(&timed(TelemetryEvent::Report(rec("a"))), Some("a"));
    let lines: Vec<String> = entries(&on_demand)
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "START RequestId: a Version: $LATEST",
            "END RequestId: a",
            "REPORT RequestId: a"
        ]
    );

    let managed = pipeline(&[], Attribution::RecordOnly);
    managed.on_event(&timed(TelemetryEvent::Report(rec("b"))), None);
    let lines: Vec<String> = entries(&managed)
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap().to_string())
        .collect();
    // Managed Instances: one REPORT line, as Datadog's extension writes it (no runtimeDone).
    assert_eq!(lines, ["REPORT RequestId: b"]);
}

#[test]
fn disabled_logs_buffer_nothing() {
    let p = pipeline(
        &[("DD_SERVERLESS_LOGS_ENABLED", "false")],
        Attribution::StreamOrder,
    );
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("x".into()))),
        None,
    );
    assert_eq!(p.buffered(), (0, 0));
}

/// Issue 13 (PARITY "Logs"): END with the failure detail, REPORT with the runtime and
/// post-runtime durations and status info, the INIT_START line, and `ddtags` from JSON lines.
#[test]
fn platform_lines_and_ddtags_as_datadogs_extension_writes_them() {
    let p = pipeline(&[], Attribution::StreamOrder);
    let record = |v: serde_json::Value| -> InvocationRecord { serde_json::from_value(v).unwrap() };
    let init: crate::lambda::events::InitRecord = serde_json::from_value(serde_json::json!({
        "initializationType": "on-demand", "phase": "init", "runtimeVersion": "python:3.12.v40",
        "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:abc"}))
    .unwrap();
    p.on_event(&timed(TelemetryEvent::InitStart(init)), None);
    p.on_event(
        &timed(TelemetryEvent::RuntimeDone(record(serde_json::json!({
            "requestId": "t", "status": "timeout", "metrics": {"durationMs": 3000.0}})))),
        Some("t"),
    );
    p.on_event(
        &timed(TelemetryEvent::RuntimeDone(record(serde_json::json!({
            "requestId": "e", "status": "error", "errorType": "Runtime.ExitError",
            "metrics": {"durationMs": 100.0}})))),
        Some("e"),
    );
    p.on_event(
        &timed(TelemetryEvent::Report(record(serde_json::json!({
            "requestId": "e", "status": "error", "metrics": {"durationMs": 102.5,
            "billedDurationMs": 103, "memorySizeMB": 128, "maxMemoryUsedMB": 70,
            "initDurationMs": 250.0}})))),
        Some("e"),
    );
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Json(
            r#"{"msg":"paid","ddtags":"team:pay,tier:1"}"#.into(),
        ))),
        Some("e"),
    );
    let got = entries(&p);
    let lines: Vec<(&str, &str)> = got
        .iter()
        .map(|e| {
            (
                e["message"]["message"].as_str().unwrap(),
                e["message"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "INIT_START Runtime Version: python:3.12.v40 Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:abc",
                "info"
            ),
            (
                "END RequestId: t Task timed out after 3.00 seconds",
                "error"
            ),
            (
                "END RequestId: e Task failed: \"Runtime.ExitError\"",
                "error"
            ),
            (
                "REPORT RequestId: e Duration: 102.50 ms Runtime Duration: 100.00 ms Post Runtime Duration: 2.50 ms Billed Duration: 103 ms Memory Size: 128 MB Max Memory Used: 70 MB Init Duration: 250.00 ms",
                "info"
            ),
            (r#"{"msg":"paid"}"#, "info"),
        ]
    );
    let tags = got[4]["ddtags"].as_str().unwrap();
    assert!(
        tags.starts_with("functionname:f,") && tags.ends_with(",team:pay,tier:1"),
        "{tags}"
    );
}

/// Issue 13 (PARITY "Logs"): on-demand, lines of the init phase carry the first invocation's
/// request id; with no invocation they go out without one at the last flush.
#[test]
fn init_lines_take_the_first_invocations_request_id() {
    let p = pipeline_in_init(&[], Attribution::StreamOrder);
    let init: crate::lambda::events::InitRecord = serde_json::from_value(serde_json::json!({
        "initializationType": "on-demand", "phase": "init", "runtimeVersion": "python:3.12.v40"}))
    .unwrap();
    p.on_event(&timed(TelemetryEvent::InitStart(init)), None);
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text(
            "loading model\n".into(),
        ))),
        None,
    );
    assert_eq!(p.buffered().0, 0, "held until the first invocation");
    p.on_event(&timed(TelemetryEvent::Start(rec("first"))), Some("first"));
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("handling\n".into()))),
        Some("first"),
    );
    let got: Vec<(String, Option<String>)> = entries(&p)
        .iter()
        .map(|e| {
            (
                e["message"]["message"].as_str().unwrap().to_string(),
                e["message"]["lambda"]["request_id"]
                    .as_str()
                    .map(str::to_string),
            )
        })
        .collect();
    let first = Some("first".to_string());
    assert_eq!(got[0].1, first, "{got:?}");
    assert!(got[0].0.starts_with("INIT_START"));
    assert_eq!(got[1], ("loading model".into(), first.clone()));
    assert_eq!(got[2].0, "START RequestId: first Version: $LATEST");
    assert_eq!(got[3], ("handling".into(), first));

    let never = pipeline_in_init(&[], Attribution::StreamOrder);
    never.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text(
            "init only\n".into(),
        ))),
        None,
    );
    never.release_held(None);
    let got = entries(&never);
    assert_eq!(got[0]["message"]["message"], "init only");
    assert!(got[0]["message"]["lambda"]["request_id"].is_null());

    let managed = pipeline_in_init(&[], Attribution::RecordOnly);
    managed.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("x\n".into()))),
        None,
    );
    assert_eq!(
        managed.buffered().0,
        1,
        "Managed Instances never guess: nothing is held"
    );
}

/// A durable function's lines wait for their execution context (here from a tracer span,
/// arriving after them) and carry it; END waits for the status; nothing is lost.
#[test]
fn a_durable_functions_lines_wait_for_their_context() {
    let registry = std::sync::Arc::new(crate::durable::Registry::default());
    let p = pipeline(&[], Attribution::StreamOrder).with_durable(registry.clone());
    let init: crate::lambda::events::InitRecord = serde_json::from_value(
        serde_json::json!({"runtimeVersion": "nodejs:22.DurableFunction.v2"}),
    )
    .unwrap();
    p.on_event(&timed(TelemetryEvent::InitStart(init)), None);
    p.on_event(&timed(TelemetryEvent::Start(rec("d"))), Some("d"));
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("step".into()))),
        Some("d"),
    );
    // Not known yet, not ended: only the INIT_START line (no request) goes out.
    let early: Vec<String> = entries(&p)
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        early.iter().all(|m| m.starts_with("INIT_START")),
        "{early:?}"
    );
    registry.record(
        "d",
        crate::durable::Context {
            execution_name: "exec".into(),
            execution_id: "id".into(),
            first_invocation: Some(true),
            status: None,
        },
    );
    p.on_event(&timed(TelemetryEvent::RuntimeDone(rec("d"))), Some("d"));
    registry.set_status("d", "SUCCEEDED".into());
    let got = entries(&p);
    let by = |prefix: &str| {
        got.iter()
            .find(|e| {
                e["message"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(prefix)
            })
            .unwrap()
            .clone()
    };
    for m in ["START", "step", "END"] {
        assert_eq!(
            by(m)["message"]["lambda"]["durable_function.execution_name"],
            "exec",
            "{m}"
        );
    }
    assert_eq!(
        by("END")["message"]["lambda"]["durable_function.execution_status"],
        "SUCCEEDED"
    );
    assert!(
        by("step")["message"]["lambda"]
            .get("durable_function.execution_status")
            .is_none()
    );
}

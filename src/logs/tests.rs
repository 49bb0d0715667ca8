use super::*;
use crate::config::source::Source;
use crate::lambda::events::InvocationRecord;
use std::collections::HashMap;

fn pipeline(pairs: &[(&str, &str)], attribution: Attribution) -> LogsPipeline {
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
    assert_eq!(lines, ["END RequestId: b", "REPORT RequestId: b"]);
}

#[test]
fn disabled_logs_buffer_nothing() {
    let p = pipeline(&[("DD_SERVERLESS_LOGS_ENABLED", "false")], Attribution::StreamOrder);
    p.on_event(
        &timed(TelemetryEvent::Function(LogBody::Text("x".into()))),
        None,
    );
    assert_eq!(p.buffered(), (0, 0));
}

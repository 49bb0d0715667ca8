use super::*;
use crate::lambda::events::parse_batch;
use serde_json::json;

fn events(v: serde_json::Value) -> Vec<Timed> {
    let b = parse_batch(v.to_string().as_bytes(), 1_700_000_000_000);
    assert_eq!(b.rejected, 0);
    b.events
}

fn run(e: &mut Enhanced, v: serde_json::Value, current: Option<&str>) -> Vec<Point> {
    events(v)
        .iter()
        .flat_map(|ev| e.on_event(ev, current))
        .collect()
}

fn values<'a>(points: &'a [Point], name: &str) -> Vec<(f64, &'a [String])> {
    points
        .iter()
        .filter(|p| p.name == name)
        .map(|p| (p.value, p.tags.as_slice()))
        .collect()
}

#[test]
fn on_demand_cold_then_warm_with_error_timeout_and_oom() {
    let mut e = Enhanced::new(true, false);
    let p = run(
        &mut e,
        json!([
            {"type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "metrics": {"durationMs": 250.0}}},
            {"type": "platform.start", "record": {"requestId": "a"}},
            {"type": "platform.runtimeDone", "record": {"requestId": "a", "status": "success", "metrics": {"durationMs": 100.0, "producedBytes": 10},
              "spans": [{"name": "responseLatency", "durationMs": 2.0}, {"name": "responseDuration", "durationMs": 0.5}]}},
            {"type": "platform.report", "record": {"requestId": "a", "status": "success", "metrics": {"durationMs": 110.0, "billedDurationMs": 111, "memorySizeMB": 1024, "maxMemoryUsedMB": 100}}}
        ]),
        Some("a"),
    );
    let cold = ["cold_start:true".to_string()];
    // Issue 13 (PARITY "Metrics"): init_duration carries the cold start tag too.
    assert_eq!(values(&p, "init_duration"), [(0.25, &cold[..])]);
    assert_eq!(values(&p, "invocations"), [(1.0, &cold[..])]);
    assert_eq!(values(&p, "runtime_duration")[0].0, 100.0);
    assert_eq!(values(&p, "post_runtime_duration")[0].0, 10.0);
    assert_eq!(values(&p, "duration")[0].0, 0.11);
    assert_eq!(values(&p, "billed_duration")[0].0, 0.111);
    assert_eq!(values(&p, "response_latency")[0].0, 2.0);
    assert_eq!(values(&p, "response_duration")[0].0, 0.5);
    assert_eq!(values(&p, "produced_bytes")[0].0, 10.0);
    let cost = values(&p, "estimated_cost")[0].0;
    assert!((cost - (0.000_000_2 + 0.111 * 1.0 * 0.000_016_666_7)).abs() < 1e-15);
    assert!(values(&p, "errors").is_empty() && values(&p, "out_of_memory").is_empty());

    let p = run(
        &mut e,
        json!([
            {"type": "platform.start", "record": {"requestId": "b"}},
            {"type": "platform.runtimeDone", "record": {"requestId": "b", "status": "error", "errorType": "Runtime.ExitError", "metrics": {"durationMs": 5.0}}},
            {"type": "platform.report", "record": {"requestId": "b", "status": "error", "metrics": {"durationMs": 6.0, "billedDurationMs": 6, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}},
            {"type": "platform.start", "record": {"requestId": "c"}},
            {"type": "platform.runtimeDone", "record": {"requestId": "c", "status": "timeout", "metrics": {"durationMs": 3000.0}}},
            {"type": "platform.start", "record": {"requestId": "d"}},
            {"type": "function", "record": "Traceback...\nMemoryError"},
            {"type": "platform.runtimeDone", "record": {"requestId": "d", "status": "error", "errorType": "Runtime.OutOfMemory", "metrics": {"durationMs": 5.0}}},
            {"type": "platform.report", "record": {"requestId": "d", "status": "error", "metrics": {"durationMs": 6.0, "billedDurationMs": 6, "memorySizeMB": 128, "maxMemoryUsedMB": 128}}}
        ]),
        None,
    );
    let warm = ["cold_start:false".to_string()];
    assert_eq!(values(&p, "invocations"), [(1.0, &warm[..]); 3]);
    // Issue 13 (PARITY "Metrics"): timeouts are errors too, as CloudWatch and Datadog count.
    assert_eq!(values(&p, "errors").len(), 3, "b, c (the timeout) and d");
    assert_eq!(values(&p, "timeouts").len(), 1);
    // The log line has no id and no stream attribution was given here; the errorType and the
    // full memory both point at d, which is counted once.
    assert_eq!(values(&p, "out_of_memory").len(), 1);
}

#[test]
fn oom_from_logs_is_attributed_and_counted_once() {
    let mut e = Enhanced::new(true, true);
    let p = run(
        &mut e,
        json!([
            {"type": "platform.start", "record": {"requestId": "x"}},
            {"type": "function", "record": "FATAL: JavaScript heap out of memory"},
            {"type": "function", "record": "FATAL: JavaScript heap out of memory"},
            {"type": "platform.runtimeDone", "record": {"requestId": "x", "status": "error", "errorType": "Runtime.OutOfMemory"}}
        ]),
        Some("x"),
    );
    assert_eq!(values(&p, "out_of_memory").len(), 1);
}

#[test]
fn managed_instance_reports_are_attributed_per_request() {
    let mut e = Enhanced::new(true, false);
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.push(json!({"type": "platform.start", "record": {"requestId": format!("r{i}")}}));
    }
    for i in (0..50).rev() {
        let status = if i % 10 == 0 { "error" } else { "success" };
        batch.push(json!({"type": "platform.report", "record": {"requestId": format!("r{i}"), "status": status,
            "metrics": {"durationMs": i as f64}, "spans": [{"name": "responseLatency", "durationMs": 1.0}]}}));
    }
    let p = run(&mut e, serde_json::Value::Array(batch), None);
    assert_eq!(values(&p, "invocations").len(), 50);
    assert_eq!(
        values(&p, "invocations")
            .iter()
            .filter(|(_, t)| t[0] == "cold_start:true")
            .count(),
        1
    );
    let mut durations: Vec<f64> = values(&p, "duration")
        .iter()
        .map(|(v, _)| *v * 1000.0)
        .collect();
    durations.sort_by(f64::total_cmp);
    assert_eq!(durations, (0..50).map(f64::from).collect::<Vec<_>>());
    assert_eq!(values(&p, "errors").len(), 5);
    assert_eq!(values(&p, "response_latency").len(), 50);
    for absent in [
        "billed_duration",
        "max_memory_used",
        "memorysize",
        "estimated_cost",
        "post_runtime_duration",
        "runtime_duration",
    ] {
        assert!(values(&p, absent).is_empty(), "{absent}");
    }
}

#[test]
fn shutdown_and_unused_init() {
    let mut e = Enhanced::new(true, false);
    let p = e.on_shutdown(5);
    assert_eq!(
        p.iter().map(|p| p.name).collect::<Vec<_>>(),
        ["shutdowns", "unused_init"]
    );
    assert!(Enhanced::new(false, false).on_shutdown(5).is_empty());
}

/// Issue 12, item 6: a SnapStart restore reports its duration, and the restored environment's
/// first invocation is a cold start again.
#[test]
fn snapstart_restore_duration_and_restore_aware_cold_start() {
    let mut e = Enhanced::new(true, false);
    let warm = run(
        &mut e,
        json!([
            {"type": "platform.initReport", "record": {"initializationType": "snap-start", "phase": "init", "metrics": {"durationMs": 900.0}}},
            {"type": "platform.start", "record": {"requestId": "a"}}
        ]),
        Some("a"),
    );
    assert_eq!(
        values(&warm, "invocations")[0].1,
        ["cold_start:true".to_string()]
    );
    let p = run(
        &mut e,
        json!([
            {"type": "platform.restoreStart", "record": {"runtimeVersion": "java:21.v1"}},
            {"type": "platform.restoreReport", "record": {"status": "success", "metrics": {"durationMs": 40.0}}},
            {"type": "platform.start", "record": {"requestId": "b"}}
        ]),
        Some("b"),
    );
    assert_eq!(values(&p, "snapstart_restore_duration"), [(0.04, &[][..])]);
    assert_eq!(
        values(&p, "invocations")[0].1,
        ["cold_start:true".to_string()]
    );
}

/// Issue 13 (PARITY "Metrics"): shutdowns carry the latest invocation's cold start; Managed
/// Instance mode has no cold-start tags at all.
#[test]
fn cold_start_tags_on_shutdowns_and_none_under_managed_instances() {
    let batch = json!([
        {"type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "metrics": {"durationMs": 100.0}}},
        {"type": "platform.start", "record": {"requestId": "a"}},
        {"type": "platform.report", "record": {"requestId": "a", "status": "success", "metrics": {"durationMs": 5.0}}}
    ]);
    let mut e = Enhanced::new(true, false);
    run(&mut e, batch.clone(), Some("a"));
    let p = e.on_shutdown(5);
    assert_eq!(
        values(&p, "shutdowns"),
        [(1.0, &["cold_start:true".to_string()][..])]
    );

    let mut mi = Enhanced::new(true, false).without_cold_start_tags();
    let p = run(&mut mi, batch, None);
    assert!(
        p.iter()
            .all(|p| p.tags.iter().all(|t| !t.starts_with("cold_start")))
    );
    assert!(mi.on_shutdown(5).iter().all(|p| p.tags.is_empty()));
}

/// Issue 13 (PARITY "Metrics"): a first invocation more than 10 s after init started is a
/// proactive initialisation, not a cold start.
#[test]
fn a_proactive_init_is_tagged_and_is_not_a_cold_start() {
    let mut e = Enhanced::new(true, false);
    let p = run(
        &mut e,
        json!([
            {"time": "2023-11-14T22:13:00.000Z", "type": "platform.initStart", "record": {"initializationType": "on-demand", "phase": "init"}},
            {"time": "2023-11-14T22:13:30.000Z", "type": "platform.start", "record": {"requestId": "late"}},
            {"time": "2023-11-14T22:13:31.000Z", "type": "platform.start", "record": {"requestId": "next"}}
        ]),
        None,
    );
    let inv = values(&p, "invocations");
    assert_eq!(
        inv[0].1,
        [
            "cold_start:false".to_string(),
            "proactive_initialization:true".to_string()
        ]
    );
    assert_eq!(inv[1].1, ["cold_start:false".to_string()]);

    let mut quick = Enhanced::new(true, false);
    let p = run(
        &mut quick,
        json!([
            {"time": "2023-11-14T22:13:00.000Z", "type": "platform.initStart", "record": {"initializationType": "on-demand", "phase": "init"}},
            {"time": "2023-11-14T22:13:01.000Z", "type": "platform.start", "record": {"requestId": "first"}}
        ]),
        None,
    );
    assert_eq!(
        values(&p, "invocations")[0].1,
        ["cold_start:true".to_string()]
    );
}

use super::*;

fn rec(id: &str) -> InvocationRecord {
    InvocationRecord {
        request_id: id.into(),
        version: None,
        status: Some("success".into()),
        error_type: None,
        metrics: Default::default(),
        spans: vec![],
        tracing: None,
    }
}

#[test]
fn sequential_lifecycle() {
    let mut t = Tracker::new();
    t.on_invoke(InvokeEvent {
        request_id: "a".into(),
        deadline_ms: 0,
        invoked_function_arn: String::new(),
        tracing: None,
    });
    assert_eq!(t.awaiting_report(), 1);
    assert_eq!(
        t.apply(&TelemetryEvent::Start(rec("a")), 1),
        Some(Lifecycle::Started {
            request_id: "a".into()
        })
    );
    assert_eq!(t.concurrency(), 1);
    assert_eq!(t.current_request_id(), Some("a"));
    assert!(!t.has_runtime_done("a"));
    t.apply(&TelemetryEvent::RuntimeDone(rec("a")), 2);
    assert!(t.has_runtime_done("a"));
    t.apply(&TelemetryEvent::Report(rec("a")), 3);
    assert_eq!((t.concurrency(), t.awaiting_report()), (0, 0));
    assert!(t.has_runtime_done("a"), "finished invocations still answer");
}

#[test]
fn report_before_start_is_not_left_in_flight() {
    let mut t = Tracker::new();
    t.apply(&TelemetryEvent::Report(rec("x")), 5);
    assert_eq!(t.concurrency(), 0);
    t.apply(&TelemetryEvent::Start(rec("x")), 4);
    assert_eq!(t.concurrency(), 0);
    // A late duplicate does not resurrect it.
    t.apply(&TelemetryEvent::Start(rec("x")), 6);
    assert_eq!(t.concurrency(), 0);
    assert!(t.get("x").is_none());
}

#[test]
fn many_overlapping_invocations_in_any_order() {
    let mut t = Tracker::new();
    let ids: Vec<String> = (0..1600).map(|i| format!("req-{i}")).collect();
    for id in &ids {
        t.apply(&TelemetryEvent::Start(rec(id)), 0);
    }
    assert_eq!(t.concurrency(), 1600);
    // Reports in reverse order, interleaved with some starts arriving after reports.
    for (n, id) in ids.iter().rev().enumerate() {
        t.apply(&TelemetryEvent::Report(rec(id)), 1);
        assert_eq!(t.concurrency(), 1600 - n - 1);
    }
    t.apply(&TelemetryEvent::Report(rec("late")), 2);
    t.apply(&TelemetryEvent::Start(rec("late")), 1);
    assert_eq!(t.concurrency(), 0);
}

#[test]
fn bounded_under_a_flood_of_unfinished_ids() {
    let mut t = Tracker::new();
    for i in 0..(MAX_TRACKED + 500) {
        t.apply(&TelemetryEvent::Start(rec(&i.to_string())), 0);
    }
    assert_eq!(t.concurrency(), MAX_TRACKED);
    assert_eq!(t.evicted(), 500);
}

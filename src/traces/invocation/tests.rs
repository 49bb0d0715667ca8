use super::*;
use crate::config::source::Source;
use serde_json::json;

fn invocations(pairs: &[(&str, &str)]) -> Invocations {
    let mut env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), "fn".into());
    let (config, w) = Config::load(&Source::from_maps(env, HashMap::new()));
    assert!(w.is_empty(), "{w:?}");
    Invocations::new(&config, &FunctionContext::new(&config, None, Some("1")))
}

fn spans(p: &TracerPayload) -> &[Span] {
    &p.chunks[0].spans
}

#[test]
fn payload_capture_flattens_truncates_and_redacts() {
    let inv = invocations(&[
        ("DD_CAPTURE_LAMBDA_PAYLOAD", "true"),
        ("DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH", "2"),
    ]);
    let event = json!({"user": {"name": "ann", "password": "hunter2", "deep": {"x": 1}}, "Authorization": "Bearer t", "big": "x".repeat(6000), "list": [1, 2]});
    inv.start("r", &event, 1_000);
    let p = inv
        .end(
            "r",
            Some(&json!({"statusCode": 201, "body": {"token": "abc", "ok": true}})),
            None,
            TracerIds::default(),
            2_000,
        )
        .unwrap();
    let m = &spans(&p.payload).last().unwrap().meta;
    assert_eq!(m["function.request.user.name"], "ann");
    assert_eq!(m["function.request.user.password"], "redacted");
    assert_eq!(m["function.request.Authorization"], "redacted");
    assert_eq!(
        m["function.request.user.deep"], r#"{"x":1}"#,
        "depth 2 keeps deeper values as JSON"
    );
    assert_eq!(m["function.request.list.1"], "2");
    assert!(m["function.request.big"].len() <= 5_003 && m["function.request.big"].ends_with("..."));
    assert_eq!(m["function.response.body.token"], "redacted");
    assert_eq!(m["function.response.body.ok"], "true");
    assert_eq!(m["http.status_code"], "201");
    assert!(
        !m.values()
            .any(|v| v.contains("hunter2") || v.contains("Bearer"))
    );

    let off = invocations(&[]);
    off.start("r", &event, 1_000);
    let p = off
        .end("r", None, None, TracerIds::default(), 2_000)
        .unwrap();
    assert!(
        !spans(&p.payload)
            .last()
            .unwrap()
            .meta
            .keys()
            .any(|k| k.starts_with("function.request"))
    );
}

#[test]
fn timeout_cold_start_and_unknown_requests() {
    let inv = invocations(&[]);
    inv.set_init_duration_ms(250.0);
    inv.start("a", &json!({}), 1_000_000_000);
    let p = inv.timeout("a", 4_000_000_000).unwrap();
    let s = spans(&p.payload);
    let lambda = s.iter().find(|s| s.name == "aws.lambda").unwrap();
    assert_eq!(
        (
            lambda.error,
            lambda.meta["error.type"].as_str(),
            lambda.meta["error.msg"].as_str(),
            lambda.duration
        ),
        (1, "Timeout", "Datadog detected a Timeout", 3_000_000_000)
    );
    let cold = s
        .iter()
        .find(|s| s.name == "aws.lambda.cold_start")
        .unwrap();
    // Datadog places it beside aws.lambda, under the trigger span (here: none).
    assert_eq!(
        (cold.parent_id, cold.duration, cold.start),
        (lambda.parent_id, 250_000_000, 750_000_000)
    );
    assert!(
        inv.end("a", None, None, TracerIds::default(), 5).is_none(),
        "already ended"
    );
    assert!(
        inv.end("never-started", None, None, TracerIds::default(), 5)
            .is_none()
    );
    inv.start("b", &json!({}), 10);
    let p = inv.end("b", None, None, TracerIds::default(), 20).unwrap();
    assert!(
        spans(&p.payload)
            .iter()
            .all(|s| s.name != "aws.lambda.cold_start"),
        "warm invocation"
    );
}

#[test]
fn managed_services_off_keeps_context_but_no_inferred_span() {
    let inv = invocations(&[("DD_TRACE_MANAGED_SERVICES", "false")]);
    let event = json!({"Records": [{"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "messageAttributes": {"_datadog": {"stringValue": "{\"x-datadog-trace-id\":\"77\",\"x-datadog-parent-id\":\"88\"}"}}}]});
    let headers = inv.start("r", &event, 1);
    assert!(headers.contains(&("x-datadog-trace-id", "77".to_string())));
    let p = inv.end("r", None, None, TracerIds::default(), 2).unwrap();
    let s = spans(&p.payload);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].trace_id, s[0].parent_id), (77, 88));
    assert_eq!(s[0].meta["function_trigger.event_source"], "sqs");
}

/// Issue 11, row 13: two sandboxes starting together (same millisecond, same pid) must not
/// share trace and span ids.
#[test]
fn ids_of_environments_started_together_differ() {
    let a = invocations(&[]);
    let b = invocations(&[]);
    let (x, y) = (a.id(), b.id());
    assert_ne!(x, y);
    assert!(x > 0 && y > 0);
}

/// Found by the `lifecycle_event` fuzz target: an SNS timestamp past year 2262 overflowed when
/// turned into nanoseconds (a panic with overflow checks, a wrapped start time without).
#[test]
fn a_trigger_timestamp_beyond_nanosecond_range_is_ignored() {
    let inv = invocations(&[]);
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
        "Timestamp": "9999-12-31T23:59:59.000Z", "Message": "m", "MessageId": "1"
    }}]});
    inv.start("r", &event, 1_000);
    let p = inv
        .end("r", None, None, TracerIds::default(), 2_000)
        .unwrap();
    assert!(
        spans(&p.payload)
            .iter()
            .all(|s| s.start >= 0 && s.duration >= 0)
    );
}

/// Issue 12, item 6 (SnapStart): a restored environment's first invocation is a cold start,
/// shown as the restore (its init ran elsewhere), beside aws.lambda.
#[test]
fn a_snapstart_restore_gives_the_restore_span_and_a_new_cold_start() {
    let inv = invocations(&[]);
    inv.set_init_duration_ms(250.0);
    inv.start("warm-before", &json!({}), 10);
    inv.end("warm-before", None, None, TracerIds::default(), 20);
    inv.cold.restore_started();
    inv.cold.set_restore_duration_ms(40.0);
    inv.start("a", &json!({}), 1_000_000_000);
    let b = inv
        .end("a", None, None, TracerIds::default(), 2_000_000_000)
        .unwrap();
    let s = spans(&b.payload);
    let lambda = s.iter().find(|s| s.name == "aws.lambda").unwrap();
    assert_eq!(lambda.meta["cold_start"], "true");
    let r = s
        .iter()
        .find(|s| s.name == "aws.lambda.snapstart_restore")
        .unwrap();
    assert_eq!(
        (r.duration, r.start, r.parent_id),
        (40_000_000, 960_000_000, lambda.parent_id)
    );
    assert!(s.iter().all(|s| s.name != "aws.lambda.cold_start"));
}

/// Issue 12, items 3 and 6: a timed-out invocation marks its inferred span failed too, and
/// Managed Instance mode has no cold-start span (as Datadog's extension).
#[test]
fn timeouts_fail_the_trigger_span_and_managed_instances_have_no_cold_start_span() {
    let inv = invocations(&[]);
    let event = json!({"Records": [{"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]});
    inv.start("t", &event, 1_000);
    let b = inv.timeout("t", 2_000).unwrap();
    let sqs = spans(&b.payload)
        .iter()
        .find(|s| s.name == "aws.sqs")
        .unwrap();
    assert_eq!(sqs.error, 1);

    let mi = invocations(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances")]);
    mi.set_init_duration_ms(300.0);
    mi.start("m", &json!({}), 1_000_000_000);
    let b = mi
        .end("m", None, None, TracerIds::default(), 2_000_000_000)
        .unwrap();
    assert!(
        spans(&b.payload)
            .iter()
            .all(|s| s.name != "aws.lambda.cold_start")
    );
}

/// A timeout's time comes from telemetry (outside the process): an absurd one must not overflow.
#[test]
fn a_timeout_at_an_absurd_time_does_not_overflow() {
    let inv = invocations(&[]);
    let event = json!({"Records": [{"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]});
    inv.start("t", &event, 1_700_000_000_000_000_000);
    let b = inv.timeout("t", i64::MIN).unwrap();
    assert!(spans(&b.payload).iter().all(|s| s.duration == 0));
}

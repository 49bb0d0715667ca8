#![allow(clippy::indexing_slicing, clippy::string_slice)] // a test may index: a panic fails it

use super::*;

#[test]
fn decodes_both_schemas_and_tolerates_unknowns() {
    let body = br#"[
      {"time":"2025-01-01T00:00:00.000Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST","newField":1}},
      {"time":"2025-01-01T00:00:00.010Z","type":"function","record":"hello\nworld\n"},
      {"time":"2025-01-01T00:00:00.011Z","type":"function","record":{"level":"ERROR","requestId":"r1","message":"boom"}},
      {"time":"2025-01-01T00:00:00.020Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":20.5,"producedBytes":12},"spans":[{"name":"responseLatency","start":"2025-01-01T00:00:00.000Z","durationMs":1.2}]}},
      {"time":"2025-01-01T00:00:00.030Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":30.0,"billedDurationMs":31,"memorySizeMB":128,"maxMemoryUsedMB":60}}},
      {"time":"2025-01-01T00:00:00.030Z","type":"platform.somethingNew","record":{}},
      {"type":"platform.start","record":{"noRequestId":true}},
      42
    ]"#;
    let b = parse_batch(body, 7);
    assert_eq!(b.events.len(), 6);
    assert_eq!(b.rejected, 2);
    assert!(
        matches!(&b.events[1].event, TelemetryEvent::Function(LogBody::Text(t)) if t == "hello\nworld\n")
    );
    assert!(
        matches!(&b.events[2].event, TelemetryEvent::Function(LogBody::Json(j)) if j.starts_with("{\"level\""))
    );
    let TelemetryEvent::Report(r) = &b.events[4].event else {
        panic!("not a report")
    };
    assert_eq!(r.metrics.max_memory_used_mb, Some(60.0));
    assert_eq!(
        b.events[5].event,
        TelemetryEvent::Other("platform.somethingNew".into())
    );
}

#[test]
fn garbage_is_rejected_whole_without_panic() {
    for body in [&b"not json"[..], b"{}", b"", b"[", b"\xff\xfe"] {
        let b = parse_batch(body, 0);
        assert!(b.events.is_empty());
        assert_eq!(b.rejected, 1);
    }
}

#[test]
fn next_events() {
    let inv = parse_next(
        br#"{"eventType":"INVOKE","deadlineMs":5,"requestId":"r","invokedFunctionArn":"arn"}"#,
    )
    .unwrap();
    assert!(matches!(inv, NextEvent::Invoke(i) if i.request_id == "r" && i.deadline_ms == 5));
    let sd = parse_next(
        br#"{"eventType":"SHUTDOWN","shutdownReason":"SandboxTerminated","deadlineMs":9}"#,
    )
    .unwrap();
    assert_eq!(
        sd,
        NextEvent::Shutdown {
            reason: "SandboxTerminated".into(),
            deadline_ms: 9
        }
    );
    assert!(parse_next(b"{}").is_err());
    assert!(parse_next(br#"{"eventType":"RESTORE"}"#).is_err());
}

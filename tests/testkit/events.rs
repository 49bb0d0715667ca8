//! Builders of Telemetry API events as Lambda sends them (JSON envelopes).

use serde_json::{Value, json};

fn envelope(kind: &str, record: Value) -> Value {
    let now = tandem::time::now_ms();
    json!({ "time": rfc3339(now), "type": kind, "record": record })
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `platform.initStart` of an on-demand init with `runtime_version`.
pub fn init_start(runtime_version: &str) -> Value {
    envelope(
        "platform.initStart",
        json!({"initializationType": "on-demand", "phase": "init",
            "runtimeVersion": runtime_version,
            "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:0123abcd"}),
    )
}

/// `platform.initReport` of a successful on-demand init that took `duration_ms`.
pub fn init_report(duration_ms: f64) -> Value {
    envelope(
        "platform.initReport",
        json!({"initializationType": "on-demand", "phase": "init", "status": "success",
            "metrics": {"durationMs": duration_ms}}),
    )
}

pub fn start(request_id: &str) -> Value {
    envelope(
        "platform.start",
        json!({ "requestId": request_id, "version": "$LATEST" }),
    )
}

pub fn runtime_done(request_id: &str, status: &str, duration_ms: f64) -> Value {
    envelope(
        "platform.runtimeDone",
        json!({
            "requestId": request_id, "status": status,
            "metrics": { "durationMs": duration_ms, "producedBytes": 42 },
            "spans": [{ "name": "responseLatency", "start": rfc3339(tandem::time::now_ms()), "durationMs": 1.0 }]
        }),
    )
}

/// An on-demand report (every metric) or, with `managed`, a Managed Instance one (duration only).
pub fn report(request_id: &str, duration_ms: f64, managed: bool) -> Value {
    let metrics = if managed {
        json!({ "durationMs": duration_ms })
    } else {
        json!({ "durationMs": duration_ms, "billedDurationMs": duration_ms.ceil(), "memorySizeMB": 128, "maxMemoryUsedMB": 64 })
    };
    envelope(
        "platform.report",
        json!({ "requestId": request_id, "status": "success", "metrics": metrics }),
    )
}

/// A function log line as text.
pub fn function_text(line: &str) -> Value {
    envelope("function", Value::String(line.to_string()))
}

/// A function log line in Lambda's JSON log format (the record is an object).
pub fn function_json(record: Value) -> Value {
    envelope("function", record)
}

pub fn extension_text(line: &str) -> Value {
    envelope("extension", Value::String(line.to_string()))
}

//! The platform lines Datadog's extension writes from Lambda's own records: END (with the
//! failure in Lambda's words) and REPORT (with the runtime and post-runtime durations). Pure
//! text; the pipeline decides status, holding and shipping.

use crate::lambda::events::InvocationRecord;

/// The END line: `END RequestId: <id>`, then why it failed (a timeout's duration, the error
/// type).
pub(super) fn end_line(r: &InvocationRecord) -> String {
    let mut line = format!("END RequestId: {}", r.request_id);
    match r.status.as_deref() {
        Some("timeout") => {
            if let Some(ms) = r.metrics.duration_ms {
                line.push_str(&format!(" Task timed out after {:.2} seconds", ms / 1000.0));
            }
        }
        Some("success") | None => {}
        Some(_) => {
            if let Some(e) = &r.error_type {
                line.push_str(&format!(" Task failed: {e:?}"));
            }
        }
    }
    line
}

pub(super) fn is_failure(r: &InvocationRecord) -> bool {
    r.status.as_deref().is_some_and(|s| s != "success")
}

/// A Managed Instance REPORT line as Datadog's extension writes it: the report's duration as
/// the runtime's, then why it failed.
pub(super) fn managed_report_line(r: &InvocationRecord) -> String {
    let mut line = format!("REPORT RequestId: {}", r.request_id);
    let duration = r.metrics.duration_ms;
    if let Some(d) = duration {
        line.push_str(&format!(" Runtime Duration: {d:.2} ms"));
    }
    match r.status.as_deref() {
        Some("success") | None => {}
        Some("timeout") => {
            if let Some(d) = duration {
                line.push_str(&format!(" Task timed out after {:.2} seconds", d / 1000.0));
            }
        }
        Some(_) => match &r.error_type {
            Some(e) => line.push_str(&format!(" Task failed: {e}")),
            None => line.push_str(" Task failed with an unknown error"),
        },
    }
    line
}

/// The REPORT line as Datadog's extension writes it: Lambda's fields plus the runtime and
/// post-runtime durations (when runtimeDone gave the runtime's); Managed Instance reports carry
/// only the duration.
pub(super) fn report_line(r: &InvocationRecord, runtime_ms: Option<f64>) -> String {
    use std::fmt::Write;
    let m = &r.metrics;
    let mut line = format!("REPORT RequestId: {}", r.request_id);
    if let Some(d) = m.duration_ms {
        let _ = write!(line, " Duration: {d:.2} ms");
    }
    if let Some(rt) = runtime_ms {
        let _ = write!(line, " Runtime Duration: {rt:.2} ms");
        if let Some(d) = m.duration_ms {
            let _ = write!(line, " Post Runtime Duration: {:.2} ms", (d - rt).max(0.0));
        }
    }
    if let Some(b) = m.billed_duration_ms {
        let _ = write!(line, " Billed Duration: {b:.0} ms");
    }
    if let Some(s) = m.memory_size_mb {
        let _ = write!(line, " Memory Size: {s:.0} MB");
    }
    if let Some(u) = m.max_memory_used_mb {
        let _ = write!(line, " Max Memory Used: {u:.0} MB");
    }
    if let Some(i) = m.init_duration_ms {
        let _ = write!(line, " Init Duration: {i:.2} ms");
    }
    line
}

//! Lambda durable functions (durable executions): what Datadog's extension and libraries read
//! of them, and the per-request registry the signals share. A function is durable when
//! `platform.initStart` names a runtime version containing `DurableFunction`; an invocation
//! belongs to an execution when its event carries `DurableExecutionArn`
//! (`arn:aws:lambda:<region>:<account>:function:<name>:<version>/durable-execution/<name>/<id>`),
//! and it is the execution's first invocation when `InitialExecutionState.Operations` holds
//! one operation. The execution's status is the response's `Status` when it is one of
//! `SUCCEEDED`, `FAILED`, `STOPPED`, `TIMED_OUT`. A leaf: imports nothing of ours.
//! The registry is filled by the invocation spans (start/end-invocation) and by tracer spans
//! carrying the context, and read by the logs pipeline. Bounded.

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The marker in `platform.initStart`'s `runtimeVersion` of a durable function.
const RUNTIME_MARKER: &str = "DurableFunction";
/// Span tag prefix (the libraries' keys).
pub const SPAN_PREFIX: &str = "aws_lambda.durable_function.";
const STATUSES: &[&str] = &["SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT"];
/// Requests whose context is remembered at most (oldest forgotten first).
const MAX_REQUESTS: usize = 1_000;

/// Whether a runtime version (from `platform.initStart`) is a durable function's.
pub fn is_durable_runtime(runtime_version: &str) -> bool {
    runtime_version.contains(RUNTIME_MARKER)
}

/// One invocation's place in its durable execution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub execution_name: String,
    pub execution_id: String,
    pub first_invocation: Option<bool>,
    /// The execution's status, once the invocation reported one.
    pub status: Option<String>,
}

impl Context {
    /// From an invocation's event: `None` unless it carries a well-formed `DurableExecutionArn`.
    pub fn from_event(event: &Value) -> Option<Context> {
        let (execution_name, execution_id) =
            parse_arn(event.get("DurableExecutionArn")?.as_str()?)?;
        let first_invocation = event
            .get("InitialExecutionState")
            .and_then(|s| s.get("Operations"))
            .and_then(Value::as_array)
            .map(|ops| ops.len() == 1);
        Some(Context {
            execution_name,
            execution_id,
            first_invocation,
            status: None,
        })
    }

    /// From a tracer's `aws.lambda` span tags (the Python and Node libraries set them).
    pub fn from_span_tags<'a>(tag: impl Fn(&str) -> Option<&'a str>) -> Option<Context> {
        let key = |k: &str| format!("{SPAN_PREFIX}{k}");
        Some(Context {
            execution_name: tag(&key("execution_name"))?.to_string(),
            execution_id: tag(&key("execution_id")).unwrap_or_default().to_string(),
            first_invocation: tag(&key("first_invocation")).and_then(|v| v.parse().ok()),
            status: tag(&key("execution_status")).and_then(valid_status),
        })
    }

    /// The span tags Datadog's libraries put on `aws.lambda`.
    pub fn span_tags(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (
                format!("{SPAN_PREFIX}execution_name"),
                self.execution_name.clone(),
            ),
            (
                format!("{SPAN_PREFIX}execution_id"),
                self.execution_id.clone(),
            ),
        ];
        if let Some(f) = self.first_invocation {
            out.push((format!("{SPAN_PREFIX}first_invocation"), f.to_string()));
        }
        if let Some(s) = &self.status {
            out.push((format!("{SPAN_PREFIX}execution_status"), s.clone()));
        }
        out
    }
}

/// The execution status a response reports (`{"Status": "SUCCEEDED", …}`), if valid.
pub fn status_from_response(response: &Value) -> Option<String> {
    valid_status(response.get("Status")?.as_str()?)
}

fn valid_status(s: &str) -> Option<String> {
    STATUSES.contains(&s).then(|| s.to_string())
}

/// `…/durable-execution/<name>/<id>` → (name, id); both must be non-empty.
fn parse_arn(arn: &str) -> Option<(String, String)> {
    if !arn.starts_with("arn:") {
        return None;
    }
    let (_, rest) = arn.split_once("/durable-execution/")?;
    let (name, id) = rest.split_once('/')?;
    let id = id.trim_end_matches('/');
    (!name.is_empty() && !id.is_empty() && !id.contains('/'))
        .then(|| (name.to_string(), id.to_string()))
}

/// Per-request contexts, shared by the signals; bounded, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Registry {
    state: Mutex<(HashMap<String, Context>, VecDeque<String>)>,
    /// Anything was ever recorded: every log line of a function that is not durable asks, so
    /// for those the answer is one atomic load, not a lock.
    used: AtomicBool,
}

impl Registry {
    /// Records (or completes) `request_id`'s context; a later status never erases an earlier
    /// one with nothing.
    pub fn record(&self, request_id: &str, ctx: Context) {
        self.used.store(true, Ordering::Relaxed);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = st.0.get_mut(request_id) {
            let status = ctx.status.clone().or_else(|| known.status.take());
            *known = Context { status, ..ctx };
            return;
        }
        if st.0.len() >= MAX_REQUESTS
            && let Some(old) = st.1.pop_front()
        {
            st.0.remove(&old);
        }
        st.1.push_back(request_id.to_string());
        st.0.insert(request_id.to_string(), ctx);
    }

    /// Sets the status of a request already known to be durable.
    pub fn set_status(&self, request_id: &str, status: String) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = st.0.get_mut(request_id) {
            known.status = Some(status);
        }
    }

    pub fn get(&self, request_id: &str) -> Option<Context> {
        if !self.used.load(Ordering::Relaxed) {
            return None;
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.0.get(request_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/5f1c7a9e-aaaa-bbbb-cccc-0123456789ab/0d1e2f3a-4b5c-5d6e-8f90-123456789abc";

    #[test]
    fn an_event_with_a_durable_execution_arn_gives_its_context() {
        let ev = json!({"DurableExecutionArn": ARN, "CheckpointToken": "t",
            "InitialExecutionState": {"Operations": [{"Id": "1"}]}});
        let ctx = Context::from_event(&ev).unwrap();
        assert_eq!(ctx.execution_name, "5f1c7a9e-aaaa-bbbb-cccc-0123456789ab");
        assert_eq!(ctx.execution_id, "0d1e2f3a-4b5c-5d6e-8f90-123456789abc");
        assert_eq!(ctx.first_invocation, Some(true));
        let replay = json!({"DurableExecutionArn": ARN,
            "InitialExecutionState": {"Operations": [{"Id": "1"}, {"Id": "2"}]}});
        assert_eq!(
            Context::from_event(&replay).unwrap().first_invocation,
            Some(false)
        );
        for bad in [
            json!({"body": "{}"}),
            json!({"DurableExecutionArn": 7}),
            json!({"DurableExecutionArn": "arn:aws:lambda:us-east-1:1:function:f:1/durable-execution/name/"}),
            json!({"DurableExecutionArn": "not-an-arn/durable-execution/a/b"}),
        ] {
            assert_eq!(Context::from_event(&bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_documented_statuses_count() {
        assert_eq!(
            status_from_response(&json!({"Status": "SUCCEEDED"})).as_deref(),
            Some("SUCCEEDED")
        );
        assert_eq!(
            status_from_response(&json!({"Status": "TIMED_OUT"})).as_deref(),
            Some("TIMED_OUT")
        );
        assert_eq!(status_from_response(&json!({"Status": "PENDING"})), None);
        assert_eq!(status_from_response(&json!({"statusCode": 200})), None);
        assert!(is_durable_runtime("python:3.13.DurableFunction.v5"));
        assert!(!is_durable_runtime("python:3.13.v5"));
    }

    #[test]
    fn the_registry_is_bounded_and_keeps_a_known_status() {
        let r = Registry::default();
        let ctx = Context {
            execution_name: "n".into(),
            execution_id: "i".into(),
            first_invocation: Some(true),
            status: None,
        };
        r.record("a", ctx.clone());
        r.set_status("a", "FAILED".into());
        r.record("a", ctx.clone());
        assert_eq!(r.get("a").unwrap().status.as_deref(), Some("FAILED"));
        r.set_status("unknown", "FAILED".into());
        assert_eq!(r.get("unknown"), None);
        for n in 0..MAX_REQUESTS {
            r.record(&format!("r{n}"), ctx.clone());
        }
        assert_eq!(r.get("a"), None, "the oldest was forgotten");
        assert!(r.get(&format!("r{}", MAX_REQUESTS - 1)).is_some());
    }
}

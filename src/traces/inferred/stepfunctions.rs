//! Step Functions: a Lambda task joins the state machine's trace. The ids are derived as
//! Datadog's Lambda libraries derive them, so the state machine's spans and the function's
//! agree without talking: trace id from SHA-256 of the (root) execution ARN, parent id from
//! SHA-256 of `<execution ARN>#<state name>#<entered time>` (plus `#<retry>#<redrive>` when
//! either is non-zero). A Lambda-rooted chain carries its trace id in `_datadog` instead.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::*;
use sha2::{Digest, Sha256};

/// 63 bits of a SHA-256 digest: bytes `range` as a big-endian number, top bit cleared, 0 → 1.
fn bits(digest: &[u8], range: std::ops::Range<usize>) -> u64 {
    let v = digest
        .get(range)
        .unwrap_or(&[])
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        & !(1u64 << 63);
    v.max(1)
}

/// (low 64 bits, high 64 bits) of the trace id for an execution ARN.
pub(super) fn trace_id(execution_arn: &str) -> (u64, u64) {
    let d = Sha256::digest(execution_arn.as_bytes());
    (bits(&d, 8..16), bits(&d, 0..8))
}

pub(super) fn parent_id(
    execution: &str,
    state: &str,
    entered: &str,
    retry: u64,
    redrive: u64,
) -> u64 {
    let mut unique = format!("{execution}#{state}#{entered}");
    if retry != 0 || redrive != 0 {
        unique.push_str(&format!("#{retry}#{redrive}"));
    }
    bits(&Sha256::digest(unique.as_bytes()), 0..8)
}

pub(super) fn detect(event: &Value, opts: &Options<'_>) -> Option<Trigger> {
    let payload = event.get("Payload").unwrap_or(event);
    // The Datadog integration puts the whole context object under `_datadog`.
    let ctx_obj = payload
        .get("_datadog")
        .filter(|d| d.get("Execution").is_some())
        .unwrap_or(payload);
    let exec = ctx_obj.get("Execution")?;
    let exec_id = s(exec, &["Id"])?;
    let state = ctx_obj.get("State");
    let state_name = state.and_then(|st| s(st, &["Name"])).unwrap_or("");
    let entered = state.and_then(|st| s(st, &["EnteredTime"])).unwrap_or("");
    let retry = state.and_then(|st| n(st, &["RetryCount"])).unwrap_or(0.0) as u64;
    let redrive = n(exec, &["RedriveCount"]).unwrap_or(0.0) as u64;
    let parent = parent_id(exec_id, state_name, entered, retry, redrive);
    let v1 = s(ctx_obj, &["serverless-version"]) == Some("v1");
    let upstream = if v1 || ctx_obj.get("x-datadog-trace-id").is_some() {
        opts.extractor.carrier(ctx_obj)
    } else {
        // Older shape: `_datadog` holding Datadog headers beside `Execution`.
        payload
            .get("_datadog")
            .filter(|d| d.get("Execution").is_none())
            .and_then(|c| opts.extractor.carrier(c))
    };
    let context = match upstream {
        // Lambda-rooted chain: the trace id travels; the parent is still the state's.
        Some(mut up) => {
            up.parent_id = parent;
            up.sampling_priority = up.sampling_priority.or(Some(1));
            up
        }
        None => {
            let root = s(ctx_obj, &["RootExecutionId"])
                .filter(|_| v1)
                .unwrap_or(exec_id);
            let (low, high) = trace_id(root);
            TraceContext {
                trace_id: low,
                trace_id_high: high,
                parent_id: parent,
                sampling_priority: Some(1),
                ..Default::default()
            }
        }
    };
    let state_machine = ctx_obj
        .get("StateMachine")
        .and_then(|m| s(m, &["Id"]))
        .unwrap_or("")
        .to_string();
    Some(Trigger {
        source: "states",
        source_arn: Some(state_machine).filter(|a| !a.is_empty()),
        context: Some(context),
        ..Default::default()
    })
}

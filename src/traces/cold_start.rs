//! The environment's cold start as a span: `aws.lambda.cold_start`, once per environment,
//! beside the first `aws.lambda` span (ours, or the one a Python/Node library sends), lasting
//! the init phase. Managed Instances have none, as with Datadog's extension.

use super::proto::Span;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The environment's cold start, shared by the spans we build and the spans Python/Node
/// libraries build (`aws.lambda` with `cold_start: true`): one cold-start span, once.
#[derive(Debug)]
pub(crate) struct ColdStart {
    init_ns: AtomicU64,
    pub(crate) first_invocation: AtomicBool,
    span_due: AtomicBool,
    /// Managed Instances have no cold-start span (as Datadog's extension).
    enabled: bool,
}

impl ColdStart {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            init_ns: AtomicU64::new(0),
            first_invocation: AtomicBool::new(true),
            span_due: AtomicBool::new(true),
            enabled,
        }
    }

    pub(crate) fn set_init_duration_ms(&self, ms: f64) {
        self.init_ns.store((ms * 1e6) as u64, Ordering::Relaxed);
    }

    /// The cold-start span for the `aws.lambda` span `lambda` — once per environment, placed
    /// as Datadog places it: a sibling of `aws.lambda` under the trigger span.
    pub(crate) fn span_for(&self, lambda: &Span, span_id: u64) -> Option<Span> {
        let init_ns = self.init_ns.load(Ordering::Relaxed) as i64;
        if !self.enabled || init_ns <= 0 || !self.span_due.swap(false, Ordering::Relaxed) {
            return None;
        }
        let mut cs = Span {
            service: lambda.service.clone(),
            name: "aws.lambda.cold_start".into(),
            resource: lambda.resource.clone(),
            trace_id: lambda.trace_id,
            span_id,
            parent_id: lambda.parent_id,
            start: lambda.start - init_ns,
            duration: init_ns,
            r#type: "serverless".into(),
            ..Default::default()
        };
        if let Some(r) = lambda.meta.get("request_id") {
            cs.meta.insert("request_id".into(), r.clone());
        }
        Some(cs)
    }
}

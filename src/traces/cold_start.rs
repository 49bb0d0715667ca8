//! The environment's cold start as a span: `aws.lambda.cold_start`, once per environment,
//! beside the first `aws.lambda` span (ours, or the one a Python/Node library sends), lasting
//! the init phase — or, for an environment restored from a SnapStart snapshot,
//! `aws.lambda.snapstart_restore`, lasting the restore. Managed Instances have none, as with
//! Datadog's extension.

use super::proto::Span;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The environment's cold start, shared by the spans we build and the spans Python/Node
/// libraries build (`aws.lambda` with `cold_start: true`): one cold-start span, once.
#[derive(Debug)]
pub(crate) struct ColdStart {
    init_ns: AtomicU64,
    /// SnapStart: the restore's duration once reported, and whether this environment was
    /// restored (its first span is then the restore, not an init).
    restore_ns: AtomicU64,
    restored: AtomicBool,
    pub(crate) first_invocation: AtomicBool,
    span_due: AtomicBool,
    /// Managed Instances have no cold-start span (as Datadog's extension).
    enabled: bool,
}

impl ColdStart {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            init_ns: AtomicU64::new(0),
            restore_ns: AtomicU64::new(0),
            restored: AtomicBool::new(false),
            first_invocation: AtomicBool::new(true),
            span_due: AtomicBool::new(true),
            enabled,
        }
    }

    pub(crate) fn set_init_duration_ms(&self, ms: f64) {
        self.init_ns.store((ms * 1e6) as u64, Ordering::Relaxed);
    }

    /// The environment was restored from a SnapStart snapshot: its next invocation is a cold
    /// start again, shown as the restore.
    pub(crate) fn restore_started(&self) {
        self.restored.store(true, Ordering::Relaxed);
        self.first_invocation.store(true, Ordering::Relaxed);
        self.span_due.store(true, Ordering::Relaxed);
    }

    pub(crate) fn set_restore_duration_ms(&self, ms: f64) {
        self.restore_ns.store((ms * 1e6) as u64, Ordering::Relaxed);
    }

    /// The cold-start span for the `aws.lambda` span `lambda` — once per environment, placed
    /// as Datadog places it: a sibling of `aws.lambda` under the trigger span.
    pub(crate) fn span_for(&self, lambda: &Span, span_id: u64) -> Option<Span> {
        let restored = self.restored.load(Ordering::Relaxed);
        let (name, duration) = if restored {
            ("aws.lambda.snapstart_restore", &self.restore_ns)
        } else {
            ("aws.lambda.cold_start", &self.init_ns)
        };
        let init_ns = duration.load(Ordering::Relaxed) as i64;
        if !self.enabled || init_ns <= 0 || !self.span_due.swap(false, Ordering::Relaxed) {
            return None;
        }
        let mut cs = Span {
            service: lambda.service.clone(),
            name: name.into(),
            resource: if restored {
                name.to_string()
            } else {
                lambda.resource.clone()
            },
            trace_id: lambda.trace_id,
            span_id,
            parent_id: lambda.parent_id,
            start: lambda.start.saturating_sub(init_ns),
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

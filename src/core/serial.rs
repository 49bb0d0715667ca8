//! State that exists only when invocations run one at a time (on-demand, the `StreamOrder`
//! attribution policy the controller hands the core): the request id of the current INVOKE,
//! which lifecycle calls without a request id fall back to, and the `/proc` snapshot taken at
//! its start, whose delta at `runtimeDone` gives the per-invocation CPU and network metrics.
//! Under Managed Instances invocations overlap, so none of this exists there (the core holds
//! `None`) and nothing is ever guessed.

use super::Agent;
use crate::metrics::usage::{self, Snapshot};
use crate::sync::lock;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

#[derive(Default)]
pub(super) struct Serial {
    /// Request id of the current INVOKE.
    pub(super) current_invoke: Arc<Mutex<Option<String>>>,
    /// `/proc` snapshot at the current invocation's start (with enhanced metrics on).
    usage_start: Mutex<Option<Snapshot>>,
    /// The latest `/proc` resource scan, awaited before the final flush.
    usage_scan: Mutex<Option<JoinHandle<()>>>,
}

impl Serial {
    pub(super) fn on_invoke(&self, request_id: &str, enhanced_metrics: bool) {
        *lock(&self.current_invoke) = Some(request_id.to_string());
        if enhanced_metrics {
            *lock(&self.usage_start) = Snapshot::take();
        }
    }

    /// The invocation's response is sent: its `/proc` deltas become enhanced metrics.
    pub(super) fn on_runtime_done(&self, agent: &Agent) {
        let Some(start) = lock(&self.usage_start).take() else {
            return;
        };
        // Read /proc outside every lock but the one just released.
        let Some(end) = Snapshot::take() else {
            return;
        };
        let now = crate::time::now_ms() / 1000;
        // Tagged as the invocation's other enhanced metrics (its start was already seen).
        let tags = lock(&agent.inner.enhanced).latest_tags().to_vec();
        agent.add_enhanced(usage::interval_points(&start, &end, now, &tags));
        // The /proc scan goes to a blocking thread: its points join the next flush rather
        // than delay this invocation's.
        let scanner = agent.clone();
        let scan = tokio::task::spawn_blocking(move || {
            scanner.add_enhanced(usage::resource_points(now, &tags));
        });
        *lock(&self.usage_scan) = Some(scan);
    }

    /// Lets the last resource scan finish (bounded) so its points make the final flush.
    pub(super) async fn settle(&self, within: Duration) {
        let scan = lock(&self.usage_scan).take();
        if let Some(scan) = scan {
            let _ = tokio::time::timeout(within, scan).await;
        }
    }
}

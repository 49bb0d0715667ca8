//! State that exists only when invocations run one at a time (on-demand, the `StreamOrder`
//! attribution policy the controller hands the core): the request id of the current INVOKE,
//! which lifecycle calls without a request id fall back to, the `/proc` snapshot taken at its
//! start, whose delta at `runtimeDone` gives the per-invocation CPU and network metrics, and the
//! resource scan (descriptors, threads, `/tmp`) made while the function runs, so that the
//! post-runtime path only reads two small `/proc` files. Under Managed Instances invocations
//! overlap, so none of this exists there (the core holds `None`) and nothing is ever guessed.

use super::Agent;
use crate::metrics::usage::{Resources, Snapshot, interval_points};
use crate::sync::lock;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Default)]
pub(super) struct Serial {
    /// Request id of the current INVOKE.
    pub(super) current_invoke: Arc<Mutex<Option<String>>>,
    /// `/proc` snapshot at the current invocation's start (with enhanced metrics on).
    usage_start: Mutex<Option<Snapshot>>,
    /// The result of the resource scan started at the current invocation's INVOKE.
    scan: Mutex<Option<oneshot::Receiver<Resources>>>,
    /// A scan that outlasted its invocation, shipping its points when done: awaited (bounded)
    /// before the final flush.
    late_scan: Mutex<Option<JoinHandle<()>>>,
}

impl Serial {
    pub(super) fn on_invoke(&self, request_id: &str, enhanced_metrics: bool) {
        *lock(&self.current_invoke) = Some(request_id.to_string());
        if enhanced_metrics {
            *lock(&self.usage_start) = Snapshot::take();
            // The scan reads a directory per process: on a blocking thread, while the
            // function runs.
            let (tx, rx) = oneshot::channel();
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Resources::scan());
            });
            *lock(&self.scan) = Some(rx);
        }
    }

    /// The invocation's response is sent: its `/proc` deltas and the resource scan become
    /// enhanced metrics.
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
        agent.add_enhanced(interval_points(&start, &end, now, &tags));
        let Some(mut scan) = lock(&self.scan).take() else {
            return;
        };
        match scan.try_recv() {
            Ok(r) => agent.add_enhanced(r.points(now, &tags)),
            Err(oneshot::error::TryRecvError::Empty) => {
                // A function shorter than the scan: its points join the next flush rather
                // than delay this invocation's.
                let agent = agent.clone();
                let late = tokio::spawn(async move {
                    if let Ok(r) = scan.await {
                        agent.add_enhanced(r.points(now, &tags));
                    }
                });
                *lock(&self.late_scan) = Some(late);
            }
            Err(oneshot::error::TryRecvError::Closed) => {}
        }
    }

    /// Lets a scan that outlasted its invocation finish (bounded) so its points make the final
    /// flush.
    pub(super) async fn settle(&self, within: Duration) {
        let late = lock(&self.late_scan).take();
        if let Some(late) = late {
            let _ = tokio::time::timeout(within, late).await;
        }
    }
}

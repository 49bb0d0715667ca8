//! Managed Instances: `/proc` usage sampled for the execution environment, as Datadog's
//! extension does there — invocations overlap, so a CPU or network delta belongs to no single
//! request. A window runs from one flush to the next; when an invocation was running during it,
//! the flush adds the window's CPU and network deltas and the environment's resources (`/tmp`,
//! descriptors, threads), tagged as the environment's enhanced metrics (no `cold_start`). Idle
//! windows add nothing. On-demand has its per-invocation twin in `serial`.

use super::Agent;
use crate::metrics::usage::{self, Snapshot};
use crate::sync::lock;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) struct EnvironmentUsage {
    /// The current window's start.
    window: Mutex<Option<Snapshot>>,
    /// An invocation ran during the current window.
    busy: AtomicBool,
}

impl EnvironmentUsage {
    pub(super) fn new() -> Self {
        Self {
            window: Mutex::new(Snapshot::take()),
            busy: AtomicBool::new(false),
        }
    }

    /// An invocation started in the current window.
    pub(super) fn note_started(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    /// Closes the window (before a flush takes the metrics); `still_running` invocations keep
    /// the next one busy.
    pub(super) async fn sample(&self, agent: &Agent, still_running: usize) {
        let Some(end) = Snapshot::take() else {
            return;
        };
        let start = lock(&self.window).replace(end.clone());
        let busy = self.busy.swap(still_running > 0, Ordering::Relaxed);
        let Some(start) = start.filter(|_| busy) else {
            return;
        };
        let now = crate::time::now_ms() / 1000;
        let tags = lock(&agent.inner.enhanced).latest_tags().to_vec();
        agent.add_enhanced(usage::interval_points(&start, &end, now, &tags));
        // The /proc scan reads a directory per process: off the async workers.
        let scan_tags = tags.clone();
        if let Ok(points) =
            tokio::task::spawn_blocking(move || usage::resource_points(now, &scan_tags)).await
        {
            agent.add_enhanced(points);
        }
    }
}

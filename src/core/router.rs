//! The telemetry router: advances the invocation tracker under its lock, then — with the lock
//! released — fans each event out to the logs pipeline, the invocation spans and the enhanced
//! metrics, and broadcasts the lifecycle events the controllers wait on. Must not ship.

use super::Agent;
use crate::invocations::Lifecycle;
use crate::lambda::events::{TelemetryEvent, Timed};
use crate::logs::Attribution;
use crate::sync::lock;
use std::sync::Arc;

impl Agent {
    /// Feeds decoded telemetry events, in delivery order.
    pub fn ingest(&self, events: Vec<Timed>) {
        // The tracker lock covers only the tracker: advance it and note, per event, the
        // invocation the stream is in; the fan-out below runs with the lock released. An id is
        // copied only when it changes, not once per log line.
        let (happened, stream_ids) = {
            let mut tracker = lock(&self.inner.tracker);
            let mut happened = Vec::new();
            let mut stream_ids: Vec<Option<Arc<str>>> = Vec::with_capacity(events.len());
            let mut id: Option<Arc<str>> = None;
            for ev in &events {
                if let Some(l) = tracker.apply(&ev.event, ev.time_ms) {
                    happened.push(l);
                }
                let now = tracker.current_request_id();
                if id.as_deref() != now {
                    id = now.map(Arc::from);
                }
                stream_ids.push(id.clone());
            }
            (happened, stream_ids)
        };
        // Managed Instances: a window in which an invocation started is busy (one still running
        // when a window closes makes the next one busy: `EnvironmentUsage::sample`).
        if let Some(env) = &self.inner.environment
            && events
                .iter()
                .any(|e| matches!(e.event, TelemetryEvent::Start(_)))
        {
            env.note_started();
        }
        for (ev, stream_id) in events.iter().zip(&stream_ids) {
            self.inner.logs.on_event(ev, stream_id.as_deref());
            let current = match self.inner.attribution {
                Attribution::StreamOrder => stream_id.as_deref(),
                Attribution::RecordOnly => None,
            };
            self.trace_lifecycle(ev);
            let points = lock(&self.inner.enhanced).on_event(ev, current);
            self.add_enhanced(points);
        }
        if let Some(serial) = &self.inner.serial
            && events
                .iter()
                .any(|e| matches!(e.event, TelemetryEvent::RuntimeDone(_)))
        {
            serial.on_runtime_done(self);
        }
        for l in happened {
            if let Lifecycle::LogsDropped { records, bytes } = &l {
                // Reported with the other drops at the next flush (the drop ledger).
                metrics::counter!("tandem.logs.dropped", "reason" => "platform")
                    .increment(*records);
                crate::log_debug!(
                    "Lambda dropped {records} telemetry records ({bytes} bytes) before delivering them to the extension"
                );
            }
            let _ = self.inner.lifecycle.send(l);
        }
        self.inner.changed.notify_waiters();
    }

    /// Telemetry that matters to invocation spans: init duration, timeouts, reports.
    fn trace_lifecycle(&self, ev: &Timed) {
        let inv = &self.inner.invocations;
        // A timeout ends the invocation's span (marked as such) if the library never did.
        let timed_out = |request_id: &str| {
            let now_ns = ev.time_ms.saturating_mul(1_000_000);
            if let (Some(built), Some(traces)) =
                (inv.timeout(request_id, now_ns), &self.inner.traces)
            {
                traces.ingest_built(built, now_ns);
            }
        };
        match &ev.event {
            TelemetryEvent::InitReport(r) => {
                if let Some(ms) = r.metrics.duration_ms {
                    inv.set_init_duration_ms(ms);
                }
            }
            TelemetryEvent::RestoreStart(_) => inv.cold.restore_started(),
            TelemetryEvent::RestoreReport(r) => {
                if let Some(ms) = r.metrics.duration_ms {
                    inv.cold.set_restore_duration_ms(ms);
                }
            }
            TelemetryEvent::RuntimeDone(r) if r.status.as_deref() == Some("timeout") => {
                timed_out(&r.request_id)
            }
            TelemetryEvent::Report(r) => {
                if r.status.as_deref() == Some("timeout") {
                    timed_out(&r.request_id);
                }
                inv.forget(&r.request_id);
            }
            _ => {}
        }
    }

    pub(super) fn add_enhanced(&self, points: Vec<crate::metrics::enhanced::Point>) {
        for p in points {
            let name = format!("{}{}", crate::metrics::enhanced::PREFIX, p.name);
            self.inner
                .metrics
                .distribution(&name, &p.tags, p.value, p.ts);
        }
    }
}

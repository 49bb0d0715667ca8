//! The APM proxy's forwarder. The trace agent hands it the tracer requests meant for other
//! intakes (stats, profiles, telemetry, debugger, LLM observability); it owns their delivery, so
//! the listener never calls the intake. Bounded: at most `MAX_IN_FLIGHT` deliveries at once,
//! further requests wait for a slot within the proxy timeout and are otherwise refused with a
//! busy answer (the tracers retry). Each delivery runs in its own task, so it completes even if
//! the tracer hangs up.

use crate::intake::{Delivery, Intake, Key};
use crate::payload::Payload;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long a forwarded request may take, waiting for a slot included.
pub(crate) const PROXY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once (tracer requests and profile copies together).
pub(crate) const MAX_IN_FLIGHT: usize = 32;

/// What became of a forwarded request, for the tracer's answer.
#[derive(Debug)]
pub(crate) enum Forwarded {
    Delivered,
    /// The intake refused it with this status.
    Refused(u16),
    /// It could not be delivered (why).
    Failed(String),
}

pub(crate) struct Forwarder {
    intake: Arc<Intake>,
    slots: Arc<Semaphore>,
}

impl Forwarder {
    pub(crate) fn new(intake: Arc<Intake>) -> Self {
        Self {
            intake,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// Delivers `payload` to `url` with the primary key and reports the outcome.
    pub(crate) async fn forward(&self, url: String, payload: Payload) -> Forwarded {
        let deadline = Instant::now() + PROXY_TIMEOUT;
        let Some(task) = self.spawn(Key::Primary, url, payload, deadline).await else {
            return Forwarded::Failed("too many forwarded requests in flight".into());
        };
        match task.await {
            Ok(Delivery::Delivered { .. }) => Forwarded::Delivered,
            Ok(Delivery::Refused { status, .. }) => Forwarded::Refused(status),
            Ok(Delivery::GaveUp { reason, .. }) => Forwarded::Failed(reason),
            Err(_) => Forwarded::Failed("the delivery task failed".into()),
        }
    }

    /// Sends a profile to every additional profiling endpoint (full URLs, their own keys), in
    /// the background: the tracer's answer is the primary intake's.
    pub(crate) async fn copy_profile(&self, payload: &Payload) {
        let deadline = Instant::now() + PROXY_TIMEOUT;
        for d in &self.intake.destinations().profiling {
            let copy = payload.clone();
            // A copy that finds no slot is counted and logged by `spawn`.
            let _ = self
                .spawn(d.key.clone(), d.base.clone(), copy, deadline)
                .await;
        }
    }

    /// Starts one delivery once a slot is free; `None` if none frees up before `deadline`, which
    /// is counted (`tandem.apm_proxy.dropped{reason:busy}`, in the shutdown counters) and logged.
    async fn spawn(
        &self,
        key: Key,
        url: String,
        payload: Payload,
        deadline: Instant,
    ) -> Option<tokio::task::JoinHandle<Delivery>> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let slot = match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                metrics::counter!("tandem.apm_proxy.dropped", "reason" => "busy").increment(1);
                crate::log_warn!(
                    "APM proxy: a request for {url} was dropped: {MAX_IN_FLIGHT} deliveries stayed in flight for {PROXY_TIMEOUT:?}"
                );
                return None;
            }
        };
        let intake = self.intake.clone();
        Some(tokio::spawn(async move {
            let delivery = intake.deliver(&key, &url, &payload, &[], deadline).await;
            drop(slot);
            if !matches!(delivery, Delivery::Delivered { .. }) {
                // Profile copies have no tracer to tell: every failure is counted here.
                metrics::counter!("tandem.apm_proxy.dropped", "reason" => "delivery").increment(1);
            }
            delivery
        }))
    }

    /// Waits until every delivery in flight has finished, or `until` (SHUTDOWN); returns whether
    /// all did. Those still running are cut off with the process and counted here.
    pub(crate) async fn drain(&self, until: Instant) -> bool {
        let all = MAX_IN_FLIGHT as u32;
        match tokio::time::timeout_at(until.into(), self.slots.acquire_many(all)).await {
            Ok(_) => true,
            Err(_) => {
                let open = MAX_IN_FLIGHT - self.slots.available_permits();
                metrics::counter!("tandem.apm_proxy.dropped", "reason" => "shutdown")
                    .increment(open as u64);
                false
            }
        }
    }
}

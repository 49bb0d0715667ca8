//! The shipper: take → encode → deliver → requeue. Each signal's buffered data is taken from
//! its pipeline, encoded by the signal's own encoder into `Payload`s, delivered side by side to
//! every destination, and what could not be delivered goes back (the retry queue, or the logs
//! buffer) or is dropped and counted. Must not decide when to flush.

use super::Agent;
use crate::intake::{Delivery, FlushReport, Key, Pending, SignalReport};
use crate::payload::{Encoded, Payload, Signal};
use std::time::Instant;

impl Agent {
    pub(super) async fn flush_locked(&self, deadline: Instant, last: bool) -> FlushReport {
        if let Some(env) = &self.inner.environment {
            let running = crate::sync::lock(&self.inner.tracker).concurrency();
            env.sample(self, running).await;
        }
        self.publish_counters();
        let buffered = crate::memory::Budget::global().used();
        let started = Instant::now();
        self.inner.intake.endpoints_settled(deadline).await;
        let (logs, metrics, traces) = tokio::join!(
            self.flush_logs(deadline, last),
            self.flush_metrics(deadline, last),
            self.flush_traces(deadline, last)
        );
        let report = FlushReport {
            logs,
            metrics,
            traces,
            elapsed: started.elapsed(),
        };
        // What the flush freed goes back to the kernel — when it was much (a small
        // invocation's flush does not walk the heap on the post-runtime path).
        crate::memory::trim_after(buffered.saturating_sub(crate::memory::Budget::global().used()));
        self.record_flush(&report);
        report
    }

    async fn flush_metrics(&self, deadline: Instant, last: bool) -> SignalReport {
        let mut jobs = self.inner.intake.take_retries(Signal::Metrics);
        let encoded = crate::metrics::encode::payloads_at(
            self.inner.metrics.take(),
            self.inner.config.metrics_compression_level,
        );
        jobs.extend(self.inner.intake.jobs(encoded));
        self.deliver_jobs(jobs, deadline, last, "metrics").await
    }

    async fn flush_traces(&self, deadline: Instant, last: bool) -> SignalReport {
        let Some(traces) = &self.inner.traces else {
            return SignalReport::default();
        };
        let mut jobs = self.inner.intake.take_retries(Signal::Traces);
        let env = self.inner.config.env.as_deref().unwrap_or_default();
        let encoded = crate::traces::encode::agent_payloads(
            traces.take(last),
            env,
            self.inner.config.apm_compression_level,
        );
        jobs.extend(self.inner.intake.jobs(encoded));
        self.deliver_jobs(jobs, deadline, last, "traces").await
    }

    /// Delivers encoded payloads side by side; what fails for now waits in the retry queue
    /// (or, at the last flush, is dropped and counted).
    async fn deliver_jobs(
        &self,
        jobs: Vec<Pending>,
        deadline: Instant,
        last: bool,
        signal: &str,
    ) -> SignalReport {
        let mut report = SignalReport::default();
        // Payloads go out side by side: a slow one never holds the others back.
        let mut deliveries = tokio::task::JoinSet::new();
        for job in jobs {
            let agent = self.clone();
            deliveries.spawn(async move {
                let headers: &[(&str, &str)] = match job.payload.signal {
                    Signal::Logs => &crate::logs::encode::HEADERS,
                    _ => &[],
                };
                let outcome = agent
                    .inner
                    .intake
                    .deliver(&job.key, &job.url, &job.payload, headers, deadline)
                    .await;
                (job, outcome)
            });
        }
        while let Some(joined) = deliveries.join_next().await {
            let Ok((job, outcome)) = joined else { continue };
            match outcome {
                Delivery::Delivered { retries } => {
                    report.sent += job.items;
                    report.requests += 1;
                    report.retried += u64::from(retries);
                }
                Delivery::Refused { status, retries } => {
                    report.retried += u64::from(retries);
                    report.dropped += job.items;
                    report.last_error = Some(format!(
                        "{} refused a payload with status {status}",
                        job.url
                    ));
                    crate::log_error!(
                        "the {signal} intake refused {} items at {} with status {status}; they are dropped",
                        job.items,
                        job.url
                    );
                }
                Delivery::GaveUp { reason, retries } => {
                    report.retried += u64::from(retries);
                    report.last_error = Some(reason);
                    let items = job.items;
                    // A best-effort (unreliable) endpoint's data is never kept for later.
                    if !last && job.reliable && self.inner.intake.retry_later(job) {
                        report.requeued += items;
                    } else {
                        report.dropped += items;
                    }
                }
            }
        }
        if report.dropped > 0 && !last {
            crate::log_warn!(
                "{signal}: {} items dropped ({})",
                report.dropped,
                report.last_error.as_deref().unwrap_or("")
            );
        }
        report
    }

    /// Delivers logs batches to the primary intake in order; returns the entries to keep for
    /// later (the batch that gave up and everything after it).
    async fn deliver_primary_logs(
        &self,
        batches: Vec<(Vec<Vec<u8>>, Payload)>,
        deadline: Instant,
        report: &mut SignalReport,
    ) -> Vec<Vec<u8>> {
        let intake = &self.inner.intake;
        let mut leftover: Vec<Vec<u8>> = Vec::new();
        for (batch, payload) in batches {
            if !leftover.is_empty() {
                leftover.extend(batch);
                continue;
            }
            let outcome = intake
                .deliver(
                    &Key::Primary,
                    &intake.logs_url,
                    &payload,
                    &crate::logs::encode::HEADERS,
                    deadline,
                )
                .await;
            match outcome {
                Delivery::Delivered { retries } => {
                    report.sent += batch.len() as u64;
                    report.requests += 1;
                    report.retried += u64::from(retries);
                }
                Delivery::Refused { status, retries } => {
                    report.retried += u64::from(retries);
                    report.dropped += batch.len() as u64;
                    report.last_error = Some(format!(
                        "the logs intake refused a batch with status {status}"
                    ));
                    crate::log_error!(
                        "the logs intake refused {} entries with status {status}; they are dropped",
                        batch.len()
                    );
                }
                Delivery::GaveUp { reason, retries } => {
                    report.retried += u64::from(retries);
                    report.last_error = Some(reason);
                    leftover = batch;
                }
            }
        }
        leftover
    }

    async fn flush_logs(&self, deadline: Instant, last: bool) -> SignalReport {
        let mut report = SignalReport::default();
        let mut extra_jobs = self.inner.intake.take_retries(Signal::Logs);
        if last {
            // No invocation came: the init phase's lines go without a request id.
            self.inner.logs.release_held(None);
            self.inner.logs.release_durable(true);
        }
        let entries = self.inner.logs.drain();
        if entries.is_empty() && extra_jobs.is_empty() {
            return report;
        }
        let config = &self.inner.config;
        let compression = config
            .logs_use_compression
            .then_some(config.logs_compression_level);
        let batches: Vec<(Vec<Vec<u8>>, Payload)> = crate::logs::encode::batches(entries)
            .into_iter()
            .map(|b| {
                let p = crate::logs::encode::payload(&b, compression);
                (b, p)
            })
            .collect();
        let additional = batches.iter().map(|(b, p)| Encoded {
            path: "",
            payload: p.clone(),
            items: b.len() as u64,
        });
        extra_jobs.extend(self.inner.intake.jobs(additional.collect()));
        // Additional destinations go side by side with the primary one, never after it.
        let (leftover, extra) = tokio::join!(
            self.deliver_primary_logs(batches, deadline, &mut report),
            self.deliver_jobs(extra_jobs, deadline, last, "logs (additional endpoints)")
        );
        report.merge(extra);
        if !leftover.is_empty() {
            let n = leftover.len() as u64;
            if last {
                report.dropped += n;
            } else {
                let lost = self.inner.logs.requeue(leftover) as u64;
                report.requeued += n - lost;
                report.dropped += lost;
                crate::log_warn!(
                    "logs: {} entries kept for the next flush, {lost} dropped (buffer full): {}",
                    n - lost,
                    report.last_error.as_deref().unwrap_or("")
                );
            }
        }
        report
    }
}

//! Delivery only: endpoints, the pooled HTTP client, delivery of encoded `Payload`s with
//! retries inside a deadline, the bounded per-destination retry queue, and what a flush
//! reports. Owns the live API key (behind `ArcSwap`, so a rotated key reaches the next request
//! of every signal). Imports no signal or pipeline type: each signal encodes its own payloads.

mod client;
mod destinations;
pub(crate) mod retry;
mod warm;

use destinations::logs_url;
pub(crate) use destinations::{Destinations, Key};

use crate::config::Config;
use crate::payload::{Encoded, Payload, Signal};
use crate::secret::Secret;
use arc_swap::{ArcSwap, ArcSwapOption};
use retry::Verdict;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one signal's part of a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalReport {
    /// Entries (or points) delivered.
    pub sent: u64,
    /// HTTP requests that delivered.
    pub requests: u64,
    /// Retries made.
    pub retried: u64,
    /// Entries put back for a later flush.
    pub requeued: u64,
    /// Entries given up on (final refusal, or no time left at shutdown, or no room to requeue).
    pub dropped: u64,
    /// Why the last failure happened, for the log.
    pub last_error: Option<String>,
}

impl SignalReport {
    pub fn merge(&mut self, other: SignalReport) {
        self.sent += other.sent;
        self.requests += other.requests;
        self.retried += other.retried;
        self.requeued += other.requeued;
        self.dropped += other.dropped;
        if other.last_error.is_some() {
            self.last_error = other.last_error;
        }
    }
}

/// What a flush did, per signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub logs: SignalReport,
    /// Series, sketches, events and service checks (counted in items).
    pub metrics: SignalReport,
    /// Spans.
    pub traces: SignalReport,
    pub elapsed: Duration,
}

/// A payload waiting to be delivered (again).
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub url: String,
    pub payload: Payload,
    pub items: u64,
    pub key: Key,
    pub destination: String,
    /// Kept for the next flush when undelivered (see `Destination::reliable`).
    pub reliable: bool,
}

/// Bytes of undelivered payloads kept for the next flush, per destination: a failing
/// destination can never crowd out the others.
pub(crate) const RETRY_QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// Outcome of delivering one payload.
#[derive(Debug)]
pub(crate) enum Delivery {
    Delivered {
        retries: u32,
    },
    /// Refused for good (status).
    Refused {
        status: u16,
        retries: u32,
    },
    /// Still failing when attempts or time ran out.
    GaveUp {
        reason: String,
        retries: u32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

pub(crate) struct Intake {
    http: reqwest::Client,
    api_key: Arc<ArcSwapOption<Secret>>,
    pub logs_url: String,
    /// Base of the trace intake (`https://trace.agent.<site>` or `DD_APM_DD_URL`).
    pub apm_base: String,
    metrics_base: String,
    retry: std::sync::Mutex<std::collections::VecDeque<Pending>>,
    /// Swapped whole when an endpoint setting arrives from a secret after init.
    destinations: ArcSwap<Destinations>,
    /// Endpoint settings still being fetched from a secret (flushes wait for them once).
    endpoints_pending: std::sync::atomic::AtomicBool,
    key_changed: tokio::sync::Notify,
    key_pending: std::sync::atomic::AtomicBool,
    key_rotates: std::sync::atomic::AtomicBool,
    key_rejected: tokio::sync::Notify,
    /// When each destination origin last carried a request (what `warm` skips).
    last_used: warm::LastUsed,
}

impl Intake {
    pub(crate) fn new(config: &Config) -> Result<Self, IntakeError> {
        let metrics_base = config
            .metrics_url
            .clone()
            .unwrap_or_else(|| format!("https://api.{}", config.site));
        let apm_base = config
            .apm_url
            .clone()
            .unwrap_or_else(|| format!("https://trace.agent.{}", config.site));
        Ok(Self {
            http: client::build(config)?,
            api_key: Arc::new(ArcSwapOption::from(config.api_key.clone().map(Arc::new))),
            logs_url: logs_url(config),
            destinations: ArcSwap::from_pointee(Destinations::new(
                config,
                &metrics_base,
                &apm_base,
            )),
            endpoints_pending: std::sync::atomic::AtomicBool::new(false),
            metrics_base,
            key_changed: tokio::sync::Notify::new(),
            key_pending: std::sync::atomic::AtomicBool::new(false),
            key_rotates: std::sync::atomic::AtomicBool::new(false),
            key_rejected: tokio::sync::Notify::new(),
            apm_base,
            retry: std::sync::Mutex::new(std::collections::VecDeque::new()),
            last_used: warm::LastUsed::new(config.intake_idle),
        })
    }

    /// The primary key; while one is being resolved, waits for it until `deadline`.
    async fn primary_key(&self, deadline: Instant) -> Option<Arc<Secret>> {
        crate::sync::wait_until(&self.key_changed, deadline, || {
            self.api_key.load().is_some()
                || !self.key_pending.load(std::sync::atomic::Ordering::Relaxed)
        })
        .await;
        self.api_key.load_full()
    }

    /// Installs a (new) primary key; every signal's next request carries it.
    pub(crate) fn set_api_key(&self, key: Secret) {
        self.api_key.store(Some(Arc::new(key)));
        self.key_pending
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.key_changed.notify_waiters();
    }

    /// Marks the primary key as being resolved (flushes wait for it within their deadline).
    pub(crate) fn set_key_pending(&self, pending: bool) {
        self.key_pending
            .store(pending, std::sync::atomic::Ordering::Relaxed);
        self.key_changed.notify_waiters();
    }

    /// Ends every wait for a first resolution; returns whether one was still pending.
    pub(crate) fn settle_pending(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let key = self.key_pending.swap(false, Relaxed);
        let endpoints = self.endpoints_pending.swap(false, Relaxed);
        self.key_changed.notify_waiters();
        key || endpoints
    }

    /// Whether the key comes from a source that can rotate (Secrets Manager, KMS).
    fn key_rotates(&self) -> bool {
        self.key_rotates.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set_key_rotates(&self, rotates: bool) {
        self.key_rotates
            .store(rotates, std::sync::atomic::Ordering::Relaxed);
    }

    /// The destinations in force now.
    pub(crate) fn destinations(&self) -> Arc<Destinations> {
        self.destinations.load_full()
    }

    /// Rebuilds every destination from `config` (endpoint settings that came from secrets);
    /// the primary bases stay as they were at start.
    pub(crate) fn set_endpoints(&self, config: &Config) {
        let d = Destinations::new(config, &self.metrics_base, &self.apm_base);
        self.destinations.store(Arc::new(d));
    }

    /// Marks endpoint settings as being fetched; `false` once the first attempt is over.
    pub(crate) fn set_endpoints_pending(&self, pending: bool) {
        self.endpoints_pending
            .store(pending, std::sync::atomic::Ordering::Relaxed);
        self.key_changed.notify_waiters();
    }

    /// Waits (until `deadline`) for endpoint settings still being fetched, so that the data of
    /// the first flushes reaches every destination.
    pub(crate) async fn endpoints_settled(&self, deadline: Instant) {
        crate::sync::wait_until(&self.key_changed, deadline, || {
            !self
                .endpoints_pending
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .await;
    }

    /// Woken when the intake rejects the primary key.
    pub(crate) async fn key_rejected(&self) {
        self.key_rejected.notified().await;
    }

    /// The live key, shared with whoever resolves and rotates it.
    pub(crate) fn api_key(&self) -> Arc<ArcSwapOption<Secret>> {
        self.api_key.clone()
    }

    /// Payloads left over from earlier flushes of `signal`.
    pub(crate) fn take_retries(&self, signal: Signal) -> Vec<Pending> {
        let mut q = crate::sync::lock(&self.retry);
        let (mine, others): (Vec<Pending>, Vec<Pending>) =
            q.drain(..).partition(|p| p.payload.signal == signal);
        q.extend(others);
        let bytes: usize = mine.iter().map(|p| p.payload.body.len()).sum();
        crate::memory::Budget::global().release(bytes);
        mine
    }

    /// One job per destination of each payload's signal (metrics and traces: every
    /// destination; logs: the additional ones, the primary logs path being delivered in order
    /// by the logs flush itself). Bodies are shared, never copied.
    pub(crate) fn jobs(&self, encoded: Vec<Encoded>) -> Vec<Pending> {
        let destinations = self.destinations.load();
        let mut jobs = Vec::new();
        for e in encoded {
            let targets = match e.payload.signal {
                Signal::Metrics => &destinations.metrics,
                Signal::Traces => &destinations.traces,
                Signal::Logs => &destinations.logs,
            };
            for d in targets {
                jobs.push(Pending {
                    url: format!("{}{}", d.base, e.path),
                    payload: e.payload.clone(),
                    items: e.items,
                    key: d.key.clone(),
                    destination: d.label.clone(),
                    reliable: d.reliable,
                });
            }
        }
        jobs
    }

    /// Keeps an undelivered payload for the next flush; `false` when the queue is full.
    pub(crate) fn retry_later(&self, job: Pending) -> bool {
        let mut q = crate::sync::lock(&self.retry);
        let bytes: usize = q
            .iter()
            .filter(|p| p.destination == job.destination)
            .map(|p| p.payload.body.len())
            .sum();
        let len = job.payload.body.len();
        if bytes + len > RETRY_QUEUE_BYTES || !crate::memory::Budget::global().try_charge(len) {
            return false;
        }
        q.push_back(job);
        true
    }

    /// Posts a payload, retrying retryable failures until `MAX_ATTEMPTS` or `deadline`.
    pub(crate) async fn deliver(
        &self,
        key_kind: &Key,
        url: &str,
        payload: &Payload,
        extra: &[(&str, &str)],
        deadline: Instant,
    ) -> Delivery {
        let mut attempt = 0u32;
        loop {
            let key = match key_kind {
                Key::Primary => self.primary_key(deadline).await,
                Key::Fixed(k) => Some(k.clone()),
            };
            let Some(key) = key else {
                return Delivery::GaveUp {
                    reason: "no API key is available yet".into(),
                    retries: attempt,
                };
            };
            let primary = matches!(key_kind, Key::Primary);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Delivery::GaveUp {
                    reason: "flush deadline reached".into(),
                    retries: attempt,
                };
            }
            self.last_used.touch(url);
            let mut req = self
                .http
                .post(url)
                .timeout(left)
                .header("DD-API-KEY", key.expose())
                .header("Content-Type", payload.content_type.as_ref())
                .body(payload.body.clone());
            if let Some(enc) = &payload.encoding {
                req = req.header("Content-Encoding", enc.as_ref());
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            let (verdict, reason) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // Drain the body so the connection goes back to the pool.
                    let _ = resp.bytes().await;
                    match retry::classify(status) {
                        Verdict::Delivered => return Delivery::Delivered { retries: attempt },
                        Verdict::Final if status == 403 && primary && self.key_rotates() => {
                            // The key may have been rotated: fetch it again, and keep the data.
                            self.key_rejected.notify_one();
                            return Delivery::GaveUp {
                                reason: "the intake rejected the API key (403); re-resolving it"
                                    .into(),
                                retries: attempt,
                            };
                        }
                        Verdict::Final => {
                            return Delivery::Refused {
                                status,
                                retries: attempt,
                            };
                        }
                        Verdict::Retry => (Verdict::Retry, format!("intake answered {status}")),
                    }
                }
                Err(e) if e.is_timeout() => {
                    return Delivery::GaveUp {
                        reason: "intake did not answer before the flush deadline".into(),
                        retries: attempt,
                    };
                }
                Err(e) => {
                    if attempt == 0 && !e.is_connect() {
                        // Sent on a pooled connection that had died (a NAT or the intake
                        // dropped it while the environment was frozen): retried at once on a
                        // new connection (`retry::backoff(1)` is zero). Counted, not a drop.
                        count_stale_connection();
                    }
                    (
                        Verdict::Retry,
                        format!("request failed: {}", error_chain(&e)),
                    )
                }
            };
            debug_assert_eq!(verdict, Verdict::Retry);
            attempt += 1;
            if attempt >= retry::MAX_ATTEMPTS {
                return Delivery::GaveUp {
                    reason,
                    retries: attempt - 1,
                };
            }
            let wait = retry::backoff(attempt);
            if Instant::now() + wait >= deadline {
                return Delivery::GaveUp {
                    reason,
                    retries: attempt - 1,
                };
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request met a pooled connection the network had dropped, and was sent again on a new one
/// (a flush's delivery, or a warm-up).
fn count_stale_connection() {
    metrics::counter!("tandem.intake.stale_connection_retries").increment(1);
}

/// An error and its causes on one line (reqwest's top-level message alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

//! The `Agent`: wires sources, pipelines and the intake together and exposes the narrow
//! interface the mode controllers drive (`ingest` from telemetry, `on_invoke`, `flush`,
//! `flush_in_background`, `shutdown`, and waits on invocation lifecycle). Must not decide
//! *when* to flush — that is the controllers' job — and must not know which mode it runs in
//! beyond the log attribution policy it is given.

use crate::config::Config;
use crate::dogstatsd::server::DogStatsD;
use crate::http::ServerHandle;
use crate::intake::{Delivery, FlushReport, Intake, IntakeError, Key, SignalReport};
use crate::invocations::{Lifecycle, Tracker};
use crate::lambda::events::TelemetryEvent;
use crate::lambda::events::{InvokeEvent, Timed};
use crate::lambda::listener;
use crate::logs::{Attribution, LogsPipeline};
use crate::metrics::enhanced::Enhanced;
use crate::metrics::pipeline::MetricsPipeline;
use crate::metrics::usage::Snapshot;
use crate::payload::{Payload, Signal};
use crate::sync::lock;
use crate::tags::FunctionContext;
use crate::traces::invocation::Invocations;
use crate::traces::pipeline::TracesPipeline;
use crate::traces::server::ProxyRoutes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

/// Time kept back from a SHUTDOWN deadline for the process to exit.
const EXIT_MARGIN: Duration = Duration::from_millis(150);
/// Longest wait at SHUTDOWN for the platform's last telemetry (the final REPORT).
const SHUTDOWN_TELEMETRY_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen for Telemetry API events on {addr}: {source}")]
    TelemetryListener {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

struct Inner {
    config: Arc<Config>,
    function: FunctionContext,
    attribution: Attribution,
    logs: LogsPipeline,
    metrics: Arc<MetricsPipeline>,
    enhanced: Mutex<Enhanced>,
    /// `/proc` snapshot at the current on-demand invocation's start.
    usage_start: Mutex<Option<Snapshot>>,
    /// The latest `/proc` resource scan, awaited before the final flush.
    usage_scan: Mutex<Option<JoinHandle<()>>>,
    dogstatsd: Mutex<Option<DogStatsD>>,
    tracker: Mutex<Tracker>,
    changed: Notify,
    lifecycle: broadcast::Sender<Lifecycle>,
    intake: Arc<Intake>,
    traces: Option<Arc<TracesPipeline>>,
    trace_agent: Mutex<Option<ServerHandle>>,
    invocations: Arc<Invocations>,
    lifecycle_api: Mutex<Option<ServerHandle>>,
    /// Request id of the current on-demand INVOKE (lifecycle calls without a request id).
    current_invoke: Arc<Mutex<Option<String>>>,
    flush_lock: Arc<tokio::sync::Mutex<()>>,
    telemetry: Mutex<Option<ServerHandle>>,
    totals: Mutex<FlushReport>,
}

/// The shared core. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl Agent {
    /// Starts the pipelines and the Telemetry API listener. No network beyond binding.
    pub async fn start(
        config: Arc<Config>,
        function: FunctionContext,
        attribution: Attribution,
    ) -> Result<Agent, StartError> {
        let (lifecycle, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            logs: LogsPipeline::new(&config, function.clone(), attribution),
            metrics: Arc::new(MetricsPipeline::new(&config, function.tags.clone())),
            enhanced: Mutex::new(Enhanced::new(
                config.enhanced_metrics,
                std::env::consts::ARCH == "aarch64",
            )),
            dogstatsd: Mutex::new(None),
            usage_start: Mutex::new(None),
            usage_scan: Mutex::new(None),
            attribution,
            intake: Arc::new(Intake::new(&config)?),
            traces: config
                .trace_enabled
                .then(|| Arc::new(TracesPipeline::new(&config, &function))),
            trace_agent: Mutex::new(None),
            invocations: Arc::new(Invocations::new(&config, &function)),
            lifecycle_api: Mutex::new(None),
            current_invoke: Arc::new(Mutex::new(None)),
            function,
            tracker: Mutex::new(Tracker::new()),
            changed: Notify::new(),
            lifecycle,
            flush_lock: Arc::new(tokio::sync::Mutex::new(())),
            telemetry: Mutex::new(None),
            totals: Mutex::new(FlushReport::default()),
            config,
        });
        let agent = Agent { inner };
        let sink_agent = agent.clone();
        let addr = agent.inner.config.telemetry_addr;
        let server = listener::start(addr, Arc::new(move |events| sink_agent.ingest(events)))
            .await
            .map_err(|source| StartError::TelemetryListener { addr, source })?;
        *lock(&agent.inner.telemetry) = Some(server);
        let port = agent.inner.config.dogstatsd_port;
        match DogStatsD::start(port, agent.inner.metrics.clone()) {
            Ok(d) => {
                crate::log_info!("DogStatsD listening on {:?}", d.addrs);
                *lock(&agent.inner.dogstatsd) = Some(d);
            }
            Err(e) => crate::log_error!(
                "DogStatsD cannot listen on 127.0.0.1:{port} ({e}); custom metrics are off, everything else runs"
            ),
        }
        let routes = ProxyRoutes::new(
            &agent.inner.config.site,
            &agent.inner.intake.apm_base,
            &agent.inner.intake.logs_url,
            agent.inner.config.env.as_deref().unwrap_or(""),
        );
        let port = agent.inner.config.apm_receiver_port;
        let traces = agent.inner.traces.clone();
        let forwarder = Arc::new(crate::traces::forward::Forwarder::new(
            agent.inner.intake.clone(),
        ));
        match crate::traces::server::start(port, traces, forwarder, routes).await {
            Ok(server) => {
                crate::log_info!("trace agent listening on {}", server.addr);
                *lock(&agent.inner.trace_agent) = Some(server);
            }
            Err(e) => crate::log_error!(
                "the trace agent cannot listen on 127.0.0.1:{port} ({e}); traces are off, everything else runs"
            ),
        }
        agent.start_lifecycle_api().await;
        Ok(agent)
    }

    /// Starts resolving what the intake needs from AWS (API key, endpoint secrets) in the
    /// background. The mode calls this once init is done (right before its first `/next`), so
    /// that the SDK's work never competes with the start-up path.
    pub fn start_secret_resolution(&self) {
        crate::secrets::refresh::start(
            self.inner.config.clone(),
            self.inner.intake.clone(),
            self.inner.function.function_name.clone(),
        );
    }

    async fn start_lifecycle_api(&self) {
        let (flush_tx, mut flush_rx) =
            tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(8);
        let flusher = self.clone();
        tokio::spawn(async move {
            while let Some(done) = flush_rx.recv().await {
                flusher
                    .flush(Instant::now() + flusher.inner.config.flush_timeout)
                    .await;
                let _ = done.send(());
            }
        });
        let current = self.inner.current_invoke.clone();
        let on_demand = self.inner.attribution == Attribution::StreamOrder;
        let hooks = crate::traces::lifecycle::Hooks {
            invocations: self.inner.invocations.clone(),
            traces: self.inner.traces.clone(),
            current_request: Arc::new(move || {
                if on_demand {
                    lock(&current).clone()
                } else {
                    None
                }
            }),
            flush: flush_tx,
        };
        let port = self.inner.config.lifecycle_port;
        match crate::traces::lifecycle::start(port, hooks).await {
            Ok(server) => {
                crate::log_info!("lifecycle API listening on {}", server.addr);
                *lock(&self.inner.lifecycle_api) = Some(server);
            }
            Err(e) => crate::log_error!(
                "the lifecycle API cannot listen on 127.0.0.1:{port} ({e}); invocation spans are off, everything else runs"
            ),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn function(&self) -> &FunctionContext {
        &self.inner.function
    }

    /// The port Lambda must deliver telemetry to.
    pub fn telemetry_port(&self) -> u16 {
        lock(&self.inner.telemetry)
            .as_ref()
            .map(|s| s.addr.port())
            .unwrap_or(0)
    }

    /// Lifecycle events derived from telemetry.
    pub fn events(&self) -> broadcast::Receiver<Lifecycle> {
        self.inner.lifecycle.subscribe()
    }

    /// Feeds decoded telemetry events, in delivery order.
    pub fn ingest(&self, events: Vec<Timed>) {
        let mut happened = Vec::new();
        {
            let mut tracker = lock(&self.inner.tracker);
            for ev in &events {
                if let Some(l) = tracker.apply(&ev.event, ev.time_ms) {
                    happened.push(l);
                }
                self.inner.logs.on_event(ev, tracker.current_request_id());
                let current = match self.inner.attribution {
                    Attribution::StreamOrder => tracker.current_request_id(),
                    Attribution::RecordOnly => None,
                };
                self.trace_lifecycle(ev);
                let points = lock(&self.inner.enhanced).on_event(ev, current);
                self.add_enhanced(points);
            }
        }
        let usage_due = self.inner.attribution == Attribution::StreamOrder
            && events
                .iter()
                .any(|e| matches!(e.event, TelemetryEvent::RuntimeDone(_)));
        if usage_due && let Some(start) = lock(&self.inner.usage_start).take() {
            // Read /proc outside every lock but the one just released.
            if let Some(end) = Snapshot::take() {
                let now = crate::time::now_ms() / 1000;
                self.add_enhanced(crate::metrics::usage::interval_points(
                    &start,
                    &end,
                    now,
                    &[],
                ));
                // The /proc scan goes to a blocking thread: its points join the next flush
                // rather than delay this invocation's.
                let agent = self.clone();
                let scan = tokio::task::spawn_blocking(move || {
                    agent.add_enhanced(crate::metrics::usage::resource_points(now, &[]));
                });
                *lock(&self.inner.usage_scan) = Some(scan);
            }
        }
        for l in happened {
            if let Lifecycle::LogsDropped { records, bytes } = &l {
                metrics::counter!("tandem.telemetry.platform_dropped_records").increment(*records);
                crate::log_warn!(
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
            if let (Some(payload), Some(traces)) =
                (inv.timeout(request_id, now_ns), &self.inner.traces)
            {
                traces.push(payload);
            }
        };
        match &ev.event {
            TelemetryEvent::InitReport(r) => {
                if let Some(ms) = r.metrics.duration_ms {
                    inv.set_init_duration_ms(ms);
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

    fn add_enhanced(&self, points: Vec<crate::metrics::enhanced::Point>) {
        for p in points {
            let name = format!("{}{}", crate::metrics::enhanced::PREFIX, p.name);
            self.inner
                .metrics
                .distribution(&name, &p.tags, p.value, p.ts);
        }
    }

    /// Records an INVOKE event (on-demand).
    pub fn on_invoke(&self, ev: InvokeEvent) {
        *lock(&self.inner.current_invoke) = Some(ev.request_id.clone());
        if self.inner.config.enhanced_metrics {
            *lock(&self.inner.usage_start) = Snapshot::take();
        }
        lock(&self.inner.tracker).on_invoke(ev);
        self.inner.changed.notify_waiters();
    }

    /// Waits until `condition` holds on the tracker, or `until`. Returns whether it held.
    pub async fn wait_for(&self, until: Instant, condition: impl Fn(&Tracker) -> bool) -> bool {
        crate::sync::wait_until(&self.inner.changed, until, || {
            condition(&lock(&self.inner.tracker))
        })
        .await
    }

    /// Ships everything buffered now, within `deadline`. Waits for a flush already in flight.
    pub async fn flush(&self, deadline: Instant) -> FlushReport {
        let Ok(_guard) =
            tokio::time::timeout_at(deadline.into(), self.inner.flush_lock.clone().lock_owned())
                .await
        else {
            return FlushReport::default();
        };
        self.flush_locked(deadline, false).await
    }

    /// Starts a flush in the background unless one is already in flight (then `None`).
    pub fn flush_in_background(&self, deadline: Instant) -> Option<JoinHandle<FlushReport>> {
        let guard = self.inner.flush_lock.clone().try_lock_owned().ok()?;
        let agent = self.clone();
        Some(tokio::spawn(async move {
            let report = agent.flush_locked(deadline, false).await;
            drop(guard);
            report
        }))
    }

    /// SHUTDOWN: waits briefly for the platform's last telemetry, stops the listener, and makes
    /// a final flush, all before `deadline`. Reports what could not be delivered.
    pub async fn shutdown(&self, deadline: Instant) -> FlushReport {
        let usable = deadline
            .checked_sub(EXIT_MARGIN)
            .unwrap_or_else(Instant::now);
        let grace =
            (usable.saturating_duration_since(Instant::now()) / 4).min(SHUTDOWN_TELEMETRY_GRACE);
        self.wait_for(Instant::now() + grace, |t| t.awaiting_report() == 0)
            .await;
        if let Some(server) = lock(&self.inner.telemetry).take() {
            server.stop();
        }
        if let Some(server) = lock(&self.inner.trace_agent).take() {
            server.stop();
        }
        if let Some(server) = lock(&self.inner.lifecycle_api).take() {
            server.stop();
        }
        let dogstatsd = lock(&self.inner.dogstatsd).take();
        if let Some(d) = dogstatsd {
            d.stop(Duration::from_millis(100)).await;
        }
        let scan = lock(&self.inner.usage_scan).take();
        if let Some(scan) = scan {
            let _ = tokio::time::timeout(Duration::from_millis(100), scan).await;
        }
        let points = lock(&self.inner.enhanced).on_shutdown(crate::time::now_ms() / 1000);
        self.add_enhanced(points);
        let _guard =
            tokio::time::timeout_at(usable.into(), self.inner.flush_lock.clone().lock_owned())
                .await;
        let report = self.flush_locked(usable, true).await;
        let totals = self.totals();
        if report.traces.dropped > 0 {
            crate::log_error!(
                "shutdown: {} spans could not be delivered and were dropped ({})",
                report.traces.dropped,
                report
                    .traces
                    .last_error
                    .as_deref()
                    .unwrap_or("unknown reason")
            );
        }
        if report.metrics.dropped > 0 {
            crate::log_error!(
                "shutdown: {} metric items could not be delivered and were dropped ({})",
                report.metrics.dropped,
                report
                    .metrics
                    .last_error
                    .as_deref()
                    .unwrap_or("unknown reason")
            );
        }
        if report.logs.dropped > 0 {
            crate::log_error!(
                "shutdown: {} log entries could not be delivered and were dropped ({}); {} delivered in total",
                report.logs.dropped,
                report
                    .logs
                    .last_error
                    .as_deref()
                    .unwrap_or("unknown reason"),
                totals.logs.sent
            );
        } else {
            crate::log_debug!(
                "shutdown: final flush delivered {} log entries; {} in total",
                report.logs.sent,
                totals.logs.sent
            );
        }
        crate::log_info!("counters: {}", crate::counters::summary());
        report
    }

    /// Cumulative counts of every flush so far.
    pub fn totals(&self) -> FlushReport {
        lock(&self.inner.totals).clone()
    }

    /// Publishes the pipelines' own totals to the counters registry, and — when the user
    /// opted in — adds every counter as a `tandem.*` gauge to this flush.
    fn publish_counters(&self) {
        let c = &self.inner.metrics.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("tandem.dogstatsd.packets").absolute(load(&c.packets));
        metrics::counter!("tandem.dogstatsd.lines").absolute(load(&c.lines));
        metrics::counter!("tandem.dogstatsd.parse_errors").absolute(load(&c.parse_errors));
        metrics::counter!("tandem.dogstatsd.context_overflow").absolute(load(&c.context_overflow));
        metrics::counter!("tandem.dogstatsd.events_dropped").absolute(load(&c.events_dropped));
        metrics::gauge!("tandem.dogstatsd.contexts").set(self.inner.metrics.live_contexts() as f64);
        let l = &self.inner.logs.counters;
        metrics::counter!("tandem.logs.accepted").absolute(load(&l.accepted));
        metrics::counter!("tandem.logs.excluded").absolute(load(&l.excluded_by_rules));
        metrics::counter!("tandem.logs.truncated").absolute(load(&l.truncated));
        if self.inner.config.internal_metrics {
            let now = crate::time::now_ms() / 1000;
            for (name, value) in crate::counters::snapshot() {
                let (base, tags) = match name.split_once('{') {
                    Some((b, rest)) => (
                        b.to_string(),
                        rest.trim_end_matches('}')
                            .split(',')
                            .map(str::to_string)
                            .collect(),
                    ),
                    None => (name, Vec::new()),
                };
                self.inner.metrics.gauge(&base, &tags, value, now);
            }
        }
    }

    async fn flush_locked(&self, deadline: Instant, last: bool) -> FlushReport {
        self.publish_counters();
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
        if report.traces != SignalReport::default() {
            crate::log_debug!(
                "flush: traces sent={} requests={} retried={} requeued={} dropped={}",
                report.traces.sent,
                report.traces.requests,
                report.traces.retried,
                report.traces.requeued,
                report.traces.dropped
            );
        }
        if report.metrics != SignalReport::default() {
            crate::log_debug!(
                "flush: metrics sent={} requests={} retried={} requeued={} dropped={}",
                report.metrics.sent,
                report.metrics.requests,
                report.metrics.retried,
                report.metrics.requeued,
                report.metrics.dropped
            );
        }
        if report.logs != SignalReport::default() {
            metrics::counter!("tandem.logs.sent").increment(report.logs.sent);
            metrics::counter!("tandem.logs.dropped", "reason" => "delivery")
                .increment(report.logs.dropped);
            crate::log_debug!(
                "flush: logs sent={} requests={} retried={} requeued={} dropped={} in {:?}",
                report.logs.sent,
                report.logs.requests,
                report.logs.retried,
                report.logs.requeued,
                report.logs.dropped,
                report.elapsed
            );
        }
        let payloads = |f: fn(&SignalReport) -> u64| f(&report.logs) + f(&report.metrics);
        metrics::counter!("tandem.flushes").increment(1);
        metrics::counter!("tandem.intake.payloads_sent").increment(payloads(|r| r.requests));
        metrics::counter!("tandem.intake.retries").increment(payloads(|r| r.retried));
        metrics::counter!("tandem.intake.items_dropped").increment(payloads(|r| r.dropped));
        metrics::gauge!("tandem.flush.last_ms").set(report.elapsed.as_secs_f64() * 1000.0);
        crate::log_debug!("counters: {}", crate::counters::summary());
        let mut totals = lock(&self.inner.totals);
        totals.logs.merge(report.logs.clone());
        totals.metrics.merge(report.metrics.clone());
        totals.traces.merge(report.traces.clone());
        totals.elapsed += report.elapsed;
        report
    }

    async fn flush_metrics(&self, deadline: Instant, last: bool) -> SignalReport {
        let mut jobs = self.inner.intake.take_retries(Signal::Metrics);
        let encoded = crate::metrics::encode::payloads(self.inner.metrics.take());
        jobs.extend(self.inner.intake.jobs(encoded));
        self.deliver_jobs(jobs, deadline, last, "metrics").await
    }

    async fn flush_traces(&self, deadline: Instant, last: bool) -> SignalReport {
        let Some(traces) = &self.inner.traces else {
            return SignalReport::default();
        };
        let mut jobs = self.inner.intake.take_retries(Signal::Traces);
        let env = self.inner.config.env.as_deref().unwrap_or_default();
        let encoded = crate::traces::encode::agent_payloads(traces.take(), env);
        jobs.extend(self.inner.intake.jobs(encoded));
        self.deliver_jobs(jobs, deadline, last, "traces").await
    }

    /// Delivers encoded payloads side by side; what fails for now waits in the retry queue
    /// (or, at the last flush, is dropped and counted).
    async fn deliver_jobs(
        &self,
        jobs: Vec<crate::intake::Pending>,
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
                    if !last && self.inner.intake.retry_later(job) {
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
        let overflow = self.inner.logs.take_overflow();
        if overflow > 0 {
            // Counted apart (`tandem.logs.dropped{reason:buffer_full}`): the report's `dropped`
            // is about entries that were accepted and then could not be delivered.
            crate::log_warn!(
                "logs: {overflow} entries were dropped because the buffer was full ({} bytes; TANDEM_LOGS_BUFFER_BYTES)",
                self.inner.config.logs_buffer_bytes
            );
        }
        let mut extra_jobs = self.inner.intake.take_retries(Signal::Logs);
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
        let additional = batches.iter().map(|(b, p)| crate::payload::Encoded {
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

//! The `Agent`: wires sources, pipelines and the intake together and exposes the narrow
//! interface the mode controllers drive (`ingest` from telemetry, `on_invoke`, `flush`,
//! `flush_in_background`, `shutdown`, and waits on invocation lifecycle). Must not decide
//! *when* to flush — that is the controllers' job — and must not know which mode it runs in
//! beyond the log attribution policy it is given.

use crate::config::Config;
use crate::dogstatsd::server::DogStatsD;
use crate::http::ServerHandle;
use crate::intake::{FlushReport, Intake, IntakeError};
use crate::invocations::{Lifecycle, Tracker};
use crate::lambda::events::InvokeEvent;
use crate::lambda::listener;
use crate::logs::{Attribution, LogsPipeline};
use crate::metrics::enhanced::Enhanced;
use crate::metrics::pipeline::MetricsPipeline;
use crate::sync::lock;
use crate::tags::FunctionContext;
use crate::traces::invocation::Invocations;
use crate::traces::pipeline::TracesPipeline;
use crate::traces::server::ProxyRoutes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

mod drops;
mod environment;
mod report;
mod router;
mod serial;
mod shipper;
use tokio::task::JoinHandle;

/// Time kept back from a SHUTDOWN deadline for the process to exit.
const EXIT_MARGIN: Duration = Duration::from_millis(150);
/// Longest wait at SHUTDOWN for the platform's last telemetry (the final REPORT).
const SHUTDOWN_TELEMETRY_GRACE: Duration = Duration::from_millis(500);
/// Longest wait at SHUTDOWN for local requests in flight (tracers, lifecycle calls, uploads).
const DRAIN_AT_MOST: Duration = Duration::from_secs(1);

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
    dogstatsd: Mutex<Option<DogStatsD>>,
    tracker: Mutex<Tracker>,
    changed: Notify,
    lifecycle: broadcast::Sender<Lifecycle>,
    intake: Arc<Intake>,
    traces: Option<Arc<TracesPipeline>>,
    trace_agent: Mutex<Option<ServerHandle>>,
    /// The OTLP receivers, when their endpoints are set.
    otlp: Mutex<crate::otlp::Servers>,
    invocations: Arc<Invocations>,
    lifecycle_api: Mutex<Option<ServerHandle>>,
    /// One-at-a-time invocation state; `Some` only under `Attribution::StreamOrder`.
    serial: Option<serial::Serial>,
    /// Managed Instances with `/proc` metrics on: usage sampled for the environment.
    environment: Option<environment::EnvironmentUsage>,
    flush_lock: Arc<tokio::sync::Mutex<()>>,
    telemetry: Mutex<Option<ServerHandle>>,
    totals: Mutex<FlushReport>,
    drops: Mutex<drops::Ledger>,
    forwarder: Arc<crate::traces::forward::Forwarder>,
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
        crate::memory::Budget::global().set_limit(config.memory_bytes);
        let (lifecycle, _) = broadcast::channel(1024);
        let intake = Arc::new(Intake::new(&config)?);
        let invocations = Arc::new(Invocations::new(&config, &function));
        let inner = Arc::new(Inner {
            logs: LogsPipeline::new(&config, function.clone(), attribution)
                .with_durable(invocations.durable.clone()),
            metrics: Arc::new(MetricsPipeline::new(&config, function.tags.clone())),
            enhanced: Mutex::new({
                let e = Enhanced::new(config.enhanced_metrics, std::env::consts::ARCH == "aarch64");
                // Overlapping invocations have no cold start of their own to tag.
                if attribution == Attribution::RecordOnly {
                    e.without_cold_start_tags()
                } else {
                    e
                }
            }),
            dogstatsd: Mutex::new(None),
            attribution,
            traces: config.trace_enabled.then(|| {
                Arc::new(
                    TracesPipeline::with_cold_start(&config, &function, invocations.cold.clone())
                        .with_durable(invocations.durable.clone()),
                )
            }),
            trace_agent: Mutex::new(None),
            otlp: Mutex::new(crate::otlp::Servers::default()),
            invocations,
            lifecycle_api: Mutex::new(None),
            serial: (attribution == Attribution::StreamOrder).then(serial::Serial::default),
            environment: (attribution == Attribution::RecordOnly
                && config.enhanced_metrics
                && config.proc_enhanced_metrics)
                .then(environment::EnvironmentUsage::new),
            function,
            tracker: Mutex::new(Tracker::new()),
            changed: Notify::new(),
            lifecycle,
            flush_lock: Arc::new(tokio::sync::Mutex::new(())),
            telemetry: Mutex::new(None),
            totals: Mutex::new(FlushReport::default()),
            drops: Mutex::new(drops::Ledger::default()),
            forwarder: Arc::new(crate::traces::forward::Forwarder::new(intake.clone())),
            intake,
            config,
        });
        let agent = Agent { inner };
        let sink_agent = agent.clone();
        let addr = agent.inner.config.telemetry_addr;
        let sink: listener::Sink = Arc::new(move |events| sink_agent.ingest(events));
        let server = match listener::start(addr, sink.clone()).await {
            Ok(server) => server,
            Err(e) => {
                // Taken (another extension, an OTel collector layer): any free port does, the
                // subscription names the one we got.
                let any = std::net::SocketAddr::new(addr.ip(), 0);
                let server = listener::start(any, sink)
                    .await
                    .map_err(|source| StartError::TelemetryListener { addr: any, source })?;
                crate::log_warn!(
                    "the Telemetry API port {} is taken ({e}); listening on {} instead",
                    addr.port(),
                    server.addr
                );
                server
            }
        };
        *lock(&agent.inner.telemetry) = Some(server);
        let port = agent.inner.config.dogstatsd_port;
        let mut statsd_port = port;
        let options = crate::dogstatsd::server::SocketOptions {
            buffer_size: agent.inner.config.dogstatsd_buffer_size,
            rcvbuf: agent
                .inner
                .config
                .dogstatsd_so_rcvbuf
                .unwrap_or(crate::dogstatsd::server::RCVBUF_BYTES),
        };
        match DogStatsD::start_with(port, agent.inner.metrics.clone(), options) {
            Ok(d) => {
                crate::log_info!("DogStatsD listening on {:?}", d.addrs);
                statsd_port = d.addrs.first().map_or(port, |a| a.port());
                *lock(&agent.inner.dogstatsd) = Some(d);
            }
            Err(e) => crate::log_error!(
                "DogStatsD cannot listen on 127.0.0.1:{port} ({e}); custom metrics are off, everything else runs"
            ),
        }
        let mut routes = ProxyRoutes::new(
            &agent.inner.config.site,
            &agent.inner.intake.apm_base,
            &agent.inner.intake.logs_url,
            agent.inner.config.env.as_deref().unwrap_or(""),
        );
        routes.statsd_port = statsd_port;
        let port = agent.inner.config.apm_receiver_port;
        let traces = agent.inner.traces.clone();
        let forwarder = agent.inner.forwarder.clone();
        match crate::traces::server::start(port, traces, forwarder, routes).await {
            Ok(server) => {
                crate::log_info!("trace agent listening on {}", server.addr);
                *lock(&agent.inner.trace_agent) = Some(server);
            }
            Err(e) => crate::log_error!(
                "the trace agent cannot listen on 127.0.0.1:{port} ({e}); traces are off, everything else runs"
            ),
        }
        agent.start_otlp().await;
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

    /// The OTLP receivers (when configured). Their logs take the current invocation's request
    /// id on-demand; in Managed Instance mode only the id a record carries.
    async fn start_otlp(&self) {
        let agent = self.clone();
        let logs: crate::otlp::LogSink = Arc::new(move |records| {
            let current = lock(&agent.inner.tracker)
                .current_request_id()
                .map(str::to_string);
            for r in records {
                agent.inner.logs.push_attributed(r, current.as_deref());
            }
        });
        let servers = crate::otlp::start(
            &self.inner.config.otlp,
            self.inner.traces.clone(),
            self.inner.metrics.clone(),
            logs,
        )
        .await;
        *lock(&self.inner.otlp) = servers;
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
        // Only one-at-a-time invocations have a current one to fall back to.
        let current = self.inner.serial.as_ref().map(|s| s.current_invoke.clone());
        let hooks = crate::traces::lifecycle::Hooks {
            invocations: self.inner.invocations.clone(),
            traces: self.inner.traces.clone(),
            current_request: current.map(|c| {
                Arc::new(move || lock(&c).clone()) as Arc<dyn Fn() -> Option<String> + Send + Sync>
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

    /// Records an INVOKE event (on-demand).
    pub fn on_invoke(&self, ev: InvokeEvent) {
        if let Some(serial) = &self.inner.serial {
            let config = &self.inner.config;
            serial.on_invoke(
                &ev.request_id,
                config.enhanced_metrics && config.proc_enhanced_metrics,
            );
        }
        lock(&self.inner.tracker).on_invoke(ev);
        self.inner.changed.notify_waiters();
        // The flush after this invocation should find its connections open: the handshakes
        // happen while the function runs.
        let warmed = self.inner.intake.warm();
        if warmed > 0 {
            crate::log_debug!("warming {warmed} intake connection(s) for the next flush");
        }
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
        // Late end-invocation calls, tracer payloads and proxied uploads in flight finish (or
        // are cut off) within a share of the budget, before the final flush takes the buffers.
        let drain_until = Instant::now()
            + (usable.saturating_duration_since(Instant::now()) / 4).min(DRAIN_AT_MOST);
        let otlp = std::mem::take(&mut *lock(&self.inner.otlp));
        let servers = [
            lock(&self.inner.trace_agent).take(),
            lock(&self.inner.lifecycle_api).take(),
            otlp.http,
            otlp.grpc,
        ];
        for server in servers.into_iter().flatten() {
            if !server.drain(drain_until).await {
                crate::log_warn!(
                    "shutdown: requests to {} were still open at the drain deadline; they were cut off",
                    server.addr
                );
            }
        }
        self.inner.forwarder.drain(drain_until).await;
        let dogstatsd = lock(&self.inner.dogstatsd).take();
        if let Some(d) = dogstatsd {
            d.stop(Duration::from_millis(100)).await;
        }
        if let Some(serial) = &self.inner.serial {
            serial.settle(Duration::from_millis(100)).await;
        }
        let points = lock(&self.inner.enhanced).on_shutdown(crate::time::now_ms() / 1000);
        self.add_enhanced(points);
        let _guard =
            tokio::time::timeout_at(usable.into(), self.inner.flush_lock.clone().lock_owned())
                .await;
        let report = self.flush_locked(usable, true).await;
        self.report_shutdown(&report);
        report
    }

    /// Cumulative counts of every flush so far.
    pub fn totals(&self) -> FlushReport {
        lock(&self.inner.totals).clone()
    }
}

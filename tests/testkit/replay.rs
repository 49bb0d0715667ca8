//! Replays a workload through the real extension the way Lambda would run it, for
//! `tandem-tune --validate`: one `tandem` process per execution environment, each on its own
//! simulator; each invocation runs in the environment the caller placed it in (the model's
//! placement: Lambda's own is undocumented, and a millisecond's difference in a release would
//! otherwise decide whether an environment is added — placement luck, not flush behaviour);
//! between invocations an environment is frozen (SIGSTOP: no timers, no I/O, as Lambda's
//! freezer) and its `platform.report` reaches the extension at the thaw; environments idle past
//! the idle shutdown are shut down, and all of them at the end. The simulated function writes
//! its log lines, sends DogStatsD counts and one trace per invocation. Everything ships to one
//! capture intake that answers from a distance (`intake::Network`).
//!
//! Measures what the model predicts: the billed time the extension added to each invocation
//! (from the function's return to the extension's next `/next`: the wait for Lambda's delivery
//! of `platform.runtimeDone`, when the extension waits for it, and any flush) and the intake
//! requests. Wall time is the workload's: keep the slice short.

use crate::intake::{CaptureIntake, Network};
use crate::platform::{Outcome, Platform, SimMode, TelemetryAnswer};
use crate::process::{AgentProcess, lambda_env};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Data the simulated function produces per invocation.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    pub logs: usize,
    pub metrics: usize,
    pub spans: usize,
}

/// How to run the replay.
#[derive(Debug, Clone)]
pub struct Settings {
    pub binary: PathBuf,
    /// `DD_SERVERLESS_FLUSH_STRATEGY`.
    pub strategy: String,
    pub network: Network,
    pub idle_shutdown: Duration,
    pub flush_timeout_s: u64,
    pub volume: Volume,
}

/// What the replay measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// In arrival order.
    pub added_billed_ms: Vec<f64>,
    /// Requests that reached the intake (every signal, retries included).
    pub requests: u64,
    pub environments: u64,
    /// Invocations whose environment was still busy in the replay when the placement chose it
    /// (they started late).
    pub late_starts: u64,
    /// Requests per intake path.
    pub by_path: std::collections::BTreeMap<String, u64>,
}

/// Longest the replay waits on any one step of the platform or the extension.
const STEP: Duration = Duration::from_secs(30);

struct Env {
    platform: Platform,
    agent: AgentProcess,
    dogstatsd: SocketAddr,
    traces: SocketAddr,
    /// When Lambda would count the last invocation done (the runtime returned and the
    /// extension called `/next`); `None` while one runs. Set before the freeze completes.
    free_at: Arc<Mutex<Option<Instant>>>,
    held_report: Option<String>,
    frozen: bool,
}

impl Env {
    fn signal(&mut self, stop: bool) {
        let Some(pid) = self.agent.pid().and_then(|p| i32::try_from(p).ok()) else {
            return;
        };
        let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(pid, sig) };
        self.frozen = stop;
    }

    /// Thaws the environment and lets the report held over the freeze reach the extension.
    fn thaw(&mut self) {
        if self.frozen {
            self.signal(false);
        }
        if let Some(id) = self.held_report.take() {
            self.platform.emit_report(&id, Outcome::default());
        }
    }
}

async fn start_env(
    s: &Settings,
    intake_url: &str,
    free_at: Arc<Mutex<Option<Instant>>>,
) -> Result<Env, String> {
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let (statsd_port, apm_port) = (crate::free_port(), crate::free_port());
    let mut env = lambda_env(&platform.runtime_api(), intake_url, false);
    env.retain(|(k, _)| {
        !matches!(
            k.as_str(),
            "DD_LOG_LEVEL" | "DD_DOGSTATSD_PORT" | "DD_APM_RECEIVER_PORT"
        )
    });
    for (k, v) in [
        ("DD_LOG_LEVEL", "info".to_string()),
        ("DD_DOGSTATSD_PORT", statsd_port.to_string()),
        ("DD_APM_RECEIVER_PORT", apm_port.to_string()),
        ("DD_SERVERLESS_FLUSH_STRATEGY", s.strategy.clone()),
        ("DD_FLUSH_TIMEOUT", s.flush_timeout_s.to_string()),
        // The distant intake speaks HTTP/2 without TLS (see `CaptureIntake::start_remote`).
        ("DD_HTTP_PROTOCOL", "http2".to_string()),
    ] {
        env.push((k.to_string(), v));
    }
    let agent = AgentProcess::spawn(&s.binary, &env)
        .map_err(|e| format!("spawn {}: {e}", s.binary.display()))?;
    if !platform.wait_next_calls(1, STEP).await {
        return Err(format!(
            "the extension never called /next; its stderr:\n{}",
            agent.stderr().join("\n")
        ));
    }
    Ok(Env {
        platform,
        agent,
        dogstatsd: SocketAddr::from(([127, 0, 0, 1], statsd_port)),
        traces: SocketAddr::from(([127, 0, 0, 1], apm_port)),
        free_at,
        held_report: None,
        frozen: false,
    })
}

/// One invocation of `duration` on `env`: the function's data, runtimeDone, the extension's
/// `/next`, the freeze. Returns the billed milliseconds the extension added.
async fn invoke(
    env: &mut Env,
    request_id: &str,
    duration: Duration,
    volume: Volume,
    http: &reqwest::Client,
    seq: u64,
) -> Result<f64, String> {
    env.thaw();
    let before = env.platform.begin_invoke(request_id, STEP).await?;
    let started = Instant::now();
    env.platform.emit((0..volume.logs).map(|i| {
        crate::events::function_text(&format!("[INFO] replayed line {i} of {request_id}"))
    }));
    crate::floods::metric_contexts(env.dogstatsd, volume.metrics)
        .map_err(|e| format!("DogStatsD: {e}"))?;
    tokio::time::sleep_until((started + duration).into()).await;
    // A tracer sends its trace as the handler returns, before the runtime's response.
    if volume.spans > 0 {
        let body = crate::msgpack::v04(1, volume.spans, seq);
        http.post(format!("http://{}/v0.4/traces", env.traces))
            .header("Content-Type", "application/msgpack")
            .header("X-Datadog-Trace-Count", "1")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the trace agent: {e}"))?;
    }
    let returned = Instant::now();
    // Lambda counts the invocation done at the runtime's return and the extension's `/next`,
    // whichever is later — before runtimeDone reaches an extension that does not wait for it.
    let done = async {
        if env.platform.wait_next_calls(before + 1, STEP).await {
            let next = env.platform.next_calls()[before];
            *tandem::sync::lock(&env.free_at) = Some(next.max(returned));
        }
    };
    let (timing, ()) = tokio::join!(
        env.platform
            .finish_invoke_holding_report(request_id, before, Outcome::default(), STEP),
        done
    );
    let timing = timing?;
    env.signal(true);
    env.held_report = Some(request_id.to_string());
    Ok(timing
        .next_called
        .saturating_duration_since(returned)
        .as_secs_f64()
        * 1000.0)
}

/// SHUTDOWN for an environment: thawed, its held report delivered first, then the exit.
async fn shut_down(mut env: Env) -> Result<(), String> {
    env.thaw();
    env.platform.wait_telemetry_drained(STEP).await;
    env.platform.send_shutdown(Duration::from_secs(2));
    env.agent
        .wait_exit(STEP)
        .await
        .map(|_| ())
        .ok_or_else(|| "an environment did not exit after SHUTDOWN".to_string())
}

/// An environment of the replay: its `Env` (away while an invocation runs on it) and when it
/// became free.
struct Slot {
    env: Option<Env>,
    free_at: Arc<Mutex<Option<Instant>>>,
    started: bool,
    gone: bool,
}

impl Slot {
    fn free_since(&self) -> Option<Instant> {
        if self.gone {
            None
        } else {
            *tandem::sync::lock(&self.free_at)
        }
    }
}

/// An invocation's end: its slot, the environment (none if it could not start), its sequence
/// number and the billed milliseconds added.
type Done = (usize, Option<Env>, u64, Result<f64, String>);

/// One invocation to replay.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Milliseconds from the start.
    pub at_ms: f64,
    pub duration_ms: f64,
    /// The environment it runs in: 0, 1, … in order of first use.
    pub environment: usize,
}

/// Replays `arrivals` under `settings`.
pub async fn run(arrivals: &[Arrival], settings: &Settings) -> Result<Measured, String> {
    let settings = Arc::new(settings.clone());
    let intake = CaptureIntake::start_remote(settings.network)
        .await
        .map_err(|e| format!("intake: {e}"))?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut slots: Vec<Slot> = Vec::new();
    let mut shutdowns = tokio::task::JoinSet::new();
    let mut out = Measured::default();
    let mut failure = None;
    let mut added: Vec<(u64, f64)> = Vec::new();
    let mut settle = |(i, env, seq, r): Done, slots: &mut Vec<Slot>| {
        match r {
            Ok(ms) => added.push((seq, ms)),
            Err(e) => failure = Some(e),
        }
        slots[i].gone |= env.is_none();
        slots[i].env = env;
    };
    let t0 = Instant::now();
    for (n, &a) in arrivals.iter().enumerate() {
        let at = t0 + Duration::from_secs_f64(a.at_ms.max(0.0) / 1000.0);
        tokio::time::sleep_until(at.into()).await;
        while let Ok(done) = done_rx.try_recv() {
            settle(done, &mut slots);
        }
        // Environments idle past the limit are reaped (their SHUTDOWN flushes what they hold).
        let now = Instant::now();
        for slot in &mut slots {
            let idle = slot
                .free_since()
                .is_some_and(|t| now.saturating_duration_since(t) > settings.idle_shutdown);
            if idle && let Some(env) = slot.env.take() {
                slot.gone = true;
                shutdowns.spawn(shut_down(env));
            }
        }
        let i = a.environment;
        while slots.len() <= i {
            slots.push(Slot {
                env: None,
                free_at: Arc::new(Mutex::new(None)),
                started: false,
                gone: false,
            });
        }
        if slots[i].gone {
            if let Some(e) = failure {
                return Err(e);
            }
            return Err(format!(
                "environment {i} was reaped in the replay but not in the model: invocation {n} has nowhere to run"
            ));
        }
        if slots[i].started && slots[i].env.is_none() {
            // Still busy here (or being frozen): the invocation waits for it.
            let busy = tandem::sync::lock(&slots[i].free_at).is_none_or(|t| t > now);
            while slots[i].env.is_none() && !slots[i].gone {
                let done = done_rx.recv().await.ok_or("an invocation task vanished")?;
                settle(done, &mut slots);
            }
            if busy {
                out.late_starts += 1;
            }
        }
        slots[i].started = true;
        let env = slots[i].env.take();
        *tandem::sync::lock(&slots[i].free_at) = None;
        let (tx, http, free_at) = (done_tx.clone(), http.clone(), slots[i].free_at.clone());
        let (settings, url) = (settings.clone(), intake.url());
        let (volume, seq) = (settings.volume, n as u64 + 1);
        tokio::spawn(async move {
            let env = match env {
                Some(env) => Ok(env),
                None => start_env(&settings, &url, free_at).await,
            };
            let done = match env {
                Ok(mut env) => {
                    let id = crate::request_id(seq);
                    let d = Duration::from_secs_f64(a.duration_ms.max(0.0) / 1000.0);
                    let r = invoke(&mut env, &id, d, volume, &http, seq).await;
                    (i, Some(env), seq, r)
                }
                Err(e) => (i, None, seq, Err(e)),
            };
            let _ = tx.send(done);
        });
    }
    drop(done_tx);
    while slots
        .iter()
        .any(|s| s.started && !s.gone && s.env.is_none())
    {
        let done = done_rx.recv().await.ok_or("an invocation task vanished")?;
        settle(done, &mut slots);
    }
    for slot in &mut slots {
        if let Some(env) = slot.env.take() {
            shutdowns.spawn(shut_down(env));
        }
    }
    while let Some(r) = shutdowns.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    out.environments = slots.len() as u64;
    added.sort_by_key(|(seq, _)| *seq);
    out.added_billed_ms = added.into_iter().map(|(_, ms)| ms).collect();
    let requests = intake.requests();
    out.requests = requests.len() as u64;
    for r in requests {
        *out.by_path.entry(r.path).or_default() += 1;
    }
    Ok(out)
}

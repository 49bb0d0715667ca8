//! The environment model `tandem tune` runs a strategy through: Lambda's execution
//! environments (one invocation at a time each; a new one when all are busy; idle ones frozen —
//! no timers run — and reaped after `idle_shutdown`, whose SHUTDOWN flushes what they hold),
//! each with its own copy of the extension's real `FlushPlanner` deciding when to flush. A
//! flush costs round trips × RTT (three on a cold connection: TCP, TLS 1.3, the request; one on
//! a live one), the bytes over the bandwidth and the extension's own work. As the extension
//! does, an invocation starting when the connection was idle 2/5 of the pool's bound (or never
//! opened) warms a new one while the function runs: ready 2 RTT later (TCP, TLS; HTTP/2 shares
//! it at once), so a flush after a function of 2 RTT or more pays one; it sends one request
//! per signal that has data, as the extension's shipper does (logs split at 1,000 entries). An
//! invocation's `platform.report` (its REPORT line, its report-based enhanced metrics) reaches
//! the extension only after the invocation, so it leaves with a later flush — at the latest the
//! SHUTDOWN's. `tandem-tune --validate` checks all of this against the real extension. Pure and
//! deterministic: a virtual clock.

use super::workload::Workload;
use crate::flush_planner::{AtStart, FlushPlanner};
use std::time::{Duration, Instant};
use tandem::config::FlushStrategy;

/// What the model assumes about the network and the data.
#[derive(Debug, Clone)]
pub struct Params {
    pub rtt_ms: f64,
    /// Megabits per second to the intake.
    pub bandwidth_mbps: f64,
    /// Idle time after which Lambda shuts an environment down.
    pub idle_shutdown_s: f64,
    /// A pooled connection idle longer than this is not reused (the extension's
    /// `TANDEM_INTAKE_IDLE_MS`): the next flush handshakes again, unless warming opened one.
    pub keepalive_s: f64,
    /// Log lines, DogStatsD metric points and spans the function produces per invocation.
    pub per_invocation: [f64; 3],
    /// The extension's own milliseconds per flush (taking, encoding, handling the answers).
    pub overhead_ms: f64,
    /// How long Lambda's Telemetry API holds `platform.runtimeDone` (the subscription's
    /// buffering): billed whenever the extension waits for it (the flush-at-end plans).
    pub telemetry_ms: f64,
    pub flush_timeout: Duration,
}

/// Compressed bytes per log line, metric point and span (zstd, typical Lambda payloads).
pub const BYTES_PER_ITEM: [f64; 3] = [60.0, 30.0, 120.0];
/// Log lines the platform adds per invocation before its end (START, END) and after (REPORT).
const PLATFORM_LINES: f64 = 2.0;
/// Compressed bytes of what a `platform.report` adds: the REPORT line, its enhanced metrics.
const REPORT_BYTES: f64 = 300.0;
/// Log entries per logs request (the extension's logs encoder).
const LOGS_PER_REQUEST: f64 = 1_000.0;
/// The extension's pool drops a connection idle for 50 s (`TANDEM_INTAKE_IDLE_MS`' default).
pub const CLIENT_IDLE_S: f64 = 50.0;
/// An invocation starting this share of `keepalive_s` after the connection's last use warms a
/// new one (the extension's intake/warm.rs).
const WARM_AFTER_SHARE: f64 = 0.4;
/// Measured: the extension's own time per `end` flush against a loopback intake, p50 of
/// `tandem-tune --profile steady:rate=5 --rtt-ms 0 --validate --validate-strategy end` on a
/// 2-core x86_64 machine (README "Tuning the flush strategy").
pub const OVERHEAD_MS: f64 = 5.0;

impl Default for Params {
    fn default() -> Self {
        Self {
            rtt_ms: 20.0,
            bandwidth_mbps: 100.0,
            idle_shutdown_s: 600.0,
            keepalive_s: CLIENT_IDLE_S,
            per_invocation: [10.0, 5.0, 10.0],
            overhead_ms: OVERHEAD_MS,
            telemetry_ms: tandem::lambda::client::TELEMETRY_TIMEOUT_MS as f64,
            flush_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Billed milliseconds the extension added, per invocation.
    pub added_billed_ms: Vec<f64>,
    /// Milliseconds from each invocation's end until its data reached the intake.
    pub delay_ms: Vec<f64>,
    pub flushes: u64,
    pub requests: u64,
    pub environments: u64,
    /// Most bytes held at once by environments between flushes (frozen while idle).
    pub peak_frozen_bytes: f64,
    pub span_s: f64,
    /// The first environment's invocations and flushes (for the report's timeline), bounded.
    pub timeline: Vec<Event>,
    /// The environment (creation order) each arrival ran in, in arrival order.
    pub placement: Vec<u32>,
}

/// Something the first environment did, in milliseconds from the workload's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub start_ms: f64,
    pub end_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Invocation,
    Flush,
    /// The environment was reaped (its SHUTDOWN flush follows).
    Shutdown,
}

/// Timeline events kept at most.
const TIMELINE: usize = 400;

struct Env {
    /// Creation order: the first one's events make the timeline.
    id: u64,
    busy_until: f64,
    planner: FlushPlanner,
    /// Invocation end times whose data is buffered, and their bytes.
    pending: Vec<f64>,
    pending_bytes: f64,
    /// Reports buffered (in `pending_bytes`), and reports not yet delivered by Lambda.
    pending_reports: u64,
    held_reports: u64,
    /// When the connection last carried a request (a flush's end, or warming's start).
    conn_used: Option<f64>,
    /// When the connection warming opened is ready for a flush (TCP and TLS done).
    conn_ready: f64,
    /// A background flush started during an invocation and cut by the freeze: its data and the
    /// work left (ms), finished at the next thaw.
    in_flight: Option<(Vec<f64>, f64)>,
}

fn note(out: &mut Outcome, env: &Env, kind: EventKind, start_ms: f64, end_ms: f64) {
    if env.id == 0 && out.timeline.len() < TIMELINE {
        out.timeline.push(Event {
            kind,
            start_ms,
            end_ms,
        });
    }
}

/// The virtual clock's instant `ms` after `base`. A workload's times come from outside (a CSV):
/// anything not finite or beyond a thousand years saturates instead of panicking.
fn instant(base: Instant, ms: f64) -> Instant {
    const MAX_S: f64 = 1000.0 * 365.25 * 86_400.0;
    let d = Duration::try_from_secs_f64((ms / 1000.0).clamp(0.0, MAX_S)).unwrap_or_default();
    base.checked_add(d).unwrap_or(base)
}

impl Env {
    fn has_data(&self) -> bool {
        !self.pending.is_empty() || self.pending_reports > 0
    }

    /// Lambda delivers the held reports (while the environment runs, or before SHUTDOWN).
    fn receive_reports(&mut self) {
        self.pending_reports += self.held_reports;
        self.pending_bytes += self.held_reports as f64 * REPORT_BYTES;
        self.held_reports = 0;
    }
}

impl Params {
    /// Compressed bytes one invocation's own data adds.
    pub fn bytes_per_invocation(&self) -> f64 {
        let platform = PLATFORM_LINES * BYTES_PER_ITEM[0];
        platform
            + self
                .per_invocation
                .iter()
                .zip(BYTES_PER_ITEM)
                .map(|(n, b)| n * b)
                .sum::<f64>()
    }

    fn flush_cost(&self, env: &Env, now: f64) -> f64 {
        let live = env
            .conn_used
            .is_some_and(|t| now - t <= self.keepalive_s * 1000.0);
        let cold = 3.0 * self.rtt_ms;
        // A connection still being warmed: the flush waits for it, or opens its own (never
        // more than a cold flush).
        let trips = if live {
            ((env.conn_ready - now).max(0.0) + self.rtt_ms).min(cold)
        } else {
            cold
        };
        let transfer = env.pending_bytes * 8.0 / (self.bandwidth_mbps * 1000.0);
        trips + transfer + self.overhead_ms
    }

    /// INVOKE: a connection idle past `WARM_AFTER_SHARE` of the bound (or none) is replaced
    /// in the background by one ready 2 RTT later.
    fn warm(&self, env: &mut Env, now: f64) {
        let warm_after = WARM_AFTER_SHARE * self.keepalive_s * 1000.0;
        if env.conn_used.is_none_or(|t| now - t >= warm_after) {
            env.conn_used = Some(now);
            env.conn_ready = now + 2.0 * self.rtt_ms;
        }
    }

    /// The requests a flush of what `env` holds sends: logs (split at 1,000 entries) and the
    /// enhanced metrics' sketches whenever anything is held; DogStatsD series and traces when
    /// an invocation's own data is.
    fn requests(&self, env: &Env) -> u64 {
        if !env.has_data() {
            return 0;
        }
        let invocations = env.pending.len() as f64;
        let entries =
            invocations * (self.per_invocation[0] + PLATFORM_LINES) + env.pending_reports as f64;
        let logs = (entries / LOGS_PER_REQUEST).ceil().max(1.0) as u64;
        let own = |n: f64| u64::from(invocations > 0.0 && n > 0.0);
        logs + 1 + own(self.per_invocation[1]) + own(self.per_invocation[2])
    }
}

/// Runs `workload` through `strategy` under `params`.
pub fn run(workload: &Workload, strategy: FlushStrategy, params: &Params) -> Outcome {
    let base = Instant::now();
    let per_inv = params.bytes_per_invocation();
    let mut envs: Vec<Env> = Vec::new();
    let mut out = Outcome {
        span_s: workload.span_s(),
        ..Outcome::default()
    };
    let mut frozen_bytes = 0.0f64;
    // Delivers what `env` holds with a flush from `start` taking `cost`.
    let deliver = |env: &mut Env, start: f64, cost: f64, out: &mut Outcome| {
        note(out, env, EventKind::Flush, start, start + cost);
        out.flushes += 1;
        out.requests += params.requests(env);
        for end in env.pending.drain(..) {
            out.delay_ms.push(start + cost - end);
        }
        env.pending_bytes = 0.0;
        env.pending_reports = 0;
        env.conn_used = Some(start + cost);
    };
    for a in &workload.arrivals {
        let now = a.at_ms;
        // Reap environments idle past the limit: SHUTDOWN flushes what they hold.
        let limit = params.idle_shutdown_s * 1000.0;
        envs.retain_mut(|e| {
            if now - e.busy_until <= limit {
                return true;
            }
            let at = e.busy_until + limit;
            note(&mut out, e, EventKind::Shutdown, at, at);
            if let Some((ends, left)) = e.in_flight.take() {
                for end in ends {
                    out.delay_ms.push(at + left - end);
                }
            }
            e.receive_reports();
            let cost = params.flush_cost(e, at);
            if e.has_data() {
                deliver(e, at, cost, &mut out);
            }
            false
        });
        // The idle environment that waited longest takes it: Lambda spreads steady traffic over
        // its warm environments (an assumption: AWS does not document its placement).
        let idle = envs
            .iter_mut()
            .filter(|e| e.busy_until <= now)
            .min_by(|x, y| x.busy_until.total_cmp(&y.busy_until));
        let env = match idle {
            Some(e) => e,
            None => {
                out.environments += 1;
                envs.push(Env {
                    id: out.environments - 1,
                    busy_until: now,
                    planner: FlushPlanner::new(strategy, params.flush_timeout, instant(base, now)),
                    pending: Vec::new(),
                    pending_bytes: 0.0,
                    pending_reports: 0,
                    held_reports: 0,
                    conn_used: None,
                    conn_ready: 0.0,
                    in_flight: None,
                });
                let last = envs.len() - 1;
                &mut envs[last]
            }
        };
        // Thawed: a background flush cut by the freeze finishes now.
        if let Some((ends, left)) = env.in_flight.take() {
            for end in ends {
                out.delay_ms.push(now + left - end);
            }
            env.conn_used = Some(now + left);
        }
        params.warm(env, now);
        let end = now + a.duration_ms;
        note(&mut out, env, EventKind::Invocation, now, end);
        out.placement
            .push(u32::try_from(env.id).unwrap_or(u32::MAX));
        let mut busy_until = end;
        match env.planner.on_invocation_start(instant(base, now)) {
            AtStart::Nothing => {}
            AtStart::FlushBlocking => {
                // Beside the function: the environment is busy until both are done.
                let cost = params.flush_cost(env, now);
                deliver(env, now, cost, &mut out);
                env.planner.record_flush(instant(base, now + cost));
                busy_until = busy_until.max(now + cost);
            }
            AtStart::FlushInBackground => {
                let cost = params.flush_cost(env, now);
                env.planner.record_flush(instant(base, now));
                if now + cost <= end {
                    deliver(env, now, cost, &mut out);
                } else {
                    // The freeze at the invocation's end cuts it; the rest runs at the thaw.
                    note(&mut out, env, EventKind::Flush, now, end);
                    out.flushes += 1;
                    out.requests += params.requests(env);
                    let ends = std::mem::take(&mut env.pending);
                    env.pending_bytes = 0.0;
                    env.pending_reports = 0;
                    env.in_flight = Some((ends, now + cost - end));
                }
            }
        }
        // The previous invocation's report arrived while this one ran.
        env.receive_reports();
        env.pending.push(end);
        env.pending_bytes += per_inv;
        if env.planner.may_flush_at_end() {
            // The extension holds `/next` until Lambda delivers runtimeDone.
            let seen = end + params.telemetry_ms;
            busy_until = busy_until.max(seen);
            if env.planner.flush_at_end(instant(base, seen)) {
                let cost = params.flush_cost(env, seen);
                deliver(env, seen, cost, &mut out);
                env.planner.record_flush(instant(base, seen + cost));
                busy_until = busy_until.max(seen + cost);
            }
        }
        out.added_billed_ms.push(busy_until - end);
        env.busy_until = busy_until;
        env.held_reports += 1;
        let held: f64 = envs.iter().map(|e| e.pending_bytes).sum();
        frozen_bytes = frozen_bytes.max(held);
    }
    // The end of the workload: every environment is eventually reaped.
    let limit = params.idle_shutdown_s * 1000.0;
    for e in &mut envs {
        let at = e.busy_until + limit;
        if let Some((ends, left)) = e.in_flight.take() {
            for end in ends {
                out.delay_ms.push(at + left - end);
            }
        }
        e.receive_reports();
        if e.has_data() {
            let cost = params.flush_cost(e, at);
            deliver(e, at, cost, &mut out);
        }
    }
    out.peak_frozen_bytes = frozen_bytes;
    out
}

#[cfg(test)]
mod tests;

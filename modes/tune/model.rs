//! The environment model `tandem tune` runs a strategy through: Lambda's execution
//! environments (one invocation at a time each; a new one when all are busy; idle ones frozen —
//! no timers run — and reaped after `idle_shutdown`, whose SHUTDOWN flushes what they hold),
//! each with its own copy of the extension's real `FlushPlanner` deciding when to flush. A
//! flush costs round trips × RTT (three on a cold connection: TCP, TLS 1.3, the request; one on
//! a warm one) plus the bytes over the bandwidth. Pure and deterministic: a virtual clock.

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
    /// A pooled connection older than this (idle) is gone: the next flush handshakes again.
    pub keepalive_s: f64,
    /// Compressed bytes each invocation adds, per signal.
    pub bytes_per_invocation: [f64; 3],
    pub flush_timeout: Duration,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            rtt_ms: 20.0,
            bandwidth_mbps: 100.0,
            idle_shutdown_s: 600.0,
            keepalive_s: 60.0,
            // 10 log lines, 5 metric points, 10 spans, compressed.
            bytes_per_invocation: [600.0, 150.0, 1_200.0],
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
    last_flush_end: Option<f64>,
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

impl Params {
    fn flush_cost(&self, env: &Env, now: f64) -> f64 {
        let cold = env
            .last_flush_end
            .is_none_or(|t| now - t > self.keepalive_s * 1000.0);
        let trips = if cold { 3.0 } else { 1.0 };
        let transfer = env.pending_bytes * 8.0 / (self.bandwidth_mbps * 1000.0);
        trips * self.rtt_ms + transfer
    }

    fn requests(&self, env: &Env) -> u64 {
        if env.pending.is_empty() {
            0
        } else {
            self.bytes_per_invocation
                .iter()
                .filter(|b| **b > 0.0)
                .count() as u64
        }
    }
}

/// Runs `workload` through `strategy` under `params`.
pub fn run(workload: &Workload, strategy: FlushStrategy, params: &Params) -> Outcome {
    let base = Instant::now();
    let per_inv: f64 = params.bytes_per_invocation.iter().sum();
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
        env.last_flush_end = Some(start + cost);
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
            let cost = params.flush_cost(e, at);
            if !e.pending.is_empty() {
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
                    last_flush_end: None,
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
            env.last_flush_end = Some(now + left);
        }
        let end = now + a.duration_ms;
        note(&mut out, env, EventKind::Invocation, now, end);
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
                    env.in_flight = Some((ends, now + cost - end));
                }
            }
        }
        env.pending.push(end);
        env.pending_bytes += per_inv;
        if env.planner.may_flush_at_end() && env.planner.flush_at_end(instant(base, end)) {
            let cost = params.flush_cost(env, end);
            deliver(env, end, cost, &mut out);
            env.planner.record_flush(instant(base, end + cost));
            busy_until = busy_until.max(end + cost);
        }
        out.added_billed_ms.push(busy_until - end);
        env.busy_until = busy_until;
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
        if !e.pending.is_empty() {
            let cost = params.flush_cost(e, at);
            deliver(e, at, cost, &mut out);
        }
    }
    out.peak_frozen_bytes = frozen_bytes;
    out
}

#[cfg(test)]
mod tests;

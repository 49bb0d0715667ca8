//! `--validate`: the model checked against the real thing. The first minutes of the workload
//! are replayed through the real extension binary (the kit's `replay`: one process per
//! environment on the simulator, frozen between invocations, shipping to an intake that answers
//! from the modelled round trip), and the model runs the same slice; predicted and measured
//! added billed time and intake requests are printed side by side.

use serde::Serialize;
use std::time::Duration;
use tandem_modes::tune::{model, workload::Workload};
use tandem_testkit::intake::Network;
use tandem_testkit::replay::{self, Volume};

/// The agreement `tandem-tune` promises (README "Tuning the flush strategy").
pub(crate) const TOLERANCE: f64 = 0.10;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comparison {
    pub(crate) strategy: String,
    pub(crate) invocations: usize,
    pub(crate) model_added_billed_ms: f64,
    pub(crate) measured_added_billed_ms: f64,
    /// (model − measured) / max(measured, 1 ms).
    pub(crate) added_billed_error: f64,
    pub(crate) model_requests: u64,
    pub(crate) measured_requests: u64,
    pub(crate) requests_error: f64,
    pub(crate) measured_requests_by_path: std::collections::BTreeMap<String, u64>,
    /// Invocations whose environment (the model's placement) was still busy in the replay.
    pub(crate) late_starts: u64,
    pub(crate) model_environments: u64,
    pub(crate) measured_environments: u64,
    pub(crate) within_tolerance: bool,
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// (model − measured) / measured; a measured figure under 1 (ms, or request) counts as 1, so a
/// strategy that adds nothing is not failed by a fraction of a millisecond of scheduling noise.
fn error(model: f64, measured: f64) -> f64 {
    (model - measured) / measured.max(1.0)
}

/// How long the replay's intake keeps an idle connection: `--keepalive-s` when that is shorter
/// than the extension's own pool limit (the intake or a NAT is what closes it), else past the
/// pool limit (the extension drops it first, as the model says).
fn idle_close(keepalive_s: f64) -> Duration {
    let s = if keepalive_s < model::CLIENT_IDLE_S {
        keepalive_s
    } else {
        keepalive_s + 60.0
    };
    Duration::try_from_secs_f64(s.clamp(0.001, 86_400.0)).unwrap_or(Duration::from_secs(150))
}

/// The arrivals of `w` in its first `minutes`.
pub(crate) fn slice(w: &Workload, minutes: f64) -> Workload {
    let limit = minutes * 60_000.0;
    Workload {
        arrivals: w
            .arrivals
            .iter()
            .filter(|a| a.at_ms < limit)
            .cloned()
            .collect(),
        ..Workload::default()
    }
}

/// Replays `w` (already sliced) under each strategy, one after the other (so the replays do not
/// compete for the machine's cores), and compares with the model.
pub(crate) async fn run(
    w: &Workload,
    strategies: &[String],
    params: &model::Params,
    volume: Volume,
) -> Result<Vec<Comparison>, String> {
    let binary = tandem_testkit::process::agent_binary()?;
    if !binary.is_file() {
        return Err(format!("{}: no extension binary there", binary.display()));
    }
    let mut out = Vec::new();
    for name in strategies {
        let strategy = tandem::config::flush_strategy::parse(name)
            .map_err(|e| format!("--validate-strategy {name:?}: {e}"))?;
        let predicted = model::run(w, strategy, params);
        let arrivals: Vec<replay::Arrival> = w
            .arrivals
            .iter()
            .zip(&predicted.placement)
            .map(|(a, env)| replay::Arrival {
                at_ms: a.at_ms,
                duration_ms: a.duration_ms,
                environment: *env as usize,
            })
            .collect();
        let settings = replay::Settings {
            binary: binary.clone(),
            strategy: name.clone(),
            network: Network {
                rtt: Duration::from_secs_f64(params.rtt_ms / 1000.0),
                bytes_per_s: params.bandwidth_mbps * 125_000.0,
                idle_close: idle_close(params.keepalive_s),
            },
            idle_shutdown: Duration::from_secs_f64(params.idle_shutdown_s),
            flush_timeout_s: params.flush_timeout.as_secs().max(1),
            volume,
        };
        let measured = replay::run(&arrivals, &settings).await?;
        let (pm, mm) = (
            mean(&predicted.added_billed_ms),
            mean(&measured.added_billed_ms),
        );
        let (be, re) = (
            error(pm, mm),
            error(predicted.requests as f64, measured.requests as f64),
        );
        out.push(Comparison {
            strategy: name.clone(),
            invocations: measured.added_billed_ms.len(),
            model_added_billed_ms: pm,
            measured_added_billed_ms: mm,
            added_billed_error: be,
            model_requests: predicted.requests,
            measured_requests: measured.requests,
            requests_error: re,
            measured_requests_by_path: measured.by_path,
            late_starts: measured.late_starts,
            model_environments: predicted.environments,
            measured_environments: measured.environments,
            within_tolerance: be.abs() <= TOLERANCE && re.abs() <= TOLERANCE,
        });
    }
    Ok(out)
}

/// The side-by-side table.
pub(crate) fn table(rows: &[Comparison]) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{:<20} {:>34}   {:>26}   {:>13}\n{:<20} {:>10} {:>10} {:>12}   {:>7} {:>8} {:>9}   {:>6} {:>6}\n",
        "",
        "added billed ms per invocation",
        "intake requests",
        "environments (late)",
        "strategy",
        "model",
        "measured",
        "error",
        "model",
        "measured",
        "error",
        "model",
        "real"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<20} {:>10.1} {:>10.1} {:>+11.1}%   {:>7} {:>8} {:>+8.1}%   {:>6} {:>6} ({})",
            r.strategy,
            r.model_added_billed_ms,
            r.measured_added_billed_ms,
            r.added_billed_error * 100.0,
            r.model_requests,
            r.measured_requests,
            r.requests_error * 100.0,
            r.model_environments,
            r.measured_environments,
            r.late_starts
        );
    }
    s
}

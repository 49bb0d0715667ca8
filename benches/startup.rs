//! Start-up, memory, size and post-runtime benchmark of the real release binary against the
//! loopback platform simulator and capture intake. A bench binary (not a test): it measures
//! and prints; it asserts nothing. Run with `cargo bench --bench startup`.
//!
//! - time from process spawn to the first `/event/next` (init done, telemetry subscribed);
//! - resident memory (VmRSS) right after init;
//! - size of the binary;
//! - on-demand `end` strategy: a small invocation's post-runtime time, from the runtimeDone
//!   batch being sent to the extension to the extension's next `/event/next` (the flush to the
//!   loopback intake happens in between), over pooled connections;
//! - the same post-runtime time of a stand-in extension that does no work (`startup/floor.rs`),
//!   run interleaved with Tandem's: the cost of the hops alone on this machine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const RUNS: usize = 15;
const INVOCATIONS: usize = 50;
const T: Duration = Duration::from_secs(10);

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Time the host ran others on this VM's vCPUs (`steal` of `/proc/stat`), in ms: a bench
/// taken while the host is contended measures the neighbours as much as the extension.
fn steal_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or_default();
    cpu.split_whitespace()
        .nth(8)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        * 10.0
}

fn rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[path = "startup/floor.rs"]
mod floor;

/// One run of a binary (start, `INVOCATIONS` invocations, shutdown): spawn → first `/next`,
/// RSS after init, and the medians of its post-runtime times (runtimeDone sent → `/next`,
/// runtimeDone answered → `/next`).
#[derive(Default)]
struct Runs {
    first_next: Vec<f64>,
    rss: Vec<f64>,
    sent: Vec<f64>,
    answered: Vec<f64>,
    /// The intake requests of the run's last invocation: (path, body bytes).
    requests: Vec<(String, usize)>,
}

async fn run_once(binary: &Path, env: &[(&str, &str)], out: &mut Runs) {
    let mut h = Harness::start(binary, SimMode::OnDemand, TelemetryAnswer::Accept, env)
        .await
        .expect("harness");
    let started = h.agent.started;
    out.first_next.push(
        h.platform.next_calls()[0]
            .duration_since(started)
            .as_secs_f64()
            * 1e3,
    );
    if let Some(kib) = h.agent.pid().and_then(rss_kib) {
        out.rss.push(kib / 1024.0);
    }
    let mut sent = Vec::new();
    let mut answered = Vec::new();
    let mut last_runtime_done = std::time::Instant::now();
    for n in 0..INVOCATIONS {
        let id = request_id((out.sent.len() * INVOCATIONS + n) as u64);
        let logs = vec![
            ev::function_text("small invocation log line"),
            ev::function_json(serde_json::json!({"level":"INFO","n":n})),
        ];
        let t = h.platform.invoke(&id, logs, T).await.expect("invocation");
        last_runtime_done = t.runtime_done_sent;
        sent.push(
            t.next_called
                .saturating_duration_since(t.runtime_done_sent)
                .as_secs_f64()
                * 1e3,
        );
        answered.push(
            t.next_called
                .saturating_duration_since(t.runtime_done_delivered)
                .as_secs_f64()
                * 1e3,
        );
    }
    // What the last invocation's flush sent (the floor makes the same requests).
    out.requests = h
        .intake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.received_at >= last_runtime_done)
        .map(|r| (r.path.clone(), r.body.len()))
        .collect();
    // Skip the first invocation of each run: it opens the intake connection.
    out.sent.push(median(&mut sent[1..]));
    out.answered.push(median(&mut answered[1..]));
    h.shutdown(Duration::from_secs(2)).await.expect("shutdown");
}

fn main() {
    if std::env::var_os("TANDEM_BENCH_FLOOR").is_some() {
        if let Err(e) = floor::run() {
            eprintln!("floor stand-in: {e}");
            std::process::exit(1);
        }
        return;
    }
    // TANDEM_BENCH_BINARY compares another build (e.g. an older commit) on the same machine.
    let override_bin = std::env::var("TANDEM_BENCH_BINARY").ok();
    let binary = Path::new(
        override_bin
            .as_deref()
            .unwrap_or(env!("CARGO_BIN_EXE_tandem")),
    );
    let runs = std::env::var("TANDEM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS);
    let rt = tandem::runtime().expect("runtime");
    rt.block_on(async {
        // Extra agent settings for experiments: TANDEM_BENCH_ENV="K=V,K2=V2".
        let extra = std::env::var("TANDEM_BENCH_ENV").unwrap_or_default();
        let mut env: Vec<(&str, &str)> = vec![("DD_SERVERLESS_FLUSH_STRATEGY", "end"), ("DD_LOG_LEVEL", "warn")];
        env.extend(extra.split(',').filter_map(|kv| kv.split_once('=')));
        // Interleaved, so that both see the same state of the machine.
        let mut tandem = Runs::default();
        let mut floor = Runs::default();
        let me = std::env::current_exe().expect("own executable");
        let (wall, steal) = (std::time::Instant::now(), steal_ms());
        for _ in 0..runs {
            run_once(binary, &env, &mut tandem).await;
            let same: Vec<String> = tandem.requests.iter().map(|(path, bytes)| format!("{path}={bytes}")).collect();
            let same = same.join(",");
            run_once(&me, &[("TANDEM_BENCH_FLOOR", "1"), ("TANDEM_BENCH_FLOOR_REQUESTS", &same)], &mut floor).await;
        }
        let (wall, steal) = (wall.elapsed().as_secs_f64() * 1e3, steal_ms() - steal);
        let made: Vec<String> = tandem.requests.iter().map(|(path, bytes)| format!("{path} {bytes} B")).collect();
        // Per run, Tandem minus the floor run beside it.
        let mut share: Vec<f64> = tandem.sent.iter().zip(&floor.sent).map(|(t, f)| t - f).collect();
        let Runs { mut first_next, mut rss, mut sent, mut answered, .. } = tandem;
        let size = std::fs::metadata(binary).map(|m| m.len() as f64 / 1_048_576.0).unwrap_or(f64::NAN);
        println!("tandem startup bench: {runs} runs, {INVOCATIONS} invocations each, binary {}", binary.display());
        println!("  spawn → first /event/next      median {:.2} ms  (min {:.2}, max {:.2})", median(&mut first_next), min(&first_next), max(&first_next));
        println!("  resident memory after init     median {:.2} MiB (min {:.2}, max {:.2})", median(&mut rss), min(&rss), max(&rss));
        println!("  binary size                    {size:.2} MiB");
        println!("  host steal during the runs     {steal:.0} ms over {wall:.0} ms of wall time (all vCPUs)");
        println!("  post-runtime, runtimeDone sent → /next       median of run medians {:.2} ms (max {:.2})", median(&mut sent), max(&sent));
        println!("  post-runtime, runtimeDone answered → /next   median of run medians {:.2} ms (max {:.2})", median(&mut answered), max(&answered));
        println!("  floor (a stand-in doing no work: telemetry answered, Tandem's requests side by side: {}, /next)", made.join(", "));
        println!("    runtimeDone sent → /next                   median of run medians {:.2} ms (max {:.2})", median(&mut floor.sent), max(&floor.sent));
        println!("    runtimeDone answered → /next               median of run medians {:.2} ms (max {:.2})", median(&mut floor.answered), max(&floor.answered));
        println!("  Tandem's own share (sent → /next, Tandem − floor per run)  median {:.2} ms (max {:.2})", median(&mut share), max(&share));
    });
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

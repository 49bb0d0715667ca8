//! Start-up, memory, size and post-runtime benchmark of the real release binary against the
//! loopback platform simulator and capture intake. A bench binary (not a test): it measures
//! and prints; it asserts nothing. Run with `cargo bench --bench startup`.
//!
//! - time from process spawn to the first `/event/next` (init done, telemetry subscribed);
//! - resident memory (VmRSS) right after init;
//! - size of the binary;
//! - on-demand `end` strategy: a small invocation's post-runtime time, from the runtimeDone
//!   batch being sent to the extension to the extension's next `/event/next` (the flush to the
//!   loopback intake happens in between), over pooled connections.

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

fn rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // TANDEM_BENCH_BINARY compares another build (e.g. an older commit) on the same machine.
    let override_bin = std::env::var("TANDEM_BENCH_BINARY").ok();
    let binary = Path::new(
        override_bin
            .as_deref()
            .unwrap_or(env!("CARGO_BIN_EXE_tandem")),
    );
    let rt = tandem::runtime().expect("runtime");
    rt.block_on(async {
        let mut first_next = Vec::new();
        let mut rss = Vec::new();
        let mut post_runtime_sent = Vec::new();
        let mut post_runtime_delivered = Vec::new();
        // Extra agent settings for experiments: TANDEM_BENCH_ENV="K=V,K2=V2".
        let extra = std::env::var("TANDEM_BENCH_ENV").unwrap_or_default();
        let mut env: Vec<(&str, &str)> = vec![("DD_SERVERLESS_FLUSH_STRATEGY", "end"), ("DD_LOG_LEVEL", "warn")];
        env.extend(extra.split(',').filter_map(|kv| kv.split_once('=')));
        for run in 0..RUNS {
            let mut h = Harness::start(binary, SimMode::OnDemand, TelemetryAnswer::Accept, &env)
                .await
                .expect("harness");
            let started = h.agent.started;
            first_next.push(h.platform.next_calls()[0].duration_since(started).as_secs_f64() * 1e3);
            if let Some(kib) = h.agent.pid().and_then(rss_kib) {
                rss.push(kib / 1024.0);
            }
            let mut sent = Vec::new();
            let mut delivered = Vec::new();
            for n in 0..INVOCATIONS {
                let id = request_id((run * INVOCATIONS + n) as u64);
                let logs = vec![ev::function_text("small invocation log line"), ev::function_json(serde_json::json!({"level":"INFO","n":n}))];
                let t = h.platform.invoke(&id, logs, T).await.expect("invocation");
                sent.push(t.next_called.saturating_duration_since(t.runtime_done_sent).as_secs_f64() * 1e3);
                delivered.push(t.next_called.saturating_duration_since(t.runtime_done_delivered).as_secs_f64() * 1e3);
            }
            // Skip the first invocation of each run: it opens the intake connection.
            post_runtime_sent.push(median(&mut sent[1..]));
            post_runtime_delivered.push(median(&mut delivered[1..]));
            h.shutdown(Duration::from_secs(2)).await.expect("shutdown");
        }
        let size = std::fs::metadata(binary).map(|m| m.len() as f64 / 1_048_576.0).unwrap_or(f64::NAN);
        println!("tandem startup bench: {RUNS} runs, {INVOCATIONS} invocations each, binary {}", binary.display());
        println!("  spawn → first /event/next      median {:.2} ms  (min {:.2}, max {:.2})", median(&mut first_next.clone()), min(&first_next), max(&first_next));
        println!("  resident memory after init     median {:.2} MiB (min {:.2}, max {:.2})", median(&mut rss.clone()), min(&rss), max(&rss));
        println!("  binary size                    {size:.2} MiB");
        println!("  post-runtime, runtimeDone sent → /next       median of run medians {:.2} ms (max {:.2})", median(&mut post_runtime_sent.clone()), max(&post_runtime_sent));
        println!("  post-runtime, runtimeDone answered → /next   median of run medians {:.2} ms (max {:.2})", median(&mut post_runtime_delivered.clone()), max(&post_runtime_delivered));
    });
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

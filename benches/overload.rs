//! Overload benchmarks (a bench binary; it measures and prints, it asserts nothing).
//! Run with `cargo bench --bench overload`: each flood of issue 11 against the extension as built
//! for release, with default settings — how fast the flood went in, and the extension's peak
//! RSS (`VmHWM`, which it logs at shutdown). `tests/overload.rs` asserts the bounds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::{Duration, Instant};
use tandem_testkit::events as ev;
use tandem_testkit::floods;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(60);

async fn start() -> Harness {
    Harness::start(
        Path::new(env!("CARGO_BIN_EXE_tandem")),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_LOG_LEVEL", "info"),
        ],
    )
    .await
    .unwrap()
}

/// Ends the run and prints the flood's figures.
async fn report(mut h: Harness, what: &str, items: f64, unit: &str, took: Duration) {
    h.platform
        .invoke(&request_id(999_999), vec![ev::function_text("end")], T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(5)).await.unwrap();
    let peak = tandem_testkit::process::peak_kib(&h.agent.stderr()).unwrap_or(0);
    println!(
        "{what}: {:.0} k {unit}/s in, peak RSS {:.1} MiB",
        items / took.as_secs_f64() / 1e3,
        peak as f64 / 1024.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--test") {
        return; // `cargo test --benches` compiles this; measuring is for `cargo bench`.
    }
    let h = start().await;
    let agent = h.agent.trace_agent_addr(T).await.unwrap();
    let started = Instant::now();
    let refused = floods::spans(agent, 50, async |_| {}).await;
    let took = started.elapsed();
    let spans = (50 - refused) * floods::SPANS_PER_REQUEST;
    report(h, "500k spans (50 requests)", spans as f64, "spans", took).await;

    let h = start().await;
    let statsd = h.agent.dogstatsd_addr(T).await.unwrap();
    let started = Instant::now();
    floods::metric_contexts(statsd, 1_000_000).unwrap();
    let took = started.elapsed();
    report(h, "1M metric contexts", 1e6, "lines sent", took).await;

    let h = start().await;
    let started = Instant::now();
    floods::logs_in_one_invocation(&h.platform, &request_id(1), 200_000, 1_000, T)
        .await
        .unwrap();
    let took = started.elapsed();
    report(
        h,
        "200 MB of logs, one invocation",
        200_000.0,
        "lines",
        took,
    )
    .await;
}

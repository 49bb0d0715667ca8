//! What a flush costs an invocation when the intake is far away: the real release binary on the
//! simulator, shipping over TLS (a private CA through `DD_TLS_CERT_FILE`) to the capture intake
//! behind the test kit's latency proxy. For each round-trip time it reports the post-runtime
//! time (runtimeDone sent → `/next`) of an environment's first flush, of warm flushes, and of
//! flushes after the environment idled past the network's idle limit (the proxy resets such
//! flows, as a NAT gateway does): once with the pool's idle bound below that limit (as
//! 50 s is below a NAT's 350 s: the pool lets the connection go first), once above it (warming
//! meets the reset), with the connections and resets the proxy saw. Each function runs
//! 3 RTT + 10 ms (the connection warmed at INVOKE is ready by its end). Issue 16's before/after.
//! Measures and prints; asserts nothing. `cargo bench --bench flush_cost`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::time::Duration;
use tandem_testkit::intake::CaptureIntake;
use tandem_testkit::latency::LatencyProxy;
use tandem_testkit::platform::{Platform, SimMode, TelemetryAnswer};
use tandem_testkit::process::{AgentProcess, lambda_env};
use tandem_testkit::{events as ev, request_id};

const INVOCATIONS: usize = 12;
const T: Duration = Duration::from_secs(30);
/// Idle past this, the proxy resets a connection when it is next used.
const RESET_IDLE: Duration = Duration::from_millis(800);

/// The network between invocations.
#[derive(Clone, Copy)]
enum Network {
    /// Nothing is dropped; invocations follow one another.
    Steady,
    /// Flows idle past `RESET_IDLE` are reset; the pool's bound (`TANDEM_INTAKE_IDLE_MS`) is
    /// this many ms; the environment idles past both before each invocation.
    Resets { pool_idle_ms: u64 },
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One environment: `INVOCATIONS` small invocations; returns the first flush's post-runtime
/// ms, the median of the others, and the connections opened and resets met while the flushes
/// were waited for (runtimeDone → `/next`: each is round trips beyond the request's one).
async fn environment(
    binary: &std::path::Path,
    ca: &std::path::Path,
    intake: &CaptureIntake,
    rtt: Duration,
    strategy: &str,
    network: Network,
) -> (f64, f64, (usize, usize)) {
    let upstream = intake.url().trim_start_matches("https://").parse().unwrap();
    let (reset_idle, pool_idle_ms) = match network {
        Network::Steady => (None, 50_000),
        Network::Resets { pool_idle_ms } => (Some(RESET_IDLE), pool_idle_ms),
    };
    let proxy = LatencyProxy::start(upstream, rtt, reset_idle)
        .await
        .unwrap();
    let pool_idle_ms = pool_idle_ms.to_string();
    let url = format!("https://{}", proxy.addr());
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let mut env = lambda_env(&platform.runtime_api(), &url, false);
    env.retain(|(k, _)| k != "DD_LOG_LEVEL");
    for (k, v) in [
        ("DD_LOG_LEVEL", "warn"),
        ("DD_SERVERLESS_FLUSH_STRATEGY", strategy),
        ("DD_TLS_CERT_FILE", ca.to_str().unwrap()),
        ("TANDEM_INTAKE_IDLE_MS", pool_idle_ms.as_str()),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let mut agent = AgentProcess::spawn(binary, &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    let mut post = Vec::new();
    let mut windows = Vec::new();
    for n in 0..INVOCATIONS {
        if reset_idle.is_some() && n > 0 {
            // The environment idles past the proxy's limit: the property under measurement.
            tokio::time::sleep(RESET_IDLE + Duration::from_millis(100)).await;
        }
        let id = request_id(n as u64);
        let before = platform.begin_invoke(&id, T).await.unwrap();
        platform.emit([ev::function_text("a small invocation's log line")]);
        // The function runs 3 round trips and 10 ms: long enough for the connection warmed
        // at INVOKE to be ready for the flush after it.
        tokio::time::sleep(rtt * 3 + Duration::from_millis(10)).await;
        let t = platform
            .finish_invoke(&id, before, Default::default(), T)
            .await
            .unwrap();
        windows.push((t.runtime_done_sent, t.next_called));
        post.push(
            t.next_called
                .saturating_duration_since(t.runtime_done_sent)
                .as_secs_f64()
                * 1e3,
        );
    }
    platform.send_shutdown(Duration::from_secs(2));
    let _ = agent.wait_exit(T).await;
    let s = proxy.stats();
    let on_path = windows
        .iter()
        .map(|&(from, to)| s.within(from, to))
        .fold((0, 0), |(c, r), (dc, dr)| (c + dc, r + dr));
    let first = post[0];
    (first, median(&mut post[1..]), on_path)
}

/// The pool's idle bound below the network's limit (and above 3/5 of the longest function, so
/// the connection warmed at INVOKE outlives the run), and above it.
const BELOW: u64 = 700;
const ABOVE: u64 = 1_500;

fn main() {
    let binary = tandem_testkit::process::release_extension();
    let dir = std::env::temp_dir().join(format!("tandem-flush-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certs = tandem_testkit::certs::make(&dir).unwrap();
    let rt = tandem::runtime().expect("runtime");
    rt.block_on(async {
        let intake = CaptureIntake::start_tls(&certs.leaf, &certs.key)
            .await
            .unwrap();
        println!(
            "tandem flush-cost bench: post-runtime ms (runtimeDone sent → /next), TLS intake behind a latency proxy, {INVOCATIONS} invocations per environment"
        );
        println!(
            "after idle: the proxy resets flows idle {} ms; pool bound below it = {BELOW} ms, above it = {ABOVE} ms",
            RESET_IDLE.as_millis()
        );
        println!(
            "Nc/Mr: connections opened / resets met while flushes were waited for, over {INVOCATIONS} flushes"
        );
        println!(
            "{:>6} {:>9} {:>9} {:>9} {:>19} {:>19}",
            "RTT", "strategy", "first", "warm p50", "idle, bound below", "idle, bound above"
        );
        for rtt_ms in [0u64, 10, 40, 100] {
            let rtt = Duration::from_millis(rtt_ms);
            for strategy in ["end", "default"] {
                let run = |network| environment(binary, &certs.ca, &intake, rtt, strategy, network);
                let (first, warm, _) = run(Network::Steady).await;
                let below = run(Network::Resets { pool_idle_ms: BELOW }).await;
                let above = run(Network::Resets { pool_idle_ms: ABOVE }).await;
                let cell = |(_, p50, (c, r)): (f64, f64, (usize, usize))| {
                    format!("{p50:.1} ms {c}c/{r}r")
                };
                println!(
                    "{:>4} ms {strategy:>9} {first:>6.1} ms {warm:>6.1} ms {:>19} {:>19}",
                    rtt_ms,
                    cell(below),
                    cell(above),
                );
            }
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

//! What a flush costs an invocation when the intake is far away: the real release binary on the
//! simulator, shipping over TLS (a private CA through `DD_TLS_CERT_FILE`) to the capture intake
//! behind the test kit's latency proxy. For each round-trip time it reports the post-runtime
//! time (runtimeDone sent → `/next`) of an environment's first flush, of warm flushes, and of
//! flushes whose pooled connections the network reset while the environment was idle (a NAT
//! gateway's idle timeout), with the connections the proxy saw. Each function runs 3 RTT + 10 ms
//! (the connection warmed at INVOKE is ready by its end). Issue 16's before/after.
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
const RESET_IDLE: Duration = Duration::from_millis(300);

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One environment: `INVOCATIONS` small invocations; returns the first flush's post-runtime
/// ms, the median of the others, and the proxy's (connections, resets).
async fn environment(
    binary: &std::path::Path,
    ca: &std::path::Path,
    intake: &CaptureIntake,
    rtt: Duration,
    strategy: &str,
    resets: bool,
) -> (f64, f64, (u64, u64)) {
    let upstream = intake.url().trim_start_matches("https://").parse().unwrap();
    let proxy = LatencyProxy::start(upstream, rtt, resets.then_some(RESET_IDLE))
        .await
        .unwrap();
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
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let mut agent = AgentProcess::spawn(binary, &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    let mut post = Vec::new();
    for n in 0..INVOCATIONS {
        if resets && n > 0 {
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
    let first = post[0];
    (first, median(&mut post[1..]), (s.connections, s.resets))
}

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
            "{:>6} {:>9} {:>11} {:>11} {:>13} {:>12}",
            "RTT", "strategy", "first", "warm p50", "reset p50", "conns/resets"
        );
        for rtt_ms in [0u64, 10, 40, 100] {
            let rtt = Duration::from_millis(rtt_ms);
            for strategy in ["end", "default"] {
                let (first, warm, _) =
                    environment(binary, &certs.ca, &intake, rtt, strategy, false).await;
                let (_, reset, (conns, resets)) =
                    environment(binary, &certs.ca, &intake, rtt, strategy, true).await;
                println!(
                    "{:>4} ms {strategy:>9} {first:>8.1} ms {warm:>8.1} ms {reset:>10.1} ms {conns:>7}/{resets}",
                    rtt_ms
                );
            }
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

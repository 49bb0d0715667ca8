//! The round trips a flush costs an invocation, counted from the latency proxy's records, not
//! timed: a handshake (a connection opened) or a reset met between runtimeDone and the
//! extension's next `/next` is a round trip the flush waited for beyond its one request. The
//! function runs 20 RTT, well past the 3 a warming connection needs, so any count here is the
//! extension's doing, not the machine's speed.

use super::{T, assert_each_line_once, bin, highest, make_certs, temp_dir};
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::intake::CaptureIntake;
use tandem_testkit::latency::{LatencyProxy, Stats};
use tandem_testkit::platform::{InvocationTiming, Platform, SimMode, TelemetryAnswer};
use tandem_testkit::process::{AgentProcess, lambda_env, set_env};
use tandem_testkit::request_id;

const RTT: Duration = Duration::from_millis(5);
/// The proxy resets a connection idle longer than this when it is next used (a NAT's timeout).
const NAT_IDLE: Duration = Duration::from_millis(600);

struct Run {
    timings: Vec<InvocationTiming>,
    proxy: Stats,
    intake: CaptureIntake,
    stderr: Vec<String>,
}

/// `invocations` invocations (certificates in a directory called `name`) over TLS through the latency proxy (resetting flows idle past
/// `NAT_IDLE` when `nat`), the environment idle `idle` before each one after the first.
async fn environment(
    name: &str,
    invocations: u64,
    nat: bool,
    idle: Duration,
    extra: &[(&str, &str)],
) -> Run {
    let dir = temp_dir(name);
    let (ca, leaf, key) = make_certs(&dir);
    let intake = CaptureIntake::start_tls(&leaf, &key).await.unwrap();
    let upstream = intake.url().trim_start_matches("https://").parse().unwrap();
    let proxy = LatencyProxy::start(upstream, RTT, nat.then_some(NAT_IDLE))
        .await
        .unwrap();
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let mut env = lambda_env(
        &platform.runtime_api(),
        &format!("https://{}", proxy.addr()),
        false,
    );
    let ca = ca.display().to_string();
    let settings = [
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ("DD_TLS_CERT_FILE", ca.as_str()),
        ("TANDEM_INTERNAL_METRICS", "true"),
    ];
    set_env(&mut env, settings.iter().chain(extra).copied());
    let mut agent = AgentProcess::spawn(bin(), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    let mut timings = Vec::new();
    for n in 1..=invocations {
        if n > 1 {
            // The environment sits idle (frozen, for Lambda): the condition under test.
            tokio::time::sleep(idle).await;
        }
        let id = request_id(n);
        let before = platform.begin_invoke(&id, T).await.unwrap();
        platform.emit([ev::function_text(&format!("line {n}"))]);
        // The function's own run time.
        tokio::time::sleep(RTT * 20).await;
        let t = platform.finish_invoke(&id, before, Default::default(), T);
        timings.push(t.await.unwrap());
    }
    platform.send_shutdown(Duration::from_secs(2));
    agent.wait_exit(T).await.expect("agent exits");
    let _ = std::fs::remove_dir_all(dir);
    Run {
        timings,
        proxy: proxy.stats(),
        intake,
        stderr: agent.stderr(),
    }
}

impl Run {
    /// Every flush waited for its requests' one round trip only, and every line arrived once.
    fn assert_one_round_trip_each(&self) {
        for t in &self.timings {
            assert_eq!(
                self.proxy.within(t.runtime_done_sent, t.next_called),
                (0, 0),
                "{}'s flush opened a connection or met a reset; proxy {:?}; stderr {:?}",
                t.request_id,
                self.proxy,
                self.stderr
            );
        }
        assert_each_line_once(&self.intake, self.timings.len());
    }

    /// The highest value `tandem.<name>` shipped with.
    fn counter(&self, name: &str) -> f64 {
        highest(&self.intake, &format!("tandem.{name}"))
    }
}

/// No connection yet: the one opened while the first invocation runs carries its flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_flush_of_an_environment_finds_its_connection_warmed() {
    let run = environment("first-flush", 2, false, Duration::ZERO, &[]).await;
    run.assert_one_round_trip_each();
    assert_eq!(run.proxy.connections, 1, "{:?}", run.proxy);
    assert!(run.intake.warmups() >= 1);
}

/// The network drops flows idle past its limit while the environment is frozen. With the pool's
/// bound below that limit (as 50 s is below a NAT's 350 s; and well above the function's run),
/// the pool lets the connection go first: warming opens a new one and nothing is ever sent on a
/// dead flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_bound_below_the_networks_idle_limit_never_meets_a_reset() {
    let idle = NAT_IDLE + Duration::from_millis(200);
    let run = environment(
        "pool-bound",
        3,
        true,
        idle,
        &[("TANDEM_INTAKE_IDLE_MS", "500")],
    )
    .await;
    run.assert_one_round_trip_each();
    // Closing a connection the pool let go may still send its goodbye (a reset for the proxy,
    // after the fact); no request ever met one.
    assert_eq!(run.counter("intake.stale_connection_retries"), 0.0);
    assert_eq!(
        run.proxy.connections, 3,
        "one per idle period: {:?}",
        run.proxy
    );
}

/// A network that drops flows sooner than the pool assumes: the warming request meets the
/// reset while the function runs, is sent again on a new connection, and the flush after the
/// function rides that one. Counted as a stale connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_found_by_warming_costs_the_flush_nothing() {
    let idle = Duration::from_millis(1000);
    let run = environment(
        "warm-reset",
        3,
        true,
        idle,
        &[("TANDEM_INTAKE_IDLE_MS", "2000")],
    )
    .await;
    run.assert_one_round_trip_each();
    assert!(run.proxy.resets >= 2, "{:?}", run.proxy);
    assert!(
        run.counter("intake.stale_connection_retries") >= 1.0,
        "{:?}",
        run.stderr
    );
}

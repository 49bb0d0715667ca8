//! Network settings end to end: a TLS capture intake with a private CA (`DD_TLS_CERT_FILE`),
//! and every Datadog-bound request through a real HTTP CONNECT proxy on loopback (the test kit's),
//! bypassed per `NO_PROXY`. Certificates are made in-process by the test kit. The round trips a
//! flush costs are in `round_trips`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::intake::CaptureIntake;
use tandem_testkit::platform::{Platform, SimMode, TelemetryAnswer};
use tandem_testkit::process::{AgentProcess, lambda_env, set_env};
use tandem_testkit::proxy::HttpProxy;
use tandem_testkit::request_id;

mod round_trips;

const T: Duration = Duration::from_secs(10);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

/// A CA and a leaf for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let certs = tandem_testkit::certs::make(dir).unwrap();
    (certs.ca, certs.leaf, certs.key)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs one invocation with a log line against `intake`, then SHUTDOWN; returns the agent's stderr.
async fn run_agent(intake: &CaptureIntake, extra: &[(&str, String)]) -> Vec<String> {
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let mut env = lambda_env(&platform.runtime_api(), &intake.url(), false);
    set_env(&mut env, extra.iter().map(|(k, v)| (k, v)));
    let mut agent = AgentProcess::spawn(bin(), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    platform
        .invoke(&request_id(1), vec![ev::function_text("over the wire")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    agent.wait_exit(T).await.expect("agent exits");
    agent.stderr()
}

/// Lines `line 1` … `line {n}` each arrived exactly once: no loss, no duplicate.
fn assert_each_line_once(intake: &CaptureIntake, n: usize) {
    let entries = intake.log_entries();
    for i in 1..=n {
        let line = format!("line {i}");
        let seen = entries
            .iter()
            .filter(|e| e["message"]["message"] == line.as_str())
            .count();
        assert_eq!(seen, 1, "{line}: no loss, no duplicate");
    }
}

/// The highest value the metric `name` shipped with (0 when it never did).
fn highest(intake: &CaptureIntake, name: &str) -> f64 {
    intake
        .series()
        .iter()
        .filter(|s| s.metric == name)
        .flat_map(|s| &s.points)
        .map(|p| p.value)
        .fold(0.0, f64::max)
}

fn got_logs(intake: &CaptureIntake) -> bool {
    intake
        .log_entries()
        .iter()
        .any(|e| e["message"]["message"] == "over the wire")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_intake_with_a_private_ca_needs_dd_tls_cert_file() {
    let dir = temp_dir("tls");
    let (ca, leaf, key) = make_certs(&dir);
    let intake = CaptureIntake::start_tls(&leaf, &key).await.unwrap();
    assert!(intake.url().starts_with("https://"));

    let log = run_agent(&intake, &[]).await;
    assert!(!got_logs(&intake), "an unknown CA must be refused");
    assert!(
        log.iter()
            .any(|l| l.contains("certificate") || l.contains("dropped")),
        "{log:?}"
    );

    let log = run_agent(&intake, &[("DD_TLS_CERT_FILE", ca.display().to_string())]).await;
    assert!(got_logs(&intake), "{log:?}");
    assert!(
        !intake.accepted("/api/beta/sketches").is_empty(),
        "metrics went over TLS too"
    );

    // A bad path is one warning, and the agent keeps going.
    let log = run_agent(
        &intake,
        &[("DD_TLS_CERT_FILE", "/nonexistent/ca.pem".into())],
    )
    .await;
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("DD_TLS_CERT_FILE"))
            .count(),
        1,
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_traffic_goes_through_the_proxy_unless_no_proxy_says_otherwise() {
    let dir = temp_dir("proxy");
    let (ca, leaf, key) = make_certs(&dir);
    let intake = CaptureIntake::start_tls(&leaf, &key).await.unwrap();
    let proxy = HttpProxy::start().unwrap();
    let proxy_url = proxy.url();
    let tls = ("DD_TLS_CERT_FILE", ca.display().to_string());

    let log = run_agent(
        &intake,
        &[tls.clone(), ("DD_PROXY_HTTPS", proxy_url.clone())],
    )
    .await;
    assert!(got_logs(&intake), "{log:?}");
    let through = proxy.connects();
    assert!(
        through >= 1,
        "logs and metrics tunnelled (over HTTP/2 they share one tunnel): {through} CONNECTs"
    );

    let before = intake.requests().len();
    run_agent(
        &intake,
        &[
            tls.clone(),
            ("HTTPS_PROXY", proxy_url.clone()),
            ("NO_PROXY", "127.0.0.1".into()),
        ],
    )
    .await;
    assert!(
        intake.requests().len() > before,
        "the intake was reached directly"
    );
    assert_eq!(proxy.connects(), through, "NO_PROXY bypassed the proxy");
}

/// A pooled connection a NAT dropped while the environment was idle: the next flush's request
/// meets the reset, is retried at once on a new connection, and is counted
/// (`tandem.intake.stale_connection_retries`); every line arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_while_idle_is_retried_at_once_and_counted() {
    let intake = CaptureIntake::start().await.unwrap();
    let idle = Duration::from_millis(300);
    let upstream: std::net::SocketAddr =
        intake.url().trim_start_matches("http://").parse().unwrap();
    let proxy = tandem_testkit::latency::LatencyProxy::start(upstream, Duration::ZERO, Some(idle))
        .await
        .unwrap();
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let url = format!("http://{}", proxy.addr());
    let mut env = lambda_env(&platform.runtime_api(), &url, false);
    set_env(
        &mut env,
        [
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("TANDEM_INTERNAL_METRICS", "true"),
        ],
    );
    let mut agent = AgentProcess::spawn(bin(), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    for n in 1..=3u64 {
        let line = format!("line {n}");
        platform
            .invoke(&request_id(n), vec![ev::function_text(&line)], T)
            .await
            .unwrap();
        if n == 1 {
            // The environment sits idle past the NAT's limit: the condition under test.
            tokio::time::sleep(idle * 2).await;
        }
    }
    platform.send_shutdown(Duration::from_secs(2));
    agent.wait_exit(T).await.expect("agent exits");
    assert!(proxy.stats().resets >= 1, "{:?}", proxy.stats());
    assert_each_line_once(&intake, 3);
    let stale = highest(&intake, "tandem.intake.stale_connection_retries");
    assert!(
        stale >= 1.0,
        "the retry was counted; stderr: {:?}",
        agent.stderr()
    );
}

/// Runs `invocations` small invocations against a TLS intake reached through a latency proxy
/// (RTT 0), with `protocol` as `DD_HTTP_PROTOCOL` (unset when `None`); the HTTP versions the
/// intake saw, the connections the proxy relayed and the warm-ups the intake answered.
async fn over_tls(protocol: Option<&str>, invocations: u64) -> (Vec<String>, u64, u64) {
    let dir = temp_dir(&format!("h2-{}", protocol.unwrap_or("auto")));
    let (ca, leaf, key) = make_certs(&dir);
    let intake = CaptureIntake::start_tls(&leaf, &key).await.unwrap();
    let upstream: std::net::SocketAddr =
        intake.url().trim_start_matches("https://").parse().unwrap();
    let proxy = tandem_testkit::latency::LatencyProxy::start(upstream, Duration::ZERO, None)
        .await
        .unwrap();
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let url = format!("https://{}", proxy.addr());
    let mut env = lambda_env(&platform.runtime_api(), &url, false);
    let mut extra = vec![
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end".to_string()),
        ("DD_TLS_CERT_FILE", ca.display().to_string()),
    ];
    if let Some(p) = protocol {
        extra.push(("DD_HTTP_PROTOCOL", p.to_string()));
    }
    set_env(&mut env, extra);
    let mut agent = AgentProcess::spawn(bin(), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    for n in 1..=invocations {
        platform
            .invoke(
                &request_id(n),
                vec![ev::function_text(&format!("line {n}"))],
                T,
            )
            .await
            .unwrap();
    }
    platform.send_shutdown(Duration::from_secs(2));
    agent.wait_exit(T).await.expect("agent exits");
    assert_each_line_once(&intake, invocations as usize);
    let versions = intake
        .requests()
        .iter()
        .map(|r| r.version.clone())
        .collect();
    (versions, proxy.stats().connections, intake.warmups())
}

/// Datadog's intakes speak HTTP/2: the extension negotiates it by ALPN, warms the connection
/// while the first invocation runs (`HEAD /`, no data), and every flush's requests for the one
/// host share that one connection. `DD_HTTP_PROTOCOL=http1` keeps HTTP/1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_carries_every_flush_on_one_warmed_connection() {
    let (versions, connections, warmups) = over_tls(None, 4).await;
    assert!(!versions.is_empty());
    assert!(versions.iter().all(|v| v == "HTTP/2.0"), "{versions:?}");
    assert_eq!(
        connections, 1,
        "one connection for the one intake host, over four flushes"
    );
    assert!(warmups >= 1, "the first invocation warmed it");

    let (versions, _, _) = over_tls(Some("http1"), 2).await;
    assert!(versions.iter().all(|v| v == "HTTP/1.1"), "{versions:?}");
}

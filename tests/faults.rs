//! The fault suite (issue 11): a failing intake in every way the capture intake can fail, a
//! misbehaving Extensions API, taken ports, and the waits that must end before a deadline. Each
//! asserts no crash, invocations released before their deadlines, every log entry delivered or
//! reported dropped, and peak RSS (`VmHWM`, logged by the extension at shutdown) ≤ 64 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::{Duration, Instant};
use tandem_testkit::events as ev;
use tandem_testkit::intake::Fault;
use tandem_testkit::platform::{ApiFault, Platform, SimMode, TelemetryAnswer};
use tandem_testkit::process::{AgentProcess, lambda_env};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(20);
const FLUSH_TIMEOUT_S: u64 = 2;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

/// `shutdown: dropped since start: logs [buffer_full=5 entries, delivery=3 items]; …` → the
/// logs causes' total.
fn logs_dropped_at_shutdown(log: &[String]) -> u64 {
    let Some(line) = log
        .iter()
        .find(|l| l.contains("shutdown: dropped since start: "))
    else {
        return 0;
    };
    let Some(logs) = line.split("logs [").nth(1) else {
        return 0;
    };
    let causes = logs.split(']').next().unwrap_or("");
    causes
        .split(", ")
        .filter_map(|c| c.split('=').nth(1)?.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Three invocations of 40 lines against an intake failing as `fault` (then `after`, if the
/// intake recovers): every entry is delivered or reported dropped, nothing is held past its
/// flush deadline, the process exits cleanly within 64 MiB.
async fn intake_fault(fault: Fault, after: Option<Fault>) {
    let timeout = FLUSH_TIMEOUT_S.to_string();
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_FLUSH_TIMEOUT", &timeout),
        ],
    )
    .await
    .unwrap();
    h.intake.set_fault(fault);
    const INVOCATIONS: u64 = 3;
    const LINES: u64 = 40;
    for n in 0..INVOCATIONS {
        let lines = (0..LINES)
            .map(|i| ev::function_text(&format!("fault line {n}-{i}")))
            .collect();
        let t = h.platform.invoke(&request_id(n), lines, T).await.unwrap();
        let held = t.next_called.duration_since(t.runtime_done_delivered);
        assert!(
            held < Duration::from_secs(FLUSH_TIMEOUT_S) + Duration::from_millis(500),
            "{fault:?}: held {held:?} after runtimeDone"
        );
    }
    if let Some(after) = after {
        h.intake.set_fault(after);
    }
    let (status, sent, exited) = h.shutdown(Duration::from_secs(3)).await.unwrap();
    assert!(status.success(), "{fault:?}: {:?}", h.agent.stderr());
    assert!(
        exited < sent + Duration::from_secs(3),
        "{fault:?}: exited late"
    );
    let log = h.agent.stderr();
    assert!(
        !log.iter().any(|l| l.contains("panicked")),
        "{fault:?}: {log:?}"
    );
    let delivered = h.intake.log_entries().len() as u64;
    let dropped = logs_dropped_at_shutdown(&log);
    // Function lines plus START, END and REPORT of each invocation.
    let total = INVOCATIONS * (LINES + 3);
    assert_eq!(
        delivered + dropped,
        total,
        "{fault:?}: delivered {delivered} + dropped {dropped}: {log:?}"
    );
    let peak =
        tandem_testkit::process::peak_kib(&log).expect("the shutdown line with the peak memory");
    assert!(peak <= 64 * 1024, "{fault:?}: peak {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_throttling() {
    intake_fault(Fault::Status(500), None).await;
    intake_fault(Fault::Throttle(3_600), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals() {
    intake_fault(Fault::Status(403), None).await;
    intake_fault(Fault::Status(413), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_intake_and_one_that_resets_connections() {
    intake_fault(Fault::Hang, None).await;
    intake_fault(Fault::Drop, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_intake_and_one_that_fails_then_recovers() {
    intake_fault(Fault::Delay(Duration::from_millis(300)), None).await;
    intake_fault(Fault::Status(503), Some(Fault::None)).await;
}

/// An "intake" that answers every connection with bytes that are not HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_answering_garbage() {
    use tokio::io::AsyncWriteExt;
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", garbage.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = garbage.accept().await {
            let _ = s.write_all(b"\x00\xffNOT HTTP AT ALL\r\n\r\n{{{").await;
        }
    });
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let mut env = lambda_env(&platform.runtime_api(), &url, false);
    env.push(("DD_SERVERLESS_FLUSH_STRATEGY".into(), "end".into()));
    env.push(("DD_FLUSH_TIMEOUT".into(), FLUSH_TIMEOUT_S.to_string()));
    let mut agent = AgentProcess::spawn(bin(), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await);
    for n in 0..3 {
        let t = platform
            .invoke(&request_id(n), vec![ev::function_text("lost")], T)
            .await
            .unwrap();
        assert!(
            t.next_called.duration_since(t.runtime_done_delivered)
                < Duration::from_secs(FLUSH_TIMEOUT_S) + Duration::from_millis(500)
        );
    }
    platform.send_shutdown(Duration::from_secs(3));
    let (status, _) = agent.wait_exit(T).await.unwrap();
    assert!(status.success());
    let log = agent.stderr();
    assert_eq!(logs_dropped_at_shutdown(&log), 3 * 4, "{log:?}");
    server.abort();
}

/// Issue 11, row 8: without runtimeDone, `/next` still goes out before the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_runtime_done_next_is_called_before_the_deadline() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let before = h.platform.next_calls().len();
    let deadline = Instant::now() + Duration::from_millis(600);
    h.platform
        .send_invoke(&request_id(1), Duration::from_millis(600));
    h.platform.emit([ev::start(&request_id(1))]);
    assert!(h.platform.wait_next_calls(before + 1, T).await);
    let next = h.platform.next_calls()[before];
    assert!(
        next < deadline,
        "/next {:?} after the deadline",
        next.duration_since(deadline)
    );
    h.shutdown(Duration::from_secs(2)).await.unwrap();
}

/// Issue 11, row 11: an on-demand call before any invocation says what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_call_before_the_first_invocation_is_named_as_such() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let addr = h.agent.lifecycle_addr(T).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/lambda/start-invocation"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        h.agent
            .wait_for_line("header before the first invocation; ignored", T)
            .await
    );
    assert!(
        !h.agent
            .stderr()
            .iter()
            .any(|l| l.contains("Managed Instance"))
    );
    h.shutdown(Duration::from_secs(2)).await.unwrap();
}

/// Every local listener on a taken port: one clear line, and everything else keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_ports_cost_one_line_each_and_nothing_else() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = tcp.local_addr().unwrap().port().to_string();
    let tcp2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp2_port = tcp2.local_addr().unwrap().port().to_string();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port().to_string();
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_APM_RECEIVER_PORT", &tcp_port),
            ("TANDEM_LIFECYCLE_PORT", &tcp2_port),
            ("DD_DOGSTATSD_PORT", &udp_port),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ],
    )
    .await
    .unwrap();
    h.platform
        .invoke(
            &request_id(1),
            vec![ev::function_text("logs still flow")],
            T,
        )
        .await
        .unwrap();
    let (status, _, _) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());
    let log = h.agent.stderr().join("\n");
    for what in [
        "DogStatsD cannot listen",
        "trace agent cannot listen",
        "lifecycle API cannot listen",
    ] {
        assert_eq!(log.matches(what).count(), 1, "{what}: {log}");
    }
    assert!(
        h.intake
            .log_entries()
            .iter()
            .any(|e| e["message"]["message"] == "logs still flow")
    );
    assert!(
        h.intake
            .sketches()
            .iter()
            .any(|s| s.metric == "aws.lambda.enhanced.invocations")
    );
}

/// A misbehaving Extensions API: failed and garbled `/next` answers are retried and the
/// invocation still runs; a failed or garbled registration ends the process promptly (Lambda
/// fails the init), never a hang or a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_api_faults() {
    // /next: a 500 and garbage, then the platform recovers.
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    h.platform
        .queue_api_faults([ApiFault::NextStatus(500), ApiFault::NextGarbage]);
    let t = h
        .platform
        .invoke(&request_id(1), vec![ev::function_text("after faults")], T)
        .await;
    assert!(t.is_ok(), "{t:?}: {:?}", h.agent.stderr());
    let (status, _, _) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());

    for fault in [ApiFault::RegisterStatus(500), ApiFault::RegisterGarbage] {
        let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
            .await
            .unwrap();
        platform.queue_api_faults([fault]);
        let env = lambda_env(&platform.runtime_api(), "http://127.0.0.1:9", false);
        let mut agent = AgentProcess::spawn(bin(), &env).unwrap();
        let exited = agent.wait_exit(T).await;
        let log = agent.stderr();
        match exited {
            Some(_) => {}
            // Registered after all (a body it could do without): it must then be usable.
            None => {
                assert!(platform.wait_next_calls(1, T).await, "{fault:?}: {log:?}");
                platform.send_shutdown(Duration::from_secs(1));
                assert!(agent.wait_exit(T).await.is_some(), "{fault:?}: {log:?}");
            }
        }
        assert!(
            !agent.stderr().iter().any(|l| l.contains("panicked")),
            "{fault:?}: {log:?}"
        );
    }
}

/// SHUTDOWN before any invocation, and SHUTDOWN whose deadline already passed: a prompt,
/// clean exit, with what could not be sent reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_no_invocation_or_a_past_deadline() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let (status, sent, exited) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());
    assert!(exited < sent + Duration::from_secs(2));

    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "periodically,60000")],
    )
    .await
    .unwrap();
    h.platform
        .invoke(&request_id(1), vec![ev::function_text("one")], T)
        .await
        .unwrap();
    let sent = Instant::now();
    h.platform.send_shutdown(Duration::ZERO);
    let (status, at) = h.agent.wait_exit(T).await.unwrap();
    assert!(status.success());
    assert!(at < sent + Duration::from_secs(1), "{:?}", at - sent);
    let log = h.agent.stderr();
    // What the platform had not yet delivered (the last REPORT) was never the extension's; all
    // it accepted is delivered or reported.
    let accepted = tandem_testkit::process::counter(&log, "tandem.logs.accepted");
    let delivered = h.intake.log_entries().len() as u64;
    assert!(accepted >= 3, "{log:?}");
    assert_eq!(
        delivered + logs_dropped_at_shutdown(&log),
        accepted,
        "{log:?}"
    );
}

/// Issue 11, row 15: an APM proxy upload still in flight at SHUTDOWN is waited for within the
/// budget, then counted — never silently abandoned — and the exit stays on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_uploads_in_flight_at_shutdown_are_awaited_then_counted() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    h.intake.set_fault(Fault::Hang);
    let agent = h.agent.trace_agent_addr(T).await.unwrap();
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(format!("http://{agent}/v0.6/stats"))
            .body(&b"\x80"[..])
            .send(),
    );
    assert!(
        h.intake
            .wait_for(T, |r| r.iter().any(|c| c.path == "/api/v0.2/stats"))
            .await,
        "the upload reached the intake"
    );
    let (status, sent, exited) = h.shutdown(Duration::from_secs(3)).await.unwrap();
    assert!(status.success());
    assert!(exited < sent + Duration::from_secs(3));
    let log = h.agent.stderr().join("\n");
    assert!(log.contains("apm_proxy [shutdown=1 requests]"), "{log}");
    upload.abort();
}

//! Floods and taken ports (issue 11): each flood ends with the extension's peak RSS (`VmHWM`,
//! which it logs at shutdown from `/proc/self/status`) within 64 MiB, and every item either
//! delivered or counted as dropped in a WARN line with its cause. Sizes are the issue's; the
//! throughput figures live in `benches/`. They run the release build of the extension (built by
//! the test kit): that is what ships, and what the bound is about.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::floods;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::process::counter;
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(30);
const PEAK_KIB: u64 = 64 * 1024;

/// The shipped (release) build: the 64 MiB bound is its property.
fn bin() -> &'static Path {
    tandem_testkit::process::release_extension()
}

/// The sum of `<signal>: N <unit> were dropped because <why>` WARN lines for one cause.
fn warned_drops(log: &[String], prefix: &str, because: &str) -> u64 {
    log.iter()
        .filter(|l| l.contains("WARN") && l.contains(because))
        .filter_map(|l| {
            l.split(prefix)
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// On-demand, flushing at the end of each invocation, default settings otherwise.
async fn start() -> Harness {
    Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await
    .unwrap()
}

fn enhanced_present(h: &Harness) -> bool {
    let sketches = h.intake.sketches();
    ["invocations", "duration", "billed_duration"]
        .iter()
        .all(|name| {
            sketches
                .iter()
                .any(|s| s.metric == format!("aws.lambda.enhanced.{name}"))
        })
}

async fn finish(h: &mut Harness) -> Vec<String> {
    let (status, _, _) = h.shutdown(Duration::from_secs(5)).await.unwrap();
    assert!(status.success(), "{:?}", h.agent.stderr());
    let log = h.agent.stderr();
    for l in log
        .iter()
        .filter(|l| l.contains("| WARN") || l.contains("| ERROR") || l.contains("memory: "))
    {
        eprintln!("{l}");
    }
    let peak =
        tandem_testkit::process::peak_kib(&log).expect("the shutdown line with the peak memory");
    eprintln!("peak RSS {peak} KiB");
    assert!(peak <= PEAK_KIB, "peak RSS {peak} KiB");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_500k_spans_is_delivered_or_reported_within_64_mib() {
    let mut h = start().await;
    let addr = h.agent.trace_agent_addr(T).await.unwrap();
    const REQUESTS: u64 = 50;
    const SPANS: u64 = floods::SPANS_PER_REQUEST;
    let platform = &h.platform;
    // Ten invocations over the flood, each flushing at its end.
    let refused = floods::spans(addr, REQUESTS, async |n| {
        if n % 5 == 4 {
            platform
                .invoke(&request_id(n), vec![ev::function_text("x")], T)
                .await
                .unwrap();
        }
    })
    .await;
    let log = finish(&mut h).await;
    let delivered = h
        .intake
        .spans()
        .iter()
        .filter(|s| s.service == "orders")
        .count() as u64;
    let dropped = warned_drops(
        &log,
        "traces: ",
        "spans were dropped because the trace buffer",
    );
    assert_eq!(
        delivered + dropped + refused * SPANS,
        REQUESTS * SPANS,
        "delivered {delivered}, dropped {dropped}, refused {refused} requests"
    );
    assert_eq!(
        counter(&log, "tandem.traces.dropped{reason:over_budget}"),
        refused
    );
    assert!(enhanced_present(&h));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_40_mb_tracer_bodies_get_429_and_are_counted() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let addr = h.agent.trace_agent_addr(T).await.unwrap();
    let url = format!("http://{addr}/v0.4/traces");
    let body = tandem_testkit::msgpack::v04(13_000, 10, 0);
    assert!(body.len() > 40_000_000, "{}", body.len());
    let client = reqwest::Client::new();
    let sends: Vec<_> = (0..4)
        .map(|_| {
            let send = client
                .put(&url)
                .header("Content-Type", "application/msgpack")
                .body(body.clone())
                .send();
            tokio::spawn(send)
        })
        .collect();
    for s in sends {
        assert_eq!(s.await.unwrap().unwrap().status().as_u16(), 429);
    }
    // A small body still gets in.
    let small = tandem_testkit::msgpack::v04(1, 2, 99_000);
    let r = client.put(&url).body(small).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    h.platform
        .invoke(&request_id(1), vec![ev::function_text("x")], T)
        .await
        .unwrap();
    let log = finish(&mut h).await;
    assert_eq!(
        warned_drops(&log, "traces: ", "tracer requests were dropped because"),
        4,
        "{log:?}"
    );
    assert_eq!(
        h.intake
            .spans()
            .iter()
            .filter(|s| s.service == "orders")
            .count(),
        2
    );
    assert!(enhanced_present(&h));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_metric_contexts_leave_room_for_the_enhanced_metrics() {
    let mut h = start().await;
    let addr = h.agent.dogstatsd_addr(T).await.unwrap();
    const CONTEXTS: usize = 1_000_000;
    floods::metric_contexts(addr, CONTEXTS).unwrap();
    h.platform
        .invoke(&request_id(1), vec![ev::function_text("x")], T)
        .await
        .unwrap();
    let log = finish(&mut h).await;
    let delivered = h
        .intake
        .series()
        .iter()
        .filter(|s| s.metric.starts_with("flood."))
        .count() as u64;
    let dropped = warned_drops(
        &log,
        "metrics: ",
        "points were dropped because the context cap",
    );
    // UDP: what the kernel could not queue never reached the extension; everything that did is
    // delivered or reported.
    let received = counter(&log, "tandem.dogstatsd.lines");
    assert!(received > 150_000, "received {received} of {CONTEXTS}");
    // Lines still queued in the kernel when SHUTDOWN stops the reader may be counted after the
    // last counters line: the drops are reported, the received count can lag behind them.
    // The memory budget admits fewer contexts than the context cap: every one refused is
    // counted, and each admitted one is delivered.
    assert!(
        delivered >= 30_000 && dropped > 0,
        "{delivered} + {dropped}"
    );
    assert!(delivered + dropped >= received.min(CONTEXTS as u64) - 64 * 250);
    assert!(delivered + dropped <= CONTEXTS as u64);
    assert!(enhanced_present(&h), "the enhanced metrics shipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_mb_of_logs_in_one_invocation_stay_within_64_mib() {
    let mut h = start().await;
    const LINES: usize = 200_000;
    floods::logs_in_one_invocation(&h.platform, &request_id(1), LINES, 1_000, T)
        .await
        .unwrap();
    let log = finish(&mut h).await;
    let delivered = h
        .intake
        .log_entries()
        .iter()
        .filter(|e| {
            e["message"]["message"]
                .as_str()
                .is_some_and(|m| m.len() == 1_000)
        })
        .count() as u64;
    let dropped = warned_drops(&log, "logs: ", "entries were dropped because the buffer");
    // The drop count covers every entry refused while the buffer was full: the function's lines
    // and, when runtimeDone lands in a full buffer, the platform's END line too. So the lines
    // delivered plus the drops cover the lines sent, and the platform lines (START, END,
    // REPORT) delivered plus any dropped make three.
    let platform = h
        .intake
        .log_entries()
        .iter()
        .filter(|e| {
            e["message"]["message"].as_str().is_some_and(|m| {
                ["START RequestId", "END RequestId", "REPORT RequestId"]
                    .iter()
                    .any(|p| m.starts_with(p))
            })
        })
        .count() as u64;
    assert_eq!(
        delivered + dropped + platform,
        LINES as u64 + 3,
        "{delivered} lines + {dropped} dropped + {platform} platform lines"
    );
    assert!(platform >= 2, "START and REPORT always fit: {platform}");
    assert!(enhanced_present(&h));
}

/// Issue 11, row 9: a taken Telemetry API port costs nothing but a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_telemetry_port_falls_back_to_a_free_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("TANDEM_TELEMETRY_ADDR", addr.as_str()),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ],
    )
    .await
    .unwrap();
    h.platform
        .invoke(&request_id(1), vec![ev::function_text("still here")], T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let log = h.agent.stderr().join("\n");
    assert!(log.contains("is taken"), "{log}");
    assert!(
        h.intake
            .log_entries()
            .iter()
            .any(|e| e["message"]["message"] == "still here")
    );
}

/// All the floods at once, against an intake that fails half the time: still within 64 MiB,
/// and the function's invocations still released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flood_at_once_stays_within_64_mib() {
    let mut h = start().await;
    h.intake.queue_faults((0..200).map(|i| {
        if i % 2 == 0 {
            tandem_testkit::intake::Fault::Status(503)
        } else {
            tandem_testkit::intake::Fault::None
        }
    }));
    let traces = h.agent.trace_agent_addr(T).await.unwrap();
    let statsd = h.agent.dogstatsd_addr(T).await.unwrap();
    let spans = tokio::spawn(floods::spans(traces, 50, async |_| {}));
    let metrics = std::thread::spawn(move || floods::metric_contexts(statsd, 1_000_000));
    for n in 0..5 {
        floods::logs_in_one_invocation(&h.platform, &request_id(n), 40_000, 1_000, T)
            .await
            .unwrap();
    }
    spans.await.unwrap();
    metrics.join().unwrap().unwrap();
    finish(&mut h).await;
}

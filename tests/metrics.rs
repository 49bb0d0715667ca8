//! End-to-end metrics: DogStatsD over UDP and enhanced Lambda metrics from telemetry, decoded
//! from the protobuf payloads the capture intake received.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::{Value, json};
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;
use tandem::metrics::proto::{MetricSeries, MetricType, SketchMsg};
use tandem_testkit::events as ev;
use tandem_testkit::platform::{Outcome, SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn series(h: &Harness) -> Vec<MetricSeries> {
    h.intake.series()
}

fn sketches(h: &Harness) -> Vec<SketchMsg> {
    h.intake.sketches()
}

fn one<'a>(all: &'a [MetricSeries], name: &str) -> &'a MetricSeries {
    let found: Vec<&MetricSeries> = all.iter().filter(|s| s.metric == name).collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0]
}

/// Sends a scripted mix of every type (with malformed lines in between) and checks the exact
/// aggregates. All lines carry one past timestamp so they land in one bucket.
async fn dogstatsd_mix(mode: SimMode, ns: &str) {
    let extra: &[(&str, &str)] = if ns.is_empty() {
        &[]
    } else {
        &[("DD_STATSD_METRIC_NAMESPACE", ns)]
    };
    let mut h = Harness::start(bin(), mode, TelemetryAnswer::Accept, extra)
        .await
        .unwrap();
    let addr = h.agent.dogstatsd_addr(T).await.expect("DogStatsD address");
    let ts = tandem::time::now_ms() / 1000 - 60;
    let bucket = ts - ts.rem_euclid(10);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut packets: Vec<String> = Vec::new();
    for _ in 0..10 {
        packets.push(format!("app.count:1|c|#a:1|T{ts}"));
    }
    packets.push(format!(
        "app.count:2|c|@0.5|#a:1|T{ts}\nnot a metric\napp.gauge:5|g|T{ts}\napp.gauge:9|g|T{ts}"
    ));
    packets.push(format!(
        "app.set:a:b|s|T{ts}\napp.set:a|s|T{ts}\napp.set:c|s|T{ts}\n:broken|c"
    ));
    packets.push(
        (1..=20)
            .map(|i| format!("app.hist:{i}|h|#b:2,a:1|T{ts}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    packets.push(format!(
        "app.timer:100|ms|@0.5|T{ts}\napp.timer:40|ms|T{ts}"
    ));
    packets.push(format!(
        "app.dist:1:2:3|d|T{ts}\napp.dist:4|d|T{ts}\napp.dist:x|d"
    ));
    packets.push(format!("aws.lambda.enhanced.invocations:1|c|T{ts}"));
    packets.push("_e{6,9}:Deploy|v2 is out|t:success|#team:core".to_string());
    packets.push("_sc|app.db|1|#env:test|m:slow queries".to_string());
    // The invocation (and its end-of-invocation flush) comes first, so that every datagram
    // lands in the final flush, which runs after DogStatsD has drained the socket.
    if mode == SimMode::OnDemand {
        h.platform.invoke(&request_id(1), vec![], T).await.unwrap();
    }
    for p in &packets {
        sock.send_to(p.as_bytes(), addr).unwrap();
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();

    let all = series(&h);
    let name = |n: &str| format!("{ns}{}{n}", if ns.is_empty() { "" } else { "." });
    let count = one(&all, &name("app.count"));
    assert_eq!(
        (count.points[0].value, count.points[0].timestamp),
        (14.0, bucket)
    );
    assert_eq!(count.r#type, MetricType::Count as i32);
    assert!(
        count.tags.contains(&"a:1".to_string())
            && count.tags.contains(&"functionname:tandem-test".to_string())
    );
    assert_eq!(one(&all, &name("app.gauge")).points[0].value, 9.0);
    assert_eq!(one(&all, &name("app.set")).points[0].value, 3.0);
    let v = |n: &str| one(&all, &name(n)).points[0].value;
    assert_eq!(
        (
            v("app.hist.max"),
            v("app.hist.median"),
            v("app.hist.avg"),
            v("app.hist.count"),
            v("app.hist.95percentile")
        ),
        (20.0, 10.0, 10.5, 2.0, 19.0)
    );
    assert_eq!(
        (v("app.timer.count"), v("app.timer.avg"), v("app.timer.max")),
        (0.3, 80.0, 100.0)
    );
    assert!(
        all.iter()
            .all(|s| s.metric != "aws.lambda.enhanced.invocations"
                || s.tags.iter().any(|t| t.starts_with("cold_start")))
    );

    let sk = sketches(&h);
    let dist: Vec<&SketchMsg> = sk.iter().filter(|s| s.metric == name("app.dist")).collect();
    assert_eq!(dist.len(), 1);
    let d = &dist[0].dogsketches[0];
    assert_eq!(
        (d.ts, d.cnt, d.min, d.max, d.sum, d.avg),
        (bucket, 4, 1.0, 4.0, 10.0, 2.5)
    );
    assert_eq!(d.n.iter().sum::<u32>(), 4);
    // Enhanced invocations come from telemetry only (the library's line was dropped).
    let inv: i64 = sk
        .iter()
        .filter(|s| s.metric == "aws.lambda.enhanced.invocations")
        .flat_map(|s| &s.dogsketches)
        .map(|d| d.cnt)
        .sum();
    assert_eq!(inv, i64::from(mode == SimMode::OnDemand));
    // Origins as Datadog's extension labels them (PARITY "Metrics"): the function's own metrics
    // are ServerlessCustom (472), the extension's enhanced metrics ServerlessEnhanced (473).
    let service = |m: &Option<tandem::metrics::proto::Metadata>| {
        m.and_then(|m| m.origin)
            .map(|o| (o.origin_product, o.origin_category, o.origin_service))
    };
    for d in &dist {
        assert_eq!(service(&d.metadata), Some((1, 38, 472)), "{}", d.metric);
    }
    for s in sk
        .iter()
        .filter(|s| s.metric.starts_with("aws.lambda.enhanced."))
    {
        assert_eq!(service(&s.metadata), Some((1, 38, 473)), "{}", s.metric);
    }
    for s in series(&h) {
        let want = if s.metric.starts_with("aws.lambda.enhanced.") {
            473
        } else {
            472
        };
        assert_eq!(service(&s.metadata), Some((1, 38, want)), "{}", s.metric);
    }

    let events: Vec<Value> = h
        .intake
        .accepted("/api/v1/events")
        .iter()
        .filter_map(|r| r.json())
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0]["title"].as_str(),
            events[0]["text"].as_str(),
            events[0]["alert_type"].as_str()
        ),
        (Some("Deploy"), Some("v2 is out"), Some("success"))
    );
    let checks: Vec<Value> = h
        .intake
        .accepted("/api/v1/check_run")
        .iter()
        .filter_map(|r| r.json())
        .collect();
    assert_eq!(checks[0][0]["check"], "app.db");
    assert_eq!(checks[0][0]["status"], 1);
    assert_eq!(checks[0][0]["message"], "slow queries");
    for r in h
        .intake
        .accepted("/api/v2/series")
        .iter()
        .chain(&h.intake.accepted("/api/beta/sketches"))
    {
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
        assert_eq!(r.header("content-encoding"), Some("zstd"));
        assert_eq!(
            r.header("dd-api-key"),
            Some(tandem_testkit::process::TEST_API_KEY)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dogstatsd_mix_on_demand() {
    dogstatsd_mix(SimMode::OnDemand, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dogstatsd_mix_managed_instance_with_namespace() {
    dogstatsd_mix(SimMode::ManagedInstance, "ns").await;
}

/// Total count of an enhanced metric across every sketch, by tags containing `tag`.
fn enhanced_count(sk: &[SketchMsg], name: &str, tag: Option<&str>) -> i64 {
    sk.iter()
        .filter(|s| s.metric == format!("aws.lambda.enhanced.{name}"))
        .filter(|s| tag.is_none_or(|t| s.tags.iter().any(|x| x == t)))
        .flat_map(|s| &s.dogsketches)
        .map(|d| d.cnt)
        .sum()
}

fn enhanced_values(sk: &[SketchMsg], name: &str) -> Vec<(f64, f64)> {
    sk.iter()
        .filter(|s| s.metric == format!("aws.lambda.enhanced.{name}"))
        .flat_map(|s| &s.dogsketches)
        .map(|d| (d.min, d.max))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_metrics_on_demand_sequence() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await
    .unwrap();
    h.platform.emit([ev::init_report(321.0)]);
    let outcomes = [
        Outcome {
            init_duration_ms: Some(321.0),
            ..Outcome::default()
        },
        Outcome::default(),
        Outcome {
            status: "error",
            error_type: Some("Runtime.ExitError"),
            ..Outcome::default()
        },
        Outcome {
            status: "timeout",
            error_type: Some("Sandbox.Timedout"),
            ..Outcome::default()
        },
        Outcome {
            status: "error",
            error_type: Some("Runtime.OutOfMemory"),
            max_memory_used_mb: 128,
            ..Outcome::default()
        },
    ];
    for (n, o) in outcomes.iter().enumerate() {
        let logs = if n == 4 {
            vec![ev::function_text(
                "Traceback (most recent call last):\nMemoryError",
            )]
        } else {
            vec![]
        };
        h.platform
            .invoke_as(&request_id(10 + n as u64), logs, *o, T)
            .await
            .unwrap();
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let sk = sketches(&h);
    assert_eq!(enhanced_count(&sk, "invocations", None), 5);
    assert_eq!(
        enhanced_count(&sk, "invocations", Some("cold_start:true")),
        1
    );
    assert_eq!(
        enhanced_count(&sk, "invocations", Some("cold_start:false")),
        4
    );
    // Issue 13 (PARITY "Metrics"): the timeout is an error too.
    assert_eq!(enhanced_count(&sk, "errors", None), 3);
    assert_eq!(enhanced_count(&sk, "timeouts", None), 1);
    assert_eq!(
        enhanced_count(&sk, "out_of_memory", None),
        1,
        "three OOM signals, one request"
    );
    assert_eq!(enhanced_count(&sk, "init_duration", None), 1);
    assert_eq!(enhanced_values(&sk, "init_duration"), [(0.321, 0.321)]);
    for (name, per_invocation) in [
        ("runtime_duration", 12.5),
        ("duration", 0.02),
        ("billed_duration", 0.02),
        ("memorysize", 128.0),
        ("post_runtime_duration", 7.5),
        ("response_latency", 1.0),
        ("produced_bytes", 42.0),
    ] {
        assert_eq!(enhanced_count(&sk, name, None), 5, "{name}");
        for (min, max) in enhanced_values(&sk, name) {
            assert_eq!((min, max), (per_invocation, per_invocation), "{name}");
        }
    }
    assert_eq!(enhanced_count(&sk, "estimated_cost", None), 5);
    // /proc usage, once per invocation.
    for name in [
        "cpu_total_time",
        "cpu_user_time",
        "num_cores",
        "rx_bytes",
        "tx_bytes",
        "total_network",
        "tmp_max",
        "tmp_used",
        "tmp_free",
        "cpu_max_utilization",
        "cpu_min_utilization",
        "fd_max",
        "fd_use",
        "threads_max",
        "threads_use",
    ] {
        assert_eq!(enhanced_count(&sk, name, None), 5, "{name}");
        // Issue 13 (PARITY "Metrics"): tagged with the cold start like the rest.
        assert_eq!(
            enhanced_count(&sk, name, Some("cold_start:true")),
            1,
            "{name}"
        );
        assert_eq!(
            enhanced_count(&sk, name, Some("cold_start:false")),
            4,
            "{name}"
        );
    }
    assert_eq!(enhanced_count(&sk, "shutdowns", None), 1);
    assert_eq!(
        enhanced_count(&sk, "shutdowns", Some("cold_start:false")),
        1
    );
    assert_eq!(
        enhanced_count(&sk, "init_duration", Some("cold_start:true")),
        1
    );
    assert_eq!(enhanced_count(&sk, "unused_init", None), 0);
    let tags = &sk
        .iter()
        .find(|s| s.metric == "aws.lambda.enhanced.invocations")
        .unwrap()
        .tags;
    for t in [
        "functionname:tandem-test",
        "region:us-east-1",
        "account_id:123456789012",
        "memorysize:128",
        "runtime:python3.12",
    ] {
        assert!(tags.iter().any(|x| x == t), "{t} in {tags:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_metrics_fifty_overlapping_managed_invocations() {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[],
    )
    .await
    .unwrap();
    let ids: Vec<String> = (0..50).map(|n| request_id(100 + n)).collect();
    h.platform.emit(ids.iter().map(|id| ev::start(id)));
    h.platform.emit(ids.iter().enumerate().rev().map(|(n, id)| {
        let mut r = ev::report(id, 10.0 + n as f64, true);
        if n % 10 == 0 {
            r["record"]["status"] = json!("error");
        }
        r["record"]["spans"] = json!([{"name": "responseLatency", "durationMs": 2.0}, {"name": "responseDuration", "durationMs": 1.0}]);
        r
    }));
    assert!(h.platform.wait_telemetry_drained(T).await);
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let sk = sketches(&h);
    assert_eq!(enhanced_count(&sk, "invocations", None), 50);
    // Issue 13 (PARITY "Metrics"): as Datadog's extension, no cold-start tags under Managed
    // Instances.
    assert!(
        sk.iter()
            .filter(|s| s.metric.starts_with("aws.lambda.enhanced."))
            .all(|s| s.tags.iter().all(|t| !t.starts_with("cold_start:")))
    );
    assert_eq!(enhanced_count(&sk, "duration", None), 50);
    let (min, max) = enhanced_values(&sk, "duration")
        .iter()
        .fold((f64::MAX, f64::MIN), |a, v| (a.0.min(v.0), a.1.max(v.1)));
    assert_eq!((min, max), (0.01, 0.059));
    assert_eq!(enhanced_count(&sk, "errors", None), 5);
    assert_eq!(enhanced_count(&sk, "response_latency", None), 50);
    assert_eq!(enhanced_count(&sk, "response_duration", None), 50);
    for absent in [
        "billed_duration",
        "max_memory_used",
        "memorysize",
        "estimated_cost",
        "post_runtime_duration",
        "runtime_duration",
    ] {
        assert_eq!(enhanced_count(&sk, absent, None), 0, "{absent}");
    }
    // Issue 13: usage is sampled for the environment, not per invocation (Datadog's extension
    // there): one window — the flush's — for the fifty overlapping invocations.
    assert_eq!(enhanced_count(&sk, "cpu_total_time", None), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_counters_ship_only_when_asked() {
    for opt_in in [false, true] {
        let extra: &[(&str, &str)] = if opt_in {
            &[("TANDEM_INTERNAL_METRICS", "true")]
        } else {
            &[]
        };
        let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, extra)
            .await
            .unwrap();
        let addr = h.agent.dogstatsd_addr(T).await.unwrap();
        h.platform
            .invoke(&request_id(900), vec![], T)
            .await
            .unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.send_to(b"x:1|c\nbroken", addr).unwrap();
        h.shutdown(Duration::from_secs(2)).await.unwrap();
        let shipped: Vec<MetricSeries> = series(&h)
            .into_iter()
            .filter(|s| s.metric.starts_with("tandem."))
            .collect();
        assert_eq!(!shipped.is_empty(), opt_in);
        if opt_in {
            assert!(shipped.iter().any(|s| s.metric == "tandem.flushes"));
        }
        // Always in the shutdown summary.
        let summary = h
            .agent
            .stderr()
            .into_iter()
            .find(|l| l.contains("| INFO | counters:"))
            .unwrap();
        assert!(
            summary.contains("tandem.dogstatsd.parse_errors=1"),
            "{summary}"
        );
        assert!(summary.contains("tandem.dogstatsd.packets=1"), "{summary}");
    }
}

/// Issue 13 (PARITY "Metrics"): `DD_LAMBDA_PROC_ENHANCED_METRICS=false` turns off the `/proc`
/// usage metrics and keeps the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proc_enhanced_metrics_can_be_turned_off() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_LAMBDA_PROC_ENHANCED_METRICS", "false"),
        ],
    )
    .await
    .unwrap();
    h.platform
        .invoke_as(&request_id(900), Vec::new(), Outcome::default(), T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let sk = sketches(&h);
    assert_eq!(enhanced_count(&sk, "invocations", None), 1);
    for name in [
        "cpu_total_time",
        "rx_bytes",
        "tmp_free",
        "fd_use",
        "cpu_max_utilization",
    ] {
        assert_eq!(enhanced_count(&sk, name, None), 0, "{name}");
    }
}

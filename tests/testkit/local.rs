//! `tandem-local`, the README's local run: runs the real extension binary (a child process)
//! against the test kit's Lambda platform simulator and capture intake, drives a short workload
//! in both modes and prints what happened. No AWS account, no Datadog account, no network.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic fails the test that hit it

use prost::Message;
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tandem::metrics::proto::{MetricPayload, MetricSeries, SketchMsg, SketchPayload};
use tandem_testkit::events as ev;
use tandem_testkit::intake::Captured;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let runtime = match tandem::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tandem-local: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem-local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let binary = tandem_testkit::process::agent_binary()?;
    println!(
        "Tandem local run: the real agent ({}) against the embedded Lambda simulator and capture intake\n",
        binary.display()
    );
    on_demand(&binary).await?;
    println!();
    managed_instance(&binary).await?;
    println!("\nAll data above was captured by the local intake; nothing left this machine.");
    Ok(())
}

async fn on_demand(binary: &std::path::Path) -> Result<(), String> {
    let mut h = Harness::start(
        binary,
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_LOG_LEVEL", "info"), ("TANDEM_FLUSH_ADVICE", "true")],
    )
    .await?;
    let origin = h.agent.started;
    print_start("on-demand", &h);
    let statsd = h
        .agent
        .dogstatsd_addr(T)
        .await
        .ok_or("the agent reported no DogStatsD address")?;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut post_runtime = Vec::new();
    for n in 0..5u64 {
        let id = request_id(n);
        let logs = vec![
            ev::function_text(&format!("processing order {n}")),
            ev::function_json(json!({"level": "INFO", "message": "order stored", "order": n})),
        ];
        let packet = format!(
            "orders.placed:1|c|#shop:eu\norders.latency:{}|d\norders.size:{}|h",
            20 + n,
            n + 1
        );
        sock.send_to(packet.as_bytes(), statsd)
            .map_err(|e| e.to_string())?;
        let t = h.platform.invoke(&id, logs, T).await?;
        post_runtime.push(
            t.next_called
                .saturating_duration_since(t.runtime_done_delivered),
        );
    }
    post_runtime.sort();
    println!("  invocations    : 5, one at a time (INVOKE → logs → runtimeDone → flush → /next)");
    println!(
        "  post-runtime   : median {:.2} ms (runtimeDone delivered → next /next)",
        ms(post_runtime[post_runtime.len() / 2])
    );
    finish(&mut h, origin).await
}

async fn managed_instance(binary: &std::path::Path) -> Result<(), String> {
    let mut h = Harness::start(
        binary,
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[
            ("DD_LOG_LEVEL", "info"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "continuously,500"),
        ],
    )
    .await?;
    let origin = h.agent.started;
    print_start("managed instances", &h);
    let ids: Vec<String> = (100..120).map(request_id).collect();
    h.platform.emit(ids.iter().map(|id| ev::start(id)));
    h.platform.emit(ids.iter().map(|id| {
        ev::function_json(json!({"level": "INFO", "requestId": id, "message": "handled"}))
    }));
    h.platform
        .emit(ids.iter().rev().map(|id| ev::report(id, 7.5, true)));
    if !h.platform.wait_telemetry_drained(T).await {
        return Err("telemetry was not delivered".into());
    }
    // Let at least one background flush happen before SHUTDOWN.
    h.intake
        .wait_for(T, |r| r.iter().any(|r| r.path == "/api/v2/logs"))
        .await;
    println!(
        "  invocations    : {} overlapping (start ×20, logs, report ×20 in reverse order)",
        ids.len()
    );
    finish(&mut h, origin).await
}

fn print_start(mode: &str, h: &Harness) {
    let reg = h.platform.registrations();
    let sub = h.platform.subscriptions();
    let events = reg.first().map(|r| r.events.join("+")).unwrap_or_default();
    let schema = sub
        .first()
        .and_then(|s| s.body["schemaVersion"].as_str().map(str::to_string))
        .unwrap_or_else(|| "none".into());
    let first_next = h
        .platform
        .next_calls()
        .first()
        .map(|t| ms(t.saturating_duration_since(h.agent.started)))
        .unwrap_or(0.0);
    println!("{mode}");
    println!(
        "  registered     : {events}, telemetry schema {schema}, first /event/next {first_next:.1} ms after spawn"
    );
}

async fn finish(h: &mut Harness, origin: Instant) -> Result<(), String> {
    let (status, sent, exited) = h.shutdown(SHUTDOWN_DEADLINE).await?;
    let requests: Vec<Captured> = h
        .intake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v2/logs")
        .collect();
    let times: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "+{:.0}ms",
                ms(r.received_at.saturating_duration_since(origin))
            )
        })
        .collect();
    println!(
        "  flushes        : {} logs requests at {}",
        requests.len(),
        times.join(" ")
    );
    let entries = h.intake.log_entries();
    let platform = entries.iter().filter(|e| is_platform(e)).count();
    let with_id = entries
        .iter()
        .filter(|e| !e["message"]["lambda"]["request_id"].is_null())
        .count();
    println!(
        "  shipped        : {} log entries ({} function, {} platform START/END/REPORT), {} with a request id",
        entries.len(),
        entries.len() - platform,
        platform,
        with_id
    );
    if let Some(e) = entries.iter().find(|e| !is_platform(e)) {
        println!("  sample entry   : {e}");
    }
    println!(
        "  shutdown       : exited ({status}) {:.0} ms after SHUTDOWN (deadline {} ms)",
        ms(exited.saturating_duration_since(sent)),
        SHUTDOWN_DEADLINE.as_millis()
    );
    let series: Vec<MetricSeries> = h
        .intake
        .accepted("/api/v2/series")
        .iter()
        .filter_map(|r| MetricPayload::decode(&r.body[..]).ok())
        .flat_map(|p| p.series)
        .collect();
    let sketches: Vec<SketchMsg> = h
        .intake
        .accepted("/api/beta/sketches")
        .iter()
        .filter_map(|r| SketchPayload::decode(&r.body[..]).ok())
        .flat_map(|p| p.sketches)
        .collect();
    let mut names: Vec<&str> = sketches
        .iter()
        .map(|s| s.metric.as_str())
        .chain(series.iter().map(|s| s.metric.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let enhanced = names
        .iter()
        .filter(|n| n.starts_with("aws.lambda.enhanced."))
        .count();
    println!(
        "  metrics        : {} series, {} sketches; {} custom names ({}), {enhanced} enhanced",
        series.len(),
        sketches.len(),
        names.len() - enhanced,
        names
            .iter()
            .filter(|n| !n.starts_with("aws.lambda.enhanced."))
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(c) = h
        .agent
        .stderr()
        .iter()
        .find_map(|l| l.split("counters: ").nth(1).map(str::to_string))
    {
        println!("  agent counters : {c}");
    }
    // On-demand: what the extension would recommend for the traffic it saw (`tandem-tune`).
    if let Some(a) = h
        .agent
        .stderr()
        .iter()
        .find_map(|l| l.split("traffic seen: ").nth(1).map(str::to_string))
    {
        println!("  flush advice   : {a}");
    }
    let problems: Vec<String> = h
        .agent
        .stderr()
        .into_iter()
        .filter(|l| l.contains("| WARN |") || l.contains("| ERROR |"))
        .collect();
    for p in &problems {
        println!("  agent said     : {p}");
    }
    if !status.success() {
        return Err("the agent exited with an error".into());
    }
    Ok(())
}

fn is_platform(e: &Value) -> bool {
    let m = e["message"]["message"].as_str().unwrap_or("");
    ["START RequestId:", "END RequestId:", "REPORT RequestId:"]
        .iter()
        .any(|p| m.starts_with(p))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

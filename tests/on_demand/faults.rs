//! On-demand under faults: a hanging intake at SHUTDOWN, no telemetry, garbage telemetry, bad config, rules, a failing intake.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_hanging_intake_exits_before_the_deadline_and_reports_the_drop() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "periodically,60000")],
    )
    .await
    .unwrap();
    h.intake.set_fault(Fault::Hang);
    for n in 0..3 {
        h.platform
            .invoke(
                &request_id(300 + n),
                vec![ev::function_text("never delivered")],
                T,
            )
            .await
            .unwrap();
    }
    let (status, sent, exited) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());
    assert!(
        exited < sent + Duration::from_secs(2),
        "exited {:?} after SHUTDOWN",
        exited - sent
    );
    let log = h.agent.stderr().join("\n");
    assert!(
        log.contains("could not be delivered and were dropped"),
        "{log}"
    );
    assert!(h.intake.log_entries().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_not_supported_never_blocks_invocations() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::NotSupported, &[])
        .await
        .unwrap();
    for n in 0..3 {
        // No runtimeDone will come: the agent must call /next without waiting for one.
        h.platform
            .invoke(&request_id(400 + n), vec![], T)
            .await
            .unwrap();
    }
    assert!(h.agent.wait_for_line("Telemetry.NotSupported", T).await);
    let warnings = h
        .agent
        .stderr()
        .iter()
        .filter(|l| l.contains("Telemetry API subscription unavailable"))
        .count();
    assert_eq!(warnings, 1);
    let (status, _, _) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_telemetry_is_survived_and_the_rest_of_a_batch_kept() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let uri = h.platform.subscriptions()[0].body["destination"]["URI"]
        .as_str()
        .unwrap()
        .replace("sandbox.localdomain", "127.0.0.1");
    let client = reqwest::Client::new();
    let good = ev::function_text("survivor line");
    let bodies = [
        "garbage".to_string(),
        "{\"not\":\"an array\"}".to_string(),
        json!([1, "two", {"type": "platform.future", "record": {}}, {"type": "platform.start", "record": {"noId": 1}}, good]).to_string(),
        String::from_utf8_lossy(&[0xff, 0xfe, 0x00]).into_owned(),
    ];
    for b in &bodies {
        let r = client.post(&uri).body(b.clone()).send().await.unwrap();
        assert_eq!(r.status(), 200, "never make Lambda retry");
    }
    // Still alive and working.
    h.platform
        .invoke(
            &request_id(500),
            vec![ev::function_text("after garbage")],
            T,
        )
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let entries = h.intake.log_entries();
    assert!(entries.iter().any(|e| message(e) == "survivor line"));
    assert!(entries.iter().any(|e| message(e) == "after garbage"));
    let warnings = h
        .agent
        .stderr()
        .iter()
        .filter(|l| l.contains("telemetry listener: skipped"))
        .count();
    assert_eq!(
        warnings,
        bodies.len(),
        "one warning per bad batch: {:?}",
        h.agent.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_values_warn_once_each_and_the_agent_still_works() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_FLUSH_TIMEOUT", "soon"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "continuously,0"),
            (
                "DD_LOGS_CONFIG_PROCESSING_RULES",
                "[{\"type\":\"exclude_at_match\",\"name\":\"bad\",\"pattern\":\"(\"}]",
            ),
        ],
    )
    .await
    .unwrap();
    h.platform
        .invoke(
            &request_id(600),
            vec![ev::function_text("still shipped")],
            T,
        )
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let log = h.agent.stderr();
    for needle in [
        "DD_FLUSH_TIMEOUT=\"soon\"",
        "DD_SERVERLESS_FLUSH_STRATEGY=\"continuously,0\"",
        "invalid pattern",
    ] {
        assert_eq!(
            log.iter().filter(|l| l.contains(needle)).count(),
            1,
            "{needle}: {log:?}"
        );
    }
    assert!(
        h.intake
            .log_entries()
            .iter()
            .any(|e| message(e) == "still shipped")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_rules_and_disabled_logs() {
    let rules = r#"[{"type":"exclude_at_match","name":"hc","pattern":"healthcheck"},{"type":"mask_sequences","name":"card","pattern":"\\d{4}-\\d{4}","replace_placeholder":"[masked]"}]"#;
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_LOGS_CONFIG_PROCESSING_RULES", rules)],
    )
    .await
    .unwrap();
    h.platform
        .invoke(
            &request_id(700),
            vec![
                ev::function_text("healthcheck ok"),
                ev::function_text("card 1234-5678"),
            ],
            T,
        )
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let entries = h.intake.log_entries();
    assert!(entries.iter().all(|e| !message(e).contains("healthcheck")));
    assert!(entries.iter().any(|e| message(e) == "card [masked]"));

    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVERLESS_LOGS_ENABLED", "false")],
    )
    .await
    .unwrap();
    assert_eq!(
        h.platform.subscriptions()[0].body["types"],
        json!(["platform"])
    );
    h.platform
        .invoke(&request_id(701), vec![], T)
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(h.intake.log_entries().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_intake_keeps_data_within_the_cap_and_reports_every_drop() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("TANDEM_LOGS_BUFFER_BYTES", "65536"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ],
    )
    .await
    .unwrap();
    h.intake.set_fault(Fault::Status(503));
    let line = "x".repeat(1000);
    for n in 0..4 {
        let logs = (0..40).map(|_| ev::function_text(&line)).collect();
        h.platform
            .invoke(&request_id(800 + n), logs, T)
            .await
            .unwrap();
    }
    // The intake recovers: what was kept is delivered once, and the rest was reported dropped.
    h.intake.set_fault(Fault::None);
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let delivered = h
        .intake
        .log_entries()
        .iter()
        .filter(|e| message(e) == line)
        .count();
    assert!(delivered > 0 && delivered < 160, "delivered {delivered}");
    let log = h.agent.stderr().join("\n");
    assert!(log.contains("dropped because the buffer was full"), "{log}");
    let dropped: u64 = h
        .agent
        .stderr()
        .iter()
        .filter_map(|l| {
            l.split("logs: ")
                .nth(1)?
                .split(" entries were dropped because the buffer was full")
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    let kept_then_lost: u64 = h
        .agent
        .stderr()
        .iter()
        .filter_map(|l| {
            l.split("entries kept for the next flush, ")
                .nth(1)?
                .split(" dropped")
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    // 160 function lines plus START, END and REPORT of each of the 4 invocations.
    let all_delivered = h.intake.log_entries().len() as u64;
    assert_eq!(
        all_delivered + dropped + kept_then_lost,
        160 + 3 * 4,
        "every entry is delivered or reported dropped"
    );
}

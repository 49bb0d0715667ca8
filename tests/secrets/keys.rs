//! Key rotation after a 403, an emulator that is down at start, and settings held in secrets.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_picked_up_after_a_403_without_losing_data() {
    let moto = Moto::start(free_port());
    let arn = moto.create_secret("dd-rotating", KEY_1).await;
    let (platform, intake, mut a) = start(
        &moto.url(),
        ("DD_API_KEY_SECRET_ARN", &arn),
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await;
    platform
        .invoke(
            &request_id(1),
            vec![ev::function_text("before rotation")],
            T,
        )
        .await
        .unwrap();
    moto.call(
        "secretsmanager",
        "secretsmanager.PutSecretValue",
        json!({"SecretId": arn, "SecretString": KEY_2}),
    )
    .await;
    // The old key is now refused: every request of the next flush gets a 403.
    intake.set_fault(Fault::Status(403));
    platform
        .invoke(
            &request_id(2),
            vec![ev::function_text("during rotation")],
            T,
        )
        .await
        .unwrap();
    assert!(
        intake
            .wait_for(T, |r| r.iter().any(|r| r.answered == Some(403)))
            .await
    );
    intake.set_fault(Fault::None);
    assert!(a.wait_for_line("API key resolved", T).await);
    platform
        .invoke(&request_id(3), vec![ev::function_text("after rotation")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    let accepted = intake.accepted("/api/v2/logs");
    let first_new = accepted
        .iter()
        .position(|r| r.header("dd-api-key") == Some(KEY_2))
        .expect("the new key was used");
    assert!(
        accepted[first_new..]
            .iter()
            .all(|r| r.header("dd-api-key") == Some(KEY_2)),
        "every request after rotation carries the new key"
    );
    // Metrics took the new key too (every signal reads the same live key).
    assert!(
        intake
            .accepted("/api/beta/sketches")
            .iter()
            .any(|r| r.header("dd-api-key") == Some(KEY_2)),
        "sketches with the new key"
    );
    let lines: Vec<String> = intake
        .log_entries()
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap_or("").to_string())
        .collect();
    for l in ["before rotation", "during rotation", "after rotation"] {
        assert_eq!(lines.iter().filter(|x| *x == l).count(), 1, "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulator_that_is_down_delays_nothing_and_data_ships_once_the_key_arrives() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dd-late";
    let (platform, intake, mut a) = start(
        &url,
        ("DD_API_KEY_SECRET_ARN", arn),
        &[
            ("DD_FLUSH_TIMEOUT", "1"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ],
    )
    .await;
    for n in 0..2 {
        let t = platform
            .invoke(
                &request_id(10 + n),
                vec![ev::function_text(&format!("buffered {n}"))],
                T,
            )
            .await
            .unwrap();
        assert!(
            t.next_called.duration_since(t.runtime_done_delivered) < Duration::from_millis(1_500),
            "held past the flush deadline"
        );
    }
    assert!(a.wait_for_line("cannot resolve the API key", T).await);
    // The emulator comes up with the secret; the next retry finds it.
    let moto = Moto::start(port);
    moto.create_secret("dd-late", KEY_1).await;
    assert!(
        a.wait_for_line("API key resolved", Duration::from_secs(40))
            .await,
        "{:?}",
        a.stderr()
    );
    platform
        .invoke(&request_id(12), vec![ev::function_text("buffered 2")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    let lines: Vec<String> = intake
        .log_entries()
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap_or("").to_string())
        .collect();
    for n in 0..3 {
        assert_eq!(
            lines
                .iter()
                .filter(|l| **l == format!("buffered {n}"))
                .count(),
            1,
            "buffered {n}"
        );
    }
    assert!(
        intake
            .accepted("/api/v2/logs")
            .iter()
            .all(|r| r.header("dd-api-key") == Some(KEY_1))
    );
    let errors = a
        .stderr()
        .iter()
        .filter(|l| l.contains("cannot resolve the API key"))
        .count();
    assert_eq!(errors, 1, "one clear error, not one per retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_held_in_secrets_configure_dual_shipping_and_tags() {
    let moto = Moto::start(free_port());
    let second = CaptureIntake::start().await.unwrap();
    let port = second.url().rsplit(':').next().unwrap().to_string();
    let primary_key = moto
        .create_secret("dd-key", &json!({"apiKey": KEY_1}).to_string())
        .await;
    let metrics = moto
        .create_secret(
            "dd-metrics-endpoints",
            &json!({ second.url(): [KEY_2] }).to_string(),
        )
        .await;
    let logs = moto
        .create_secret(
            "dd-logs-endpoints",
            &json!([{"api_key": KEY_2, "Host": "http://127.0.0.1", "Port": port.parse::<u16>().unwrap()}])
                .to_string(),
        )
        .await;
    let traces = moto
        .kms_encrypt(&json!({ second.url(): [KEY_2] }).to_string(), None)
        .await;
    let tags = moto.create_secret("dd-tags", "team:vault").await;
    let (platform, intake, mut a) = start(
        &moto.url(),
        ("DD_API_KEY_SECRET_ARN", &primary_key),
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_ADDITIONAL_ENDPOINTS_SECRET_ARN", &metrics),
            ("DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS_SECRET_ARN", &logs),
            ("DD_APM_ADDITIONAL_ENDPOINTS_KMS_ENCRYPTED", &traces),
            ("DD_TAGS_SECRET_ARN", &tags),
        ],
    )
    .await;
    let trace_agent = a.trace_agent_addr(T).await.expect("trace agent address");
    let r = reqwest::Client::new()
        .put(format!("http://{trace_agent}/v0.4/traces"))
        .header("Content-Type", "application/msgpack")
        .body(include_bytes!("../fixtures/traces/v04.msgpack").to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    platform
        .invoke(&request_id(1), vec![ev::function_text("twice")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();

    // Each destination got every signal, with its own key, the first flush included.
    for (capture, key) in [(&intake, KEY_1), (&second, KEY_2)] {
        for path in ["/api/v2/logs", "/api/beta/sketches", "/api/v0.2/traces"] {
            let got = capture.accepted(path);
            assert!(!got.is_empty(), "{path} at {}", capture.url());
            assert!(
                got.iter().all(|r| r.header("dd-api-key") == Some(key)),
                "{path} at {} carries its own key",
                capture.url()
            );
        }
        let entries = capture.log_entries();
        let line = entries
            .iter()
            .find(|e| e["message"]["message"] == "twice")
            .unwrap_or_else(|| panic!("the line at {}", capture.url()));
        assert!(
            line["ddtags"]
                .as_str()
                .is_some_and(|t| t.split(',').any(|t| t == "team:vault")),
            "DD_TAGS came from its secret: {line}"
        );
    }
    let log = a.stderr().join("\n");
    assert!(!log.contains(KEY_1) && !log.contains(KEY_2), "a key leaked");
    assert!(!log.contains("cannot resolve"), "{log}");
}

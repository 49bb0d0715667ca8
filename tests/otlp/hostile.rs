//! Malformed and hostile OTLP requests get the OTLP spec's answers and never hurt the
//! extension: wrong content type (415), truncated protobuf and absurdly deep JSON (400), a
//! 60 MB body and a gzip bomb (413), unknown paths and methods, a broken gRPC frame — and the
//! receiver still takes a good request afterwards. A taken port is one warning.

use super::{T, agent, bin};
use std::io::Write;
use std::time::Duration;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, free_port};

async fn post(url: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> u16 {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        r = r.header("content-encoding", e);
    }
    r.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

fn good() -> Vec<u8> {
    br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"ok","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_the_spec_answers_and_never_crash() {
    let (mut h, http, _) = agent(SimMode::OnDemand, &[]).await;
    let traces = format!("http://127.0.0.1:{http}/v1/traces");
    assert_eq!(
        post(&traces, "text/plain", None, b"hello".to_vec()).await,
        415
    );
    // A protobuf cut short: a field that says 127 bytes follow, and none do.
    assert_eq!(
        post(
            &traces,
            "application/x-protobuf",
            None,
            vec![0x0a, 0x7f, 0x0a]
        )
        .await,
        400
    );
    let deep = "[".repeat(100_000);
    let body = format!(r#"{{"resourceSpans":{deep}"#).into_bytes();
    assert_eq!(post(&traces, "application/json", None, body).await, 400);
    assert_eq!(
        post(
            &traces,
            "application/x-protobuf",
            None,
            vec![0u8; 60 * 1024 * 1024]
        )
        .await,
        413
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..40 {
        gz.write_all(&zeros).unwrap();
    }
    assert_eq!(
        post(
            &traces,
            "application/x-protobuf",
            Some("gzip"),
            gz.finish().unwrap()
        )
        .await,
        413
    );
    let other = format!("http://127.0.0.1:{http}/v1/profiles");
    assert_eq!(post(&other, "application/json", None, good()).await, 404);
    let got = reqwest::get(&traces).await.unwrap().status().as_u16();
    assert_eq!(got, 405);
    // Still serving, and what it was given arrives.
    assert_eq!(post(&traces, "application/json", None, good()).await, 200);
    let (status, _, _) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success(), "{:?}", h.agent.stderr());
    assert!(h.intake.spans().iter().any(|s| s.resource == "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_otlp_port_is_one_warning_and_everything_else_runs() {
    // An OpenTelemetry collector layer holding the port.
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let grpc = free_port();
    let env = [
        (
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT",
            format!("localhost:{port}"),
        ),
        (
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT",
            format!("localhost:{grpc}"),
        ),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &env)
        .await
        .unwrap();
    assert!(
        tandem_testkit::wait_listening(grpc, T),
        "the gRPC receiver runs"
    );
    let rid = tandem_testkit::request_id(1);
    h.platform.invoke(&rid, vec![], T).await.unwrap();
    let (status, _, _) = h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(status.success());
    let warned: Vec<String> = h
        .agent
        .stderr()
        .into_iter()
        .filter(|l| l.contains("cannot listen") && l.contains("OTLP/HTTP"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", h.agent.stderr());
    assert!(warned[0].contains("DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT"));
    drop(taken);
}

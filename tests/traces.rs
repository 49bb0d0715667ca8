//! End-to-end traces: tracer payloads (v0.4 and v0.5 fixtures generated with the tracers'
//! encoding rules) posted to the real agent arrive decoded at the capture intake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use prost::Message;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tandem::traces::proto::{AgentPayload, Span};
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::process::TEST_API_KEY;
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);
const V04: &[u8] = include_bytes!("fixtures/traces/v04.msgpack");
const V05: &[u8] = include_bytes!("fixtures/traces/v05.msgpack");
const EXPECTED: &str = include_str!("fixtures/traces/expected.json");

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn payloads(h: &Harness) -> Vec<AgentPayload> {
    h.intake
        .accepted("/api/v0.2/traces")
        .iter()
        .map(|r| AgentPayload::decode(&r.body[..]).expect("AgentPayload"))
        .collect()
}

async fn post(url: String, body: &[u8], put: bool, headers: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut req = if put {
        client.put(url)
    } else {
        client.post(url)
    };
    req = req
        .header("Content-Type", "application/msgpack")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracer_payloads_arrive_decoded_with_origin_and_tags() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_ENV", "test")],
    )
    .await
    .unwrap();
    let agent = h
        .agent
        .trace_agent_addr(T)
        .await
        .expect("trace agent address");
    let (status, body) = post(
        format!("http://{agent}/v0.4/traces"),
        V04,
        true,
        &[
            ("Datadog-Meta-Lang", "nodejs"),
            ("Datadog-Meta-Tracer-Version", "5.0.0"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"rate_by_service":{}}"#));
    let (status, _) = post(
        format!("http://{agent}/v0.5/traces"),
        V05,
        false,
        &[
            ("Datadog-Meta-Lang", "python"),
            ("Datadog-Client-Computed-Stats", "true"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    h.platform.invoke(&request_id(1), vec![], T).await.unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();

    let expected: Value = serde_json::from_str(EXPECTED).unwrap();
    let all = payloads(&h);
    let tracer_payloads: Vec<_> = all.iter().flat_map(|p| &p.tracer_payloads).collect();
    let spans: Vec<&Span> = tracer_payloads
        .iter()
        .flat_map(|t| &t.chunks)
        .flat_map(|c| &c.spans)
        .collect();
    for version in ["v04", "v05"] {
        for e in expected[version]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t.as_array().unwrap())
        {
            let id = e["span_id"].as_u64().unwrap();
            let found: Vec<&&Span> = spans.iter().filter(|s| s.span_id == id).collect();
            assert_eq!(found.len(), 1, "span {id} arrived {} times", found.len());
            let s = found[0];
            assert_eq!(s.trace_id, e["trace_id"].as_u64().unwrap());
            assert_eq!(s.parent_id, e["parent_id"].as_u64().unwrap());
            assert_eq!(
                (s.name.as_str(), s.resource.as_str(), s.service.as_str()),
                (
                    e["name"].as_str().unwrap(),
                    e["resource"].as_str().unwrap(),
                    e["service"].as_str().unwrap()
                )
            );
            assert_eq!(
                (s.start, s.duration, s.error),
                (
                    e["start"].as_i64().unwrap(),
                    e["duration"].as_i64().unwrap(),
                    e["error"].as_i64().unwrap() as i32
                )
            );
            for (k, v) in e["meta"].as_object().unwrap() {
                assert_eq!(s.meta.get(k).map(String::as_str), v.as_str());
            }
            assert_eq!(s.meta["_dd.origin"], "lambda");
            assert_eq!(s.meta["functionname"], "tandem-test");
        }
    }
    assert!(all.iter().all(|p| p.env == "test"));
    let node = tracer_payloads
        .iter()
        .find(|t| t.language_name == "nodejs")
        .unwrap();
    assert_eq!(node.tracer_version, "5.0.0");
    // As Datadog's extension: on each span when the tracer did not compute stats, never as a
    // payload tag; the payload carries the function's tags instead.
    let node_spans = node.chunks.iter().flat_map(|c| &c.spans);
    assert!(
        node_spans.clone().count() > 0
            && node_spans
                .clone()
                .all(|s| s.meta.get("_dd.compute_stats").map(String::as_str) == Some("1")),
        "the tracer did not compute stats"
    );
    assert!(!node.tags.contains_key("_dd.compute_stats"));
    assert!(node.tags["_dd.tags.function"].contains("functionname:tandem-test"));
    let py = tracer_payloads
        .iter()
        .find(|t| t.language_name == "python")
        .unwrap();
    assert!(
        py.chunks
            .iter()
            .flat_map(|c| &c.spans)
            .all(|s| !s.meta.contains_key("_dd.compute_stats"))
    );
    assert!(node.chunks.iter().all(|c| c.origin == "lambda"));
    for r in h.intake.accepted("/api/v0.2/traces") {
        assert_eq!(r.header("dd-api-key"), Some(TEST_API_KEY));
        assert_eq!(r.header("content-encoding"), Some("zstd"));
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_are_refused_without_harm_and_info_and_stats_work() {
    let mut h = Harness::start(bin(), SimMode::OnDemand, TelemetryAnswer::Accept, &[])
        .await
        .unwrap();
    let agent = h.agent.trace_agent_addr(T).await.unwrap();
    assert_eq!(
        post(
            format!("http://{agent}/v0.4/traces"),
            b"\xc1garbage",
            true,
            &[]
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(
            format!("http://{agent}/v0.5/traces"),
            &V04[..V04.len() / 2],
            false,
            &[]
        )
        .await
        .0,
        400
    );
    // Over 50 MiB is refused from the headers alone, before any of the body is read.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut raw = tokio::net::TcpStream::connect(agent).await.unwrap();
    let head = format!(
        "PUT /v0.4/traces HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        50 * 1024 * 1024 + 1
    );
    raw.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = raw.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(
        post(format!("http://{agent}/v0.4/traces"), V04, true, &[])
            .await
            .0,
        200
    );
    let info: Value = serde_json::from_str(
        &reqwest::get(format!("http://{agent}/info"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let endpoints: Vec<&str> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for e in [
        "/v0.4/traces",
        "/v0.5/traces",
        "/v0.6/stats",
        "/profiling/v1/input",
        "/evp_proxy/v2/api/v2/llmobs",
    ] {
        assert!(endpoints.contains(&e), "{e} not advertised");
    }
    // Issue 13 (PARITY "Layer and configuration"): the ports actually in use.
    let statsd = h.agent.dogstatsd_addr(T).await.unwrap();
    assert_eq!(
        (
            info["config"]["receiver_port"].as_u64(),
            info["config"]["statsd_port"].as_u64()
        ),
        (
            Some(u64::from(agent.port())),
            Some(u64::from(statsd.port()))
        )
    );
    // Stats are forwarded as received, with the key added.
    assert_eq!(
        post(format!("http://{agent}/v0.6/stats"), b"\x80", false, &[])
            .await
            .0,
        202
    );
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let stats = h.intake.accepted("/api/v0.2/stats");
    assert_eq!(stats.len(), 1);
    // Wrapped in a StatsPayload, gzip'd (the capture intake undid the gzip).
    let mut r = tandem::traces::msgpack::Reader::new(&stats[0].body);
    assert_eq!(r.map_len().unwrap(), 5);
    assert_eq!(stats[0].header("content-encoding"), Some("gzip"));
    assert!(
        stats[0].body.windows(6).any(|w| w == b"\x91\x80\xacAge"),
        "the client payload spliced in as received"
    );
    assert_eq!(stats[0].header("dd-api-key"), Some(TEST_API_KEY));
    let spans: usize = payloads(&h)
        .iter()
        .flat_map(|p| &p.tracer_payloads)
        .flat_map(|t| &t.chunks)
        .map(|c| c.spans.len())
        .sum();
    assert_eq!(spans, 4, "only the good payload's spans");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_enabled_false_acknowledges_and_ships_nothing() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_TRACE_ENABLED", "false")],
    )
    .await
    .unwrap();
    let agent = h.agent.trace_agent_addr(T).await.unwrap();
    assert_eq!(
        post(format!("http://{agent}/v0.4/traces"), V04, true, &[])
            .await
            .0,
        200
    );
    h.platform.invoke(&request_id(2), vec![], T).await.unwrap();
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(
        h.intake
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/api/v0.2/"))
    );
}

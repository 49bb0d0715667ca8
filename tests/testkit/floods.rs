//! The overload floods, shared by the tests that assert their bounds (`tests/overload.rs`) and
//! the bench that measures them (`benches/overload.rs`): tracer payloads, DogStatsD contexts
//! and function logs, at sizes the caller picks.

use crate::platform::{Outcome, Platform};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Spans per tracer request of [`spans`]: 1,000 traces of 10 spans (about 3.3 MB of msgpack).
pub const SPANS_PER_REQUEST: u64 = 10_000;

/// Sends `requests` tracer payloads of [`SPANS_PER_REQUEST`] spans one after another, calling
/// `after(n)` after request `n`; returns how many were refused with 429.
pub async fn spans(agent: SocketAddr, requests: u64, mut after: impl AsyncFnMut(u64)) -> u64 {
    let url = format!("http://{agent}/v0.4/traces");
    let client = reqwest::Client::new();
    let mut refused = 0;
    for n in 0..requests {
        let body = crate::msgpack::v04(1_000, 10, n * 1_000);
        let status = client
            .put(&url)
            .header("Content-Type", "application/msgpack")
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16());
        match status {
            Ok(429) => refused += 1,
            Ok(200) => {}
            other => panic!("tracer request {n}: {other:?}"),
        }
        after(n).await;
    }
    refused
}

/// `contexts` distinct counters (`flood.m<i>:1|c|#k:v`), 250 lines a datagram, as fast as the
/// socket takes them.
pub fn metric_contexts(dogstatsd: SocketAddr, contexts: usize) -> std::io::Result<()> {
    const PER_DATAGRAM: usize = 250;
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    let mut sent = 0;
    while sent < contexts {
        let packet: String = (sent..(sent + PER_DATAGRAM).min(contexts))
            .map(|i| format!("flood.m{i}:1|c|#k:v\n"))
            .collect();
        sock.send_to(packet.as_bytes(), dogstatsd)?;
        sent += PER_DATAGRAM;
    }
    Ok(())
}

/// One invocation whose function writes `lines` lines of `len` bytes, delivered by the
/// platform 1,000 at a time.
pub async fn logs_in_one_invocation(
    platform: &Platform,
    request_id: &str,
    lines: usize,
    len: usize,
    timeout: Duration,
) -> Result<(), String> {
    let line = "y".repeat(len);
    let before = platform.begin_invoke(request_id, timeout).await?;
    let mut left = lines;
    while left > 0 {
        let n = left.min(1_000);
        left -= n;
        platform.emit((0..n).map(|_| crate::events::function_text(&line)));
        if !platform.wait_telemetry_drained(timeout).await {
            return Err("the agent did not take the telemetry".into());
        }
    }
    platform
        .finish_invoke(request_id, before, Outcome::default(), timeout)
        .await
        .map(|_| ())
}

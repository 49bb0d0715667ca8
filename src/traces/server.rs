//! The local trace agent on `127.0.0.1:8126`: `/v0.4/traces` and `/v0.5/traces` (PUT or
//! POST, msgpack), `/v0.6/stats`, `/info`, and the APM proxy routes, which are forwarded to
//! their intakes with the API key added. Bodies over 50 MiB get 413, undecodable ones 400;
//! neither affects anything else. Trace bodies in flight share a byte budget: one that cannot
//! get its share within a second gets 429 (the Agent's answer; tracers retry or drop and count),
//! so concurrent large bodies never add up past the extension's memory bound.

use super::forward::{Forwarded, Forwarder};
use super::msgpack;
use super::pipeline::{TracerInfo, TracesPipeline};
use crate::http::{self, ServerHandle};
use crate::memory::Budget;
use crate::payload::{Payload, Signal};
use hyper::{Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;

pub(crate) const MAX_BODY: usize = 50 * 1024 * 1024;
/// Trace body bytes being read and decoded at once, across requests: decoded spans take about
/// four times their msgpack size, so this bounds the trace agent near 40 MiB at its worst.
pub(crate) const IN_FLIGHT_BYTES: usize = 8 * 1024 * 1024;
/// Reserved for a body sent without a length (chunked): larger ones are refused.
const UNSIZED_RESERVE: usize = 2 * 1024 * 1024;
/// Memory a trace body holds per byte while it is decoded and processed trace by trace: the
/// body itself and, at most, the traces of the same size taken from it.
const DECODED_PER_BYTE: usize = 2;
/// How long a body waits for its share of the budget before 429.
const BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where each proxied route goes.
#[derive(Debug, Clone)]
pub(crate) struct ProxyRoutes {
    pub routes: Vec<(&'static str, String)>,
    /// `DD_ENV`, stamped on wrapped stats payloads.
    pub env: String,
    /// The DogStatsD port actually in use, for `/info`.
    pub statsd_port: u16,
}

impl ProxyRoutes {
    pub(crate) fn new(site: &str, apm_base: &str, logs_url: &str, env: &str) -> Self {
        let routes = vec![
            ("/v0.6/stats", format!("{apm_base}/api/v0.2/stats")),
            (
                "/v0.1/pipeline_stats",
                format!("{apm_base}/api/v0.1/pipeline_stats"),
            ),
            (
                "/profiling/v1/input",
                format!("https://intake.profile.{site}/api/v2/profile"),
            ),
            (
                "/telemetry/proxy/api/v2/apmtelemetry",
                format!("https://instrumentation-telemetry-intake.{site}/api/v2/apmtelemetry"),
            ),
            ("/debugger/v1/input", logs_url.to_string()),
            (
                "/debugger/v2/input",
                format!("https://debugger-intake.{site}/api/v2/debugger"),
            ),
            (
                "/debugger/v1/diagnostics",
                format!("https://debugger-intake.{site}/api/v2/debugger"),
            ),
            (
                "/evp_proxy/v2/api/v2/llmobs",
                format!("https://llmobs-intake.{site}/api/v2/llmobs"),
            ),
        ];
        Self {
            routes,
            env: env.to_string(),
            statsd_port: 8125,
        }
    }

    fn target(&self, path: &str) -> Option<String> {
        self.routes
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, u)| u.clone())
    }
}

/// Starts the trace agent. `pipeline` is `None` when `DD_TRACE_ENABLED=false`: traces are then
/// acknowledged and discarded, so tracers keep working.
pub(crate) async fn start(
    port: u16,
    pipeline: Option<Arc<TracesPipeline>>,
    forwarder: Arc<Forwarder>,
    routes: ProxyRoutes,
) -> std::io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let receiver_port = listener.local_addr()?.port();
    let routes = Arc::new(routes);
    let budget = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT_BYTES));
    http::serve(listener, move |req| {
        let (pipeline, forwarder, routes) = (pipeline.clone(), forwarder.clone(), routes.clone());
        let budget = budget.clone();
        async move {
            let (parts, body) = req.into_parts();
            let path = parts.uri.path().to_string();
            if parts.method == Method::GET && path == "/info" {
                return http::json(StatusCode::OK, info(&routes, receiver_port));
            }
            let declared = http::header(&parts.headers, "content-length")
                .and_then(|v| v.parse::<usize>().ok());
            if declared.is_some_and(|n| n > MAX_BODY) {
                return http::respond(StatusCode::PAYLOAD_TOO_LARGE, "body over 50 MiB");
            }
            let is_traces = matches!(path.as_str(), "/v0.4/traces" | "/v0.5/traces");
            // Trace bodies are decoded here, so they hold the budget until ingested; proxied
            // bodies are bounded by the forwarder's slots.
            let share = declared.unwrap_or(UNSIZED_RESERVE);
            // Trace bodies wait for their share of the in-flight budget; every body then holds
            // its memory in the process budget (trace bodies: what they decode into) until it is
            // ingested or forwarded.
            let slot = if is_traces {
                match u32::try_from(share)
                    .ok()
                    .filter(|n| *n as usize <= IN_FLIGHT_BYTES)
                {
                    Some(n) => {
                        tokio::time::timeout(BUDGET_WAIT, budget.clone().acquire_many_owned(n))
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                    None => None,
                }
            } else {
                None
            };
            let held = if is_traces {
                share.saturating_mul(DECODED_PER_BYTE)
            } else {
                share
            };
            let reserved = (!is_traces || slot.is_some())
                .then(|| Budget::global().reserve(held))
                .flatten();
            if reserved.is_none() {
                // Read to the end (and dropped as it comes) so that the tracer, still sending,
                // gets the answer rather than a reset connection.
                http::discard_body(body, MAX_BODY).await;
                return over_budget(pipeline.as_deref(), is_traces, share);
            }
            let Some(body) = http::read_body_sized(body, share, declared.unwrap_or(0)).await else {
                if declared.is_none() {
                    return over_budget(pipeline.as_deref(), is_traces, share);
                }
                return http::respond(StatusCode::PAYLOAD_TOO_LARGE, "body too large or too slow");
            };
            let header = |n: &str| http::header(&parts.headers, n).unwrap_or("").to_string();
            match path.as_str() {
                "/v0.4/traces" | "/v0.5/traces"
                    if matches!(parts.method, Method::PUT | Method::POST) =>
                {
                    let tracer = TracerInfo {
                        language: header("Datadog-Meta-Lang"),
                        language_version: header("Datadog-Meta-Lang-Version"),
                        tracer_version: header("Datadog-Meta-Tracer-Version"),
                        container_id: header("Datadog-Container-ID"),
                        client_computed_stats: matches!(
                            header("Datadog-Client-Computed-Stats")
                                .to_ascii_lowercase()
                                .as_str(),
                            "true" | "yes" | "1"
                        ),
                    };
                    let now_ns = crate::time::now_ms().saturating_mul(1_000_000);
                    // Each trace is processed as soon as it is decoded: the body never exists
                    // decoded all at once. Traces decoded before an error are kept.
                    let mut batch = pipeline.as_deref().map(|p| p.batch(&tracer, now_ns));
                    let mut each = |trace| {
                        if let Some(b) = batch.as_mut() {
                            b.add(trace);
                        }
                    };
                    let decoded = if path == "/v0.4/traces" {
                        msgpack::decode_v04_each(&body, &mut each)
                    } else {
                        msgpack::decode_v05_each(&body, &mut each)
                    };
                    if let Some(b) = batch {
                        b.finish();
                    }
                    let body_len = body.len();
                    drop((body, slot, reserved));
                    crate::memory::trim_after(body_len);
                    match decoded {
                        Ok(()) => http::json(StatusCode::OK, r#"{"rate_by_service":{}}"#),
                        Err(e) => {
                            crate::log_warn!(
                                "trace agent: undecodable {path} payload of {body_len} bytes: {e}"
                            );
                            http::respond(
                                StatusCode::BAD_REQUEST,
                                format!("undecodable msgpack: {e}"),
                            )
                        }
                    }
                }
                "/v0.6/stats" if matches!(parts.method, Method::PUT | Method::POST) => {
                    let (Some(_), Some(url)) = (&pipeline, routes.target("/v0.6/stats")) else {
                        return http::respond(StatusCode::ACCEPTED, "");
                    };
                    let payload = super::stats::payload(&body, &routes.env);
                    relay(forwarder.forward(url, payload).await)
                }
                p => match routes.target(p) {
                    Some(url) if parts.method == Method::POST || parts.method == Method::PUT => {
                        if pipeline.is_none() {
                            return http::respond(StatusCode::ACCEPTED, "");
                        }
                        let content_type = match header("Content-Type") {
                            t if t.is_empty() => "application/octet-stream".to_string(),
                            t => t,
                        };
                        // Forwarded as received: the tracer's own encoding is kept.
                        let payload = Payload {
                            body,
                            content_type: content_type.into(),
                            encoding: Some(header("Content-Encoding"))
                                .filter(|e| !e.is_empty())
                                .map(Into::into),
                            signal: Signal::Traces,
                        };
                        if p == "/profiling/v1/input" {
                            // Dual shipping of profiles: each additional endpoint on its own.
                            forwarder.copy_profile(&payload).await;
                        }
                        relay(forwarder.forward(url, payload).await)
                    }
                    _ => http::respond(StatusCode::NOT_FOUND, "unknown endpoint"),
                },
            }
        }
    })
}

/// A body that does not fit the in-flight or the process budget: 429, counted
/// (`tandem.traces.dropped{reason:over_budget}` or `tandem.apm_proxy.dropped{…}`, reported at
/// the next flush).
fn over_budget(
    pipeline: Option<&TracesPipeline>,
    is_traces: bool,
    bytes: usize,
) -> http::HttpResponse {
    match pipeline {
        Some(p) if is_traces => {
            p.counters
                .requests_over_budget
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        _ => metrics::counter!("tandem.apm_proxy.dropped", "reason" => "over_budget").increment(1),
    }
    crate::log_debug!("trace agent: a {bytes}-byte body did not fit the in-flight budget; 429");
    http::respond(
        StatusCode::TOO_MANY_REQUESTS,
        "trace payloads in flight exceed the agent's memory budget; retry later",
    )
}

/// The tracer's answer for a forwarded request.
fn relay(outcome: Forwarded) -> http::HttpResponse {
    match outcome {
        Forwarded::Delivered => http::respond(StatusCode::ACCEPTED, ""),
        Forwarded::Refused(status) => http::respond(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "",
        ),
        Forwarded::Failed(reason) => http::respond(StatusCode::BAD_GATEWAY, reason),
    }
}

/// What `/info` tells tracers, with the ports actually in use.
fn info(routes: &ProxyRoutes, receiver_port: u16) -> String {
    let mut endpoints = vec!["/v0.4/traces", "/v0.5/traces", "/info"];
    endpoints.extend(routes.routes.iter().map(|(p, _)| *p));
    serde_json::json!({
        "version": concat!("tandem-", env!("CARGO_PKG_VERSION")),
        "endpoints": endpoints,
        "client_drop_p0s": false,
        "span_meta_structs": true,
        "long_running_spans": false,
        "config": { "statsd_port": routes.statsd_port, "receiver_port": receiver_port },
    })
    .to_string()
}

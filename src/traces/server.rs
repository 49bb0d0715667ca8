//! The local trace agent on `127.0.0.1:8126`: `/v0.4/traces` and `/v0.5/traces` (PUT or
//! POST, msgpack), `/v0.6/stats`, `/info`, and the APM proxy routes, which are forwarded to
//! their intakes with the API key added. Bodies over 50 MiB get 413, undecodable ones 400;
//! neither affects anything else.

use super::forward::{Forwarded, Forwarder};
use super::msgpack;
use super::pipeline::{TracerInfo, TracesPipeline};
use crate::http::{self, ServerHandle};
use crate::payload::{Payload, Signal};
use hyper::{Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;

pub(crate) const MAX_BODY: usize = 50 * 1024 * 1024;

/// Where each proxied route goes.
#[derive(Debug, Clone)]
pub(crate) struct ProxyRoutes {
    pub routes: Vec<(&'static str, String)>,
    /// `DD_ENV`, stamped on wrapped stats payloads.
    pub env: String,
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
    let routes = Arc::new(routes);
    http::serve(listener, move |req| {
        let (pipeline, forwarder, routes) = (pipeline.clone(), forwarder.clone(), routes.clone());
        async move {
            let (parts, body) = req.into_parts();
            let path = parts.uri.path().to_string();
            if parts.method == Method::GET && path == "/info" {
                return http::json(StatusCode::OK, info(&routes));
            }
            if http::header(&parts.headers, "content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .is_some_and(|n| n > MAX_BODY)
            {
                return http::respond(StatusCode::PAYLOAD_TOO_LARGE, "body over 50 MiB");
            }
            let Some(body) = http::read_body(body, MAX_BODY).await else {
                return http::respond(StatusCode::PAYLOAD_TOO_LARGE, "body over 50 MiB");
            };
            let header = |n: &str| http::header(&parts.headers, n).unwrap_or("").to_string();
            match path.as_str() {
                "/v0.4/traces" | "/v0.5/traces"
                    if matches!(parts.method, Method::PUT | Method::POST) =>
                {
                    let decoded = if path == "/v0.4/traces" {
                        msgpack::decode_v04(&body)
                    } else {
                        msgpack::decode_v05(&body)
                    };
                    match decoded {
                        Ok(traces) => {
                            if let Some(p) = &pipeline {
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
                                p.ingest(
                                    traces,
                                    &tracer,
                                    crate::time::now_ms().saturating_mul(1_000_000),
                                );
                            }
                            http::json(StatusCode::OK, r#"{"rate_by_service":{}}"#)
                        }
                        Err(e) => {
                            crate::log_warn!(
                                "trace agent: undecodable {path} payload of {} bytes: {e}",
                                body.len()
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

fn info(routes: &ProxyRoutes) -> String {
    let mut endpoints = vec!["/v0.4/traces", "/v0.5/traces", "/info"];
    endpoints.extend(routes.routes.iter().map(|(p, _)| *p));
    serde_json::json!({
        "version": concat!("tandem-", env!("CARGO_PKG_VERSION")),
        "endpoints": endpoints,
        "client_drop_p0s": false,
        "span_meta_structs": true,
        "long_running_spans": false,
        "config": { "statsd_port": 8125, "receiver_port": 8126 },
    })
    .to_string()
}

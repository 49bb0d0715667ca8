//! The lifecycle endpoints the Datadog Lambda libraries call on `127.0.0.1:8124`:
//! `GET /lambda/hello` (extension detection), `POST /lambda/start-invocation` (body: the
//! event; answers with the trace context for the tracer), `POST /lambda/end-invocation`
//! (body: the response; `x-datadog-invocation-error*` headers), `POST /lambda/flush`.
//! The request id comes from `lambda-runtime-aws-request-id`, else — on-demand only, where
//! invocations never overlap — from the current invocation.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::invocation::{InvocationError, Invocations, TracerIds};
use super::pipeline::TracesPipeline;
use crate::http::{self, ServerHandle};
use hyper::{Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Lambda event and response payloads are at most 6 MB (plus room for encoding).
const MAX_BODY: usize = 8 * 1024 * 1024;
pub(crate) const REQUEST_ID_HEADER: &str = "lambda-runtime-aws-request-id";

/// What the endpoints need from the rest of the agent.
pub(crate) struct Hooks {
    pub invocations: Arc<Invocations>,
    pub traces: Option<Arc<TracesPipeline>>,
    /// The current on-demand invocation, if one started yet (`None` in Managed Instance mode,
    /// where nothing is current).
    pub current_request: Option<Arc<dyn Fn() -> Option<String> + Send + Sync>>,
    /// Asks the agent to flush; the sender is answered when the flush is done.
    pub flush: mpsc::Sender<oneshot::Sender<()>>,
}

pub(crate) async fn start(port: u16, hooks: Hooks) -> std::io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let hooks = Arc::new(hooks);
    http::serve(listener, move |req| {
        let hooks = hooks.clone();
        async move {
            let (parts, body) = req.into_parts();
            let header = |n: &str| http::header(&parts.headers, n).map(str::to_string);
            let path = parts.uri.path();
            match (&parts.method, path) {
                (&Method::GET, "/lambda/hello") => http::json(StatusCode::OK, "{}"),
                (&Method::POST, "/lambda/flush") => {
                    let (tx, rx) = oneshot::channel();
                    if hooks.flush.send(tx).await.is_ok() {
                        let _ = rx.await;
                    }
                    http::json(StatusCode::OK, "{}")
                }
                (&Method::POST, "/lambda/start-invocation" | "/lambda/end-invocation") => {
                    let body = http::read_body(body, MAX_BODY).await.unwrap_or_default();
                    let value: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let current = hooks.current_request.as_ref().and_then(|c| c());
                    let Some(request_id) = header(REQUEST_ID_HEADER).or(current) else {
                        if hooks.current_request.is_some() {
                            crate::log_warn!(
                                "{path} without a {REQUEST_ID_HEADER} header before the first invocation; ignored"
                            );
                        } else {
                            crate::log_warn!(
                                "{path} without a {REQUEST_ID_HEADER} header in Managed Instance mode; ignored"
                            );
                        }
                        return http::json(
                            StatusCode::BAD_REQUEST,
                            r#"{"error":"missing request id"}"#,
                        );
                    };
                    let now_ns = crate::time::now_ms().saturating_mul(1_000_000);
                    if path == "/lambda/start-invocation" {
                        let mut r = http::json(StatusCode::OK, "{}");
                        for (k, v) in hooks.invocations.start(&request_id, &value, now_ns) {
                            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                                r.headers_mut().insert(k, v);
                            }
                        }
                        return r;
                    }
                    let error = header("x-datadog-invocation-error")
                        .filter(|e| e.eq_ignore_ascii_case("true"))
                        .map(|_| InvocationError {
                            message: header("x-datadog-invocation-error-msg").unwrap_or_default(),
                            kind: header("x-datadog-invocation-error-type").unwrap_or_default(),
                            stack: header("x-datadog-invocation-error-stack")
                                .and_then(|s| crate::base64::decode(&s))
                                .and_then(|b| String::from_utf8(b).ok())
                                .unwrap_or_default(),
                        });
                    let response = (!value.is_null()).then_some(&value);
                    let tracer = tracer_ids(&|n| header(n));
                    if let (Some(built), Some(traces)) = (
                        hooks
                            .invocations
                            .end(&request_id, response, error, tracer, now_ns),
                        &hooks.traces,
                    ) {
                        traces.ingest_built(built, now_ns);
                    }
                    http::json(StatusCode::OK, "{}")
                }
                _ => http::respond(StatusCode::NOT_FOUND, "unknown endpoint"),
            }
        }
    })
}

/// The tracer's own trace, from end-invocation's headers (universal instrumentation).
fn tracer_ids(header: &dyn Fn(&str) -> Option<String>) -> TracerIds {
    let id = |n: &str| {
        header(n)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|v| *v != 0)
    };
    let (trace_id_high, tags) =
        super::context::datadog_tags(&header("x-datadog-tags").unwrap_or_default());
    TracerIds {
        trace_id: id("x-datadog-trace-id"),
        trace_id_high,
        span_id: id("x-datadog-span-id"),
        sampling_priority: header("x-datadog-sampling-priority")
            .and_then(|p| p.trim().parse::<f64>().ok())
            .map(|p| p as i32),
        tags,
    }
}

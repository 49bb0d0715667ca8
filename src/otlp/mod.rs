//! The OTLP receiver: OTLP/HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`; protobuf or JSON,
//! gzip) and OTLP/gRPC (the three `Export` methods, unary) on loopback, when their endpoints are
//! set. Decoded requests are mapped as Datadog's OTLP ingestion maps them (`traces`,
//! `metrics`, `logs`) and handed to the same pipelines as every other source. A port that is
//! taken is one warning. Must not ship anything or decide about invocations: logs go to a sink
//! the core gives it.

mod attrs;
mod decode;
mod grpc;
mod json;
mod logs;
mod metrics;
mod receiver;
mod traces;

use crate::config::otlp::OtlpConfig;
use crate::http::ServerHandle;
use crate::logs::Attributed;
use crate::metrics::pipeline::MetricsPipeline;
use crate::traces::pipeline::{TracerInfo, TracesPipeline};
use std::sync::{Arc, Mutex};

pub use decode::Signal;

/// Where logs go: the core attaches the request id its mode allows.
pub type LogSink = Arc<dyn Fn(Vec<Attributed>) + Send + Sync>;

/// What every request handler shares.
pub(crate) struct Receiver {
    cfg: OtlpConfig,
    naming: traces::Naming,
    traces: Option<Arc<TracesPipeline>>,
    metrics: Arc<MetricsPipeline>,
    logs: LogSink,
    translator: Mutex<metrics::Translator>,
    /// Request bodies being read and decoded at once.
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// The running receivers.
#[derive(Default)]
pub struct Servers {
    pub http: Option<ServerHandle>,
    pub grpc: Option<ServerHandle>,
}

impl Servers {
    pub fn all(&self) -> impl Iterator<Item = &ServerHandle> {
        self.http.iter().chain(self.grpc.iter())
    }
}

/// Starts the receivers whose endpoints are set; a port that cannot be bound is one warning
/// (the rest of the extension runs). `traces` is `None` when `DD_TRACE_ENABLED=false`.
pub async fn start(
    cfg: &OtlpConfig,
    traces: Option<Arc<TracesPipeline>>,
    metrics: Arc<MetricsPipeline>,
    logs: LogSink,
) -> Servers {
    if cfg.http.is_none() && cfg.grpc.is_none() {
        return Servers::default();
    }
    let started_ns = u64::try_from(crate::time::now_ms())
        .unwrap_or(0)
        .saturating_mul(1_000_000);
    let receiver = Arc::new(Receiver {
        naming: traces::Naming {
            span_name_as_resource_name: cfg.span_name_as_resource_name,
            remappings: cfg.span_name_remappings.clone(),
        },
        cfg: cfg.clone(),
        traces,
        metrics,
        logs,
        translator: Mutex::new(metrics::Translator::new(started_ns)),
        in_flight: Arc::new(tokio::sync::Semaphore::new(receiver::IN_FLIGHT_BYTES)),
    });
    let mut servers = Servers::default();
    if let Some(addr) = cfg.http {
        servers.http = bind(
            addr,
            "OTLP/HTTP",
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT",
        )
        .await
        .and_then(|l| receiver::serve_http(l, receiver.clone()).ok());
    }
    if let Some(addr) = cfg.grpc {
        servers.grpc = bind(
            addr,
            "OTLP/gRPC",
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT",
        )
        .await
        .and_then(|l| grpc::serve(l, receiver.clone()).ok());
    }
    servers
}

async fn bind(
    addr: std::net::SocketAddr,
    what: &str,
    variable: &str,
) -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => {
            let bound = l.local_addr().unwrap_or(addr);
            crate::log_info!("{what} receiver listening on {bound}");
            Some(l)
        }
        Err(e) => {
            // Another layer (an OpenTelemetry collector) may hold the port: the function and
            // every other listener keep working.
            crate::log_warn!(
                "the {what} receiver cannot listen on {addr} ({e}; {variable}): OTLP data sent there is not received, everything else runs"
            );
            None
        }
    }
}

/// What one request gave: items taken, and items refused with why (a partial success).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub rejected: u64,
    pub message: String,
}

impl Receiver {
    /// Maps and hands on one decoded request of `signal`.
    fn ingest(&self, req: decode::Request) -> Outcome {
        match req {
            decode::Request::Traces(r) => {
                let Some(pipeline) = self.traces.as_ref().filter(|_| self.cfg.traces) else {
                    return self.disabled(
                        "traces",
                        r.resource_spans
                            .iter()
                            .map(|rs| {
                                rs.scope_spans
                                    .iter()
                                    .map(|s| s.spans.len() as u64)
                                    .sum::<u64>()
                            })
                            .sum(),
                    );
                };
                let now_ns = crate::time::now_ms().saturating_mul(1_000_000);
                let mut rejected = 0;
                for rs in &r.resource_spans {
                    let (traces, refused) = traces::map(rs, &self.naming);
                    rejected += refused;
                    let tracer = tracer_info(rs.resource.as_ref().map_or(&[], |r| &r.attributes));
                    let mut batch = pipeline.batch(&tracer, now_ns);
                    for mut t in traces {
                        pipeline.join_otel(&mut t);
                        batch.add(t);
                    }
                    batch.finish();
                }
                if rejected > 0 {
                    ::metrics::counter!("tandem.otlp.dropped", "reason" => "invalid_ids")
                        .increment(rejected);
                    return Outcome {
                        rejected,
                        message: "spans need a 16-byte trace id and an 8-byte span id, not zero"
                            .into(),
                    };
                }
                Outcome::default()
            }
            decode::Request::Metrics(r) => {
                if !self.cfg.metrics {
                    return self.disabled("metrics", r.resource_metrics.len() as u64);
                }
                let (points, refused) =
                    crate::sync::lock(&self.translator).map_counted(&r, &self.cfg);
                for p in points {
                    self.metrics
                        .insert_weighted(&p.name, &p.tags, p.kind, &p.values, p.ts);
                }
                if refused > 0 {
                    ::metrics::counter!("tandem.otlp.dropped", "reason" => "too_many_buckets")
                        .increment(refused);
                    return Outcome {
                        rejected: refused,
                        message: "histogram points may have at most 2,048 buckets".into(),
                    };
                }
                Outcome::default()
            }
            decode::Request::Logs(r) => {
                let records = logs::map(&r);
                if !self.cfg.logs {
                    return self.disabled("logs", records.len() as u64);
                }
                (self.logs)(records);
                Outcome::default()
            }
        }
    }

    /// A signal turned off: accepted (so the SDK does not retry) and counted.
    fn disabled(&self, signal: &str, items: u64) -> Outcome {
        ::metrics::counter!("tandem.otlp.dropped", "reason" => format!("{signal}_disabled"))
            .increment(items);
        Outcome::default()
    }
}

/// The tracer payload's identity for OTLP spans: the SDK's language and version.
fn tracer_info(resource: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> TracerInfo {
    let version = attrs::get_str(resource, "telemetry.sdk.version").unwrap_or_default();
    TracerInfo {
        language: attrs::get_str(resource, "telemetry.sdk.language").unwrap_or_default(),
        tracer_version: format!("otlp-{version}"),
        ..TracerInfo::default()
    }
}

/// The fuzz target's path (`fuzz/`): one body of the signal and encoding the first byte picks
/// (gzip too), decoded, mapped and handed to real pipelines, as a request to either receiver.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(
    data: &[u8],
    cfg: &OtlpConfig,
    traces: Arc<TracesPipeline>,
    metrics: Arc<MetricsPipeline>,
    logs: LogSink,
) {
    let Some((pick, body)) = data.split_first() else {
        return;
    };
    let signal = match pick % 3 {
        0 => decode::Signal::Traces,
        1 => decode::Signal::Metrics,
        _ => decode::Signal::Logs,
    };
    let enc = if pick & 4 == 0 {
        decode::Encoding::Protobuf
    } else {
        decode::Encoding::Json
    };
    let gzip = (pick & 8 != 0).then_some("gzip");
    let mut cfg = cfg.clone();
    cfg.logs = true;
    let receiver = Receiver {
        naming: traces::Naming::default(),
        cfg,
        traces: Some(traces),
        metrics,
        logs,
        translator: Mutex::new(metrics::Translator::new(0)),
        in_flight: Arc::new(tokio::sync::Semaphore::new(1)),
    };
    let decoded = decode::inflate(bytes::Bytes::copy_from_slice(body), gzip)
        .and_then(|b| decode::decode(signal, &b, enc));
    if let Ok(request) = decoded {
        let outcome = receiver.ingest(request);
        let _ = decode::success(signal, enc, outcome.rejected, &outcome.message);
    }
}

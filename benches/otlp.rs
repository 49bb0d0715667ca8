//! OTLP receiver benchmark (a bench binary: it measures and prints). Run with
//! `cargo bench --bench otlp`: OTLP/HTTP protobuf requests of 1,000 spans (10 traces × 100
//! spans, 6 attributes each) and of 1,000 metric points (cumulative counters over 250 tag sets,
//! gauges, explicit histograms), sent over loopback to the real receiver, decoded, mapped as
//! Datadog maps them and taken by the pipelines — client and server on one thread, so the rate is
//! one core's, HTTP included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::sync::Arc;
use std::time::Instant;
use tandem::config::Config;
use tandem::config::source::Source;
use tandem::tags::FunctionContext;

const ROUNDS: usize = 200;

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", Value::StringValue("bench".into()))],
        ..Default::default()
    })
}

fn spans(round: u64) -> Vec<u8> {
    let mut all = Vec::new();
    for t in 0..10u64 {
        for s in 0..100u64 {
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&(round + 1).to_be_bytes());
            trace_id[8..].copy_from_slice(&(t + 1).to_be_bytes());
            all.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: (t * 1000 + s + 1).to_be_bytes().to_vec(),
                parent_span_id: if s == 0 {
                    vec![]
                } else {
                    (t * 1000 + 1).to_be_bytes().to_vec()
                },
                name: format!("op-{s}"),
                kind: if s == 0 { 2 } else { 3 },
                start_time_unix_nano: 1_700_000_000_000_000_000 + s,
                end_time_unix_nano: 1_700_000_000_001_000_000 + s,
                attributes: vec![
                    kv("http.request.method", Value::StringValue("GET".into())),
                    kv("http.route", Value::StringValue("/orders/{id}".into())),
                    kv("db.system", Value::StringValue("postgresql".into())),
                    kv(
                        "db.statement",
                        Value::StringValue("SELECT * FROM orders WHERE id = ?".into()),
                    ),
                    kv("customer", Value::StringValue(format!("c{s}"))),
                    kv("items", Value::IntValue(s as i64)),
                ],
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans: all,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn points(round: u64) -> Vec<u8> {
    let tags = |i: u64| vec![kv("route", Value::StringValue(format!("/r{i}")))];
    let num = |i: u64, v: f64| NumberDataPoint {
        attributes: tags(i),
        start_time_unix_nano: 1,
        time_unix_nano: 1_700_000_000_000_000_000 + round,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let metrics = vec![
        Metric {
            name: "bench.requests".into(),
            data: Some(Data::Sum(Sum {
                data_points: (0..250).map(|i| num(i, (round * 10 + i) as f64)).collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        },
        Metric {
            name: "bench.level".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: (0..250).map(|i| num(i, i as f64)).collect(),
            })),
            ..Default::default()
        },
        Metric {
            name: "bench.latency".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: (0..500)
                    .map(|i| HistogramDataPoint {
                        attributes: tags(i % 250),
                        time_unix_nano: 1_700_000_000_000_000_000,
                        count: 10,
                        sum: Some(100.0),
                        bucket_counts: vec![2, 3, 4, 1],
                        explicit_bounds: vec![1.0, 10.0, 100.0],
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Delta as i32,
            })),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = [("AWS_LAMBDA_FUNCTION_NAME", "bench"), ("DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT", "localhost:0")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (config, _) = Config::load(&Source::from_maps(env, Default::default()));
        let function = FunctionContext::new(&config, Some("bench"), Some("1"));
        let traces = Arc::new(tandem::traces::pipeline::TracesPipeline::new(&config, &function));
        let metrics = Arc::new(tandem::metrics::pipeline::MetricsPipeline::new(&config, function.tags.clone()));
        let servers = tandem::otlp::start(&config.otlp, Some(traces.clone()), metrics.clone(), Arc::new(|_| {})).await;
        let addr = servers.http.as_ref().unwrap().addr;
        let client = reqwest::Client::new();
        for (what, per_request, body) in [("spans", 1000usize, spans as fn(u64) -> Vec<u8>), ("metric points", 1000, points)] {
            let path = if what == "spans" { "traces" } else { "metrics" };
            let bodies: Vec<Vec<u8>> = (0..ROUNDS as u64).map(body).collect();
            let started = Instant::now();
            for b in bodies {
                let r = client
                    .post(format!("http://{addr}/v1/{path}"))
                    .header("content-type", "application/x-protobuf")
                    .body(b)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                // Keep the buffers from filling: a flush takes them, as the extension's would.
                let _ = traces.take(true);
                let _ = metrics.take();
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "OTLP/HTTP protobuf, {what}: {:.0} k/s on one core ({ROUNDS} requests of {per_request}, {:.1} ms each)",
                (ROUNDS * per_request) as f64 / secs / 1000.0,
                secs * 1000.0 / ROUNDS as f64
            );
        }
    });
}

//! Entry points for the fuzz targets (`fuzz/`), built only with the `fuzzing` feature: each takes
//! raw bytes from the fuzzer and drives one remote-input path as the extension does — decode,
//! then the processing that follows — so a panic anywhere on it is found. Must not be used by
//! the extension itself.

use crate::config::Config;
use crate::config::source::Source;
use crate::logs::{Attribution, LogsPipeline};
use crate::tags::FunctionContext;
use crate::traces::invocation::Invocations;
use crate::traces::pipeline::{TracerInfo, TracesPipeline};
use serde_json::Value;
use std::sync::OnceLock;

const NOW_MS: i64 = 1_700_000_000_000;

fn setup() -> &'static (Config, FunctionContext) {
    static SETUP: OnceLock<(Config, FunctionContext)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let env = [
            ("AWS_LAMBDA_FUNCTION_NAME", "fuzz"),
            ("DD_CAPTURE_LAMBDA_PAYLOAD", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (config, _) = Config::load(&Source::from_maps(env, Default::default()));
        let function = FunctionContext::new(&config, Some("fuzz"), Some("1"));
        (config, function)
    })
}

/// A tracer's `/v0.4/traces` or `/v0.5/traces` body (the first byte picks which), then the
/// span processing and the intake encoding.
pub fn tracer_payload(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    let decoded = if which % 2 == 0 {
        crate::traces::msgpack::decode_v04(body)
    } else {
        crate::traces::msgpack::decode_v05(body)
    };
    let Ok(traces) = decoded else {
        return;
    };
    let (config, function) = setup();
    let pipeline = TracesPipeline::new(config, function);
    pipeline.ingest(traces, &TracerInfo::default(), NOW_MS * 1_000_000);
    let _ = crate::traces::encode::agent_payloads(pipeline.take(true), "fuzz", 3);
}

/// A Telemetry API POST body, through the invocation tracker and the logs pipeline (both
/// attribution policies).
pub fn telemetry_batch(data: &[u8]) {
    let (config, function) = setup();
    let batch = crate::lambda::events::parse_batch(data, NOW_MS);
    let mut tracker = crate::invocations::Tracker::new();
    let logs = [Attribution::StreamOrder, Attribution::RecordOnly]
        .map(|a| LogsPipeline::new(config, function.clone(), a));
    for ev in &batch.events {
        let _ = tracker.apply(&ev.event, ev.time_ms);
        for l in &logs {
            l.on_event(ev, tracker.current_request_id());
        }
    }
    for l in &logs {
        let _ = crate::logs::encode::batches(l.drain());
    }
}

/// An invocation event as the Lambda library posts it to `/lambda/start-invocation` (trigger
/// detection, inferred spans, payload capture), then `/lambda/end-invocation` with the same
/// bytes as the response.
pub fn lifecycle_event(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (config, function) = setup();
    let invocations = Invocations::new(config, function);
    let _ = invocations.start("fuzz-request", &event, NOW_MS * 1_000_000);
    let tracer = crate::traces::invocation::TracerIds {
        span_id: Some(7),
        ..Default::default()
    };
    let now = NOW_MS * 1_000_000 + 1;
    if let Some(built) = invocations.end("fuzz-request", Some(&event), None, tracer, now) {
        let pipeline = TracesPipeline::new(config, function);
        pipeline.ingest_built(built, now);
        let _ = pipeline.take(true);
    }
}

/// Trace-context headers (a JSON object of header names to values) and `_datadog` carriers.
pub fn trace_context(data: &[u8]) {
    use crate::config::PropagationStyle::{B3, B3Multi, Datadog, TraceContext};
    let all = crate::traces::context::Extractor::new(&[Datadog, TraceContext, B3Multi, B3]);
    if let Ok(headers) = serde_json::from_slice::<Value>(data)
        && let Some(ctx) = all.headers(&headers)
    {
        let _ = crate::traces::context::to_headers(&ctx, 1);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = all.carrier(&Value::String(text.to_string()));
    }
}

/// Span data as a tracer may send it, through the Agent's obfuscation: the bytes as an SQL query,
/// a Redis command, a Memcached command, a MongoDB/Elasticsearch body and an HTTP URL, with the
/// default switches and with every switch on.
pub fn obfuscation(data: &[u8]) {
    use crate::config::Obfuscation;
    use crate::traces::obfuscate::{Options, span};
    use crate::traces::proto::Span;
    let text = String::from_utf8_lossy(data).into_owned();
    let all_on = Obfuscation {
        http_remove_query_string: true,
        http_remove_paths_with_digits: true,
        redis_remove_all_args: true,
        memcached_keep_command: true,
        mongodb_keep_values: vec!["a".into()],
        elasticsearch_keep_values: vec!["a".into()],
        remove_stack_traces: true,
        ..Obfuscation::default()
    };
    for opts in [Options::with(Obfuscation::default()), Options::with(all_on)] {
        for (kind, key) in [
            ("sql", "sql.query"),
            ("redis", "redis.raw_command"),
            ("memcached", "memcached.command"),
            ("mongodb", "mongodb.query"),
            ("elasticsearch", "elasticsearch.body"),
            ("http", "http.url"),
        ] {
            let mut s = Span {
                r#type: kind.into(),
                resource: text.clone(),
                ..Default::default()
            };
            s.meta.insert(key.into(), text.clone());
            s.meta.insert("error.stack".into(), text.clone());
            span(&mut s, &opts);
        }
    }
}

/// An OTLP request body (the first byte picks signal, protobuf or JSON, and gzip), decoded,
/// mapped and handed to real pipelines, which then encode for the intake.
pub fn otlp(data: &[u8]) {
    use std::sync::Arc;
    let (config, function) = setup();
    let traces = Arc::new(TracesPipeline::new(config, function));
    let metrics = Arc::new(crate::metrics::pipeline::MetricsPipeline::new(
        config,
        function.tags.clone(),
    ));
    let logs = Arc::new(LogsPipeline::new(
        config,
        function.clone(),
        Attribution::StreamOrder,
    ));
    let sink_logs = logs.clone();
    let sink: crate::otlp::LogSink = Arc::new(move |records| {
        for r in records {
            sink_logs.push_attributed(r, Some("fuzz-request"));
        }
    });
    crate::otlp::fuzz(data, &config.otlp, traces.clone(), metrics.clone(), sink);
    let _ = crate::traces::encode::agent_payloads(traces.take(true), "fuzz", 3);
    let _ = crate::metrics::encode::payloads(metrics.take());
    let _ = crate::logs::encode::batches(logs.drain());
}

//! Universal instrumentation under Managed Instance concurrency (issue 12, item 2): 50
//! overlapping invocations, each tracer's placeholder adopted by its own `aws.lambda` span
//! (half arriving before end-invocation, half after), every trace one root with the tracer's
//! children under `aws.lambda`, and no span of one invocation in another's trace.

use super::drive::{post, send_traces, span};
use super::{PLACEHOLDER, T, bin, read};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tandem::traces::proto::Span;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_overlapping_universal_invocations_each_adopt_their_own_placeholder() {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[],
    )
    .await
    .unwrap();
    let lifecycle = h.agent.lifecycle_addr(T).await.unwrap();
    let agent = h.agent.trace_agent_addr(T).await.unwrap();
    let event = read("events/sqs.json");
    let all_started = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50u64)
        .map(|i| {
            let (event, all_started) = (event.clone(), all_started.clone());
            tokio::spawn(async move {
                let id = request_id(700 + i);
                // Each invocation carries its own upstream trace.
                let mut event = event;
                event["Records"][0]["messageAttributes"]["_datadog"]["stringValue"] = json!(
                    json!({"x-datadog-trace-id": (40_000 + i).to_string(), "x-datadog-parent-id": "7",
                        "x-datadog-sampling-priority": "1"}).to_string()
                );
                let r = post(lifecycle, "/lambda/start-invocation", &id, event.to_string(), &[]).await;
                let trace: u64 = r.headers()["x-datadog-trace-id"].to_str().unwrap().parse().unwrap();
                all_started.wait().await;
                let ph = 90_000 + i * 10;
                let spans = json!([[
                    span(trace, ph, 0, "aws.lambda", PLACEHOLDER, json!({"request_id": id, "n": i.to_string()}), json!({})),
                    span(trace, ph + 1, ph, "work", "step", json!({}), json!({})),
                ]]);
                let end = [
                    ("x-datadog-trace-id", trace.to_string()),
                    ("x-datadog-span-id", ph.to_string()),
                    ("x-datadog-sampling-priority", "1".to_string()),
                ];
                if i % 2 == 0 {
                    send_traces(agent, spans).await;
                    post(lifecycle, "/lambda/end-invocation", &id, "{}".into(), &end).await;
                } else {
                    post(lifecycle, "/lambda/end-invocation", &id, "{}".into(), &end).await;
                    send_traces(agent, spans).await;
                }
                (id, trace, ph)
            })
        })
        .collect();
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.unwrap());
    }
    h.shutdown(Duration::from_secs(3)).await.unwrap();
    let spans: Vec<Span> = h.intake.spans();
    assert!(spans.iter().all(|s| s.resource != PLACEHOLDER));
    for (i, (id, trace, ph)) in runs.iter().enumerate() {
        let mine: Vec<&Span> = spans.iter().filter(|s| s.trace_id == *trace).collect();
        let ids: HashSet<u64> = mine.iter().map(|s| s.span_id).collect();
        let roots: Vec<&&Span> = mine
            .iter()
            .filter(|s| !ids.contains(&s.parent_id))
            .collect();
        assert_eq!(roots.len(), 1, "{id}: one root, got {roots:?}");
        assert_eq!(
            (roots[0].name.as_str(), roots[0].parent_id),
            ("aws.sqs", 7),
            "{id}"
        );
        let lambda = mine.iter().find(|s| s.name == "aws.lambda").unwrap();
        assert_eq!(lambda.span_id, *ph, "{id}: the placeholder's id");
        assert_eq!(lambda.meta["request_id"], *id);
        assert_eq!(
            lambda.meta["n"],
            i.to_string(),
            "{id}: its own placeholder's tags"
        );
        let work = mine.iter().find(|s| s.name == "work").unwrap();
        assert_eq!(
            work.parent_id, *ph,
            "{id}: the tracer's child under aws.lambda"
        );
        assert_eq!(
            mine.len(),
            3,
            "{id}: aws.sqs, aws.lambda, work and nothing else"
        );
    }
}

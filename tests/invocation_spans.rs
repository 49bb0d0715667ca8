//! End-to-end invocation spans: the lifecycle API, trigger fixtures, inferred spans and trace
//! propagation, in both modes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;
use tandem::traces::proto::Span;
use tandem_testkit::lifecycle::{self, ancestors};
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const T: Duration = Duration::from_secs(10);
const UPSTREAM: u64 = 1_111_111_111_111_111_111;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn spans(h: &Harness) -> Vec<Span> {
    h.intake.spans()
}

/// (fixture, event source, inferred span names outermost first, upstream context number)
const TRIGGERS: &[(&str, &str, &[&str], Option<u64>)] = &[
    ("apigw_rest", "api-gateway", &["aws.apigateway"], Some(1)),
    ("apigw_http", "api-gateway", &["aws.httpapi"], Some(2)),
    (
        "apigw_websocket",
        "api-gateway",
        &["aws.apigateway"],
        Some(3),
    ),
    (
        "function_url",
        "lambda-function-url",
        &["aws.lambda.url"],
        Some(4),
    ),
    ("alb", "application-load-balancer", &[], Some(5)),
    ("sqs", "sqs", &["aws.sqs"], Some(6)),
    ("sns", "sns", &["aws.sns"], Some(7)),
    ("sns_sqs", "sqs", &["aws.sns", "aws.sqs"], Some(8)),
    ("eventbridge", "eventbridge", &["aws.eventbridge"], Some(9)),
    (
        "eventbridge_sqs",
        "sqs",
        &["aws.eventbridge", "aws.sqs"],
        Some(10),
    ),
    ("kinesis", "kinesis", &["aws.kinesis"], Some(11)),
    ("dynamodb", "dynamodb", &["aws.dynamodb"], None),
    ("s3", "s3", &["aws.s3"], None),
    ("stepfunctions", "states", &[], Some(12)),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_gets_its_inferred_span_and_upstream_context() {
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[("DD_SERVICE_MAPPING", "lambda_sqs:queues")],
    )
    .await
    .unwrap();
    let addr = h.agent.lifecycle_addr(T).await.expect("lifecycle address");
    assert_eq!(
        reqwest::get(format!("http://{addr}/lambda/hello"))
            .await
            .unwrap()
            .status(),
        200
    );
    let mut ids = Vec::new();
    for (n, (name, ..)) in TRIGGERS.iter().enumerate() {
        let id = request_id(n as u64);
        let r = lifecycle::call(addr, "/lambda/start-invocation", &id, fixture(name), &[]).await;
        assert_eq!(r.status(), 200);
        let tid = r
            .headers()
            .get("x-datadog-trace-id")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        // Only an upstream context is handed over; else the tracer starts its own trace.
        assert_eq!(
            tid,
            TRIGGERS[n].3.map(|k| UPSTREAM + k),
            "{name}: trace id handed to the tracer"
        );
        let status = if *name == "apigw_rest" {
            r#"{"statusCode": 502}"#
        } else {
            r#"{"statusCode": 200}"#
        };
        assert_eq!(
            lifecycle::call(addr, "/lambda/end-invocation", &id, status.into(), &[])
                .await
                .status(),
            200
        );
        ids.push(id);
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let all = spans(&h);
    for ((name, source, inferred, upstream), id) in TRIGGERS.iter().zip(&ids) {
        let lambda = all
            .iter()
            .find(|s| s.name == "aws.lambda" && s.meta.get("request_id") == Some(id))
            .unwrap_or_else(|| panic!("{name}: no aws.lambda span"));
        assert_eq!(
            lambda
                .meta
                .get("function_trigger.event_source")
                .map(String::as_str),
            Some(*source),
            "{name}"
        );
        assert_eq!(lambda.resource, "tandem-test");
        let chain = ancestors(&all, lambda);
        let names: Vec<&str> = chain.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, *inferred, "{name}: inferred spans");
        for s in &chain {
            assert_eq!(s.trace_id, lambda.trace_id, "{name}");
            assert_eq!(s.meta["_dd.origin"], "lambda");
        }
        match upstream {
            Some(k) => {
                assert_eq!(lambda.trace_id, UPSTREAM + k, "{name}: upstream trace id");
                let top = chain.first().copied().unwrap_or(lambda);
                // A Step Functions task's parent is derived from its state (Datadog's rule).
                let parent = if *name == "stepfunctions" {
                    7_796_625_467_277_269_938
                } else {
                    2222 + k
                };
                assert_eq!(top.parent_id, parent, "{name}: upstream parent");
            }
            None => assert!(
                chain.first().is_some_and(|s| s.parent_id == 0),
                "{name}: a new trace"
            ),
        }
    }
    // Service, resource and tags of a few inferred spans, as Datadog documents them.
    let by_name = |n: &str| all.iter().find(|s| s.name == n).unwrap();
    let rest = all
        .iter()
        .find(|s| s.name == "aws.apigateway" && s.r#type == "http")
        .unwrap();
    assert_eq!(
        (rest.service.as_str(), rest.resource.as_str()),
        (
            "abc123.execute-api.us-east-1.amazonaws.com",
            "GET /prod/users/{user_id}"
        )
    );
    assert_eq!(
        rest.meta["http.url"],
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/users/42"
    );
    assert_eq!(rest.meta["http.method"], "GET");
    let rest_lambda = all
        .iter()
        .find(|s| s.name == "aws.lambda" && s.parent_id == rest.span_id)
        .unwrap();
    assert_eq!(
        (
            rest_lambda.meta["http.status_code"].as_str(),
            rest_lambda.error
        ),
        ("502", 1)
    );
    let sqs = all
        .iter()
        .find(|s| s.name == "aws.sqs" && s.resource == "orders-queue")
        .unwrap();
    assert_eq!(sqs.service, "queues", "DD_SERVICE_MAPPING applies");
    assert_eq!(by_name("aws.sns").resource, "orders-topic");
    assert_eq!(by_name("aws.eventbridge").resource, "orders-bus");
    assert_eq!(by_name("aws.kinesis").resource, "orders-stream");
    assert_eq!(by_name("aws.dynamodb").resource, "INSERT orders");
    assert_eq!(by_name("aws.s3").resource, "orders-bucket");
    assert_eq!(by_name("aws.httpapi").resource, "POST /orders");
    // Only the first invocation is a cold start.
    let cold: Vec<&Span> = all
        .iter()
        .filter(|s| s.name == "aws.lambda" && s.meta["cold_start"] == "true")
        .collect();
    assert_eq!(cold.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_managed_invocations_never_mix() {
    let mut h = Harness::start(
        bin(),
        SimMode::ManagedInstance,
        TelemetryAnswer::Accept,
        &[],
    )
    .await
    .unwrap();
    let addr = h.agent.lifecycle_addr(T).await.unwrap();
    let usable = [
        "apigw_rest",
        "apigw_websocket",
        "function_url",
        "alb",
        "sqs",
        "sns",
        "eventbridge",
        "eventbridge_sqs",
        "stepfunctions",
    ];
    let jobs: Vec<(String, u64, &str)> = (0..50)
        .map(|i| {
            (
                request_id(500 + i),
                9_000_000_000_000 + i * 7919,
                usable[i as usize % usable.len()],
            )
        })
        .collect();
    // All start, overlapping; then all end in reverse order, some with an error.
    let starts: Vec<_> = jobs
        .iter()
        .map(|(id, trace, name)| {
            let body = fixture(name).replace(
                &(UPSTREAM
                    + TRIGGERS
                        .iter()
                        .find(|t| t.0 == *name)
                        .and_then(|t| t.3)
                        .unwrap())
                .to_string(),
                &trace.to_string(),
            );
            let id = id.clone();
            tokio::spawn(async move {
                lifecycle::call(addr, "/lambda/start-invocation", &id, body, &[])
                    .await
                    .status()
            })
        })
        .collect();
    for s in starts {
        assert_eq!(s.await.unwrap(), 200);
    }
    for (i, (id, ..)) in jobs.iter().enumerate().rev() {
        let err: &[(&str, &str)] = if i % 7 == 0 {
            &[
                ("x-datadog-invocation-error", "true"),
                ("x-datadog-invocation-error-msg", "boom"),
                ("x-datadog-invocation-error-type", "ValueError"),
            ]
        } else {
            &[]
        };
        assert_eq!(
            lifecycle::call(addr, "/lambda/end-invocation", id, "{}".into(), err)
                .await
                .status(),
            200
        );
    }
    // Without the request id header, Managed Instance mode cannot guess.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/lambda/start-invocation"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    h.shutdown(Duration::from_secs(2)).await.unwrap();

    let all = spans(&h);
    let lambdas: Vec<&Span> = all.iter().filter(|s| s.name == "aws.lambda").collect();
    assert_eq!(lambdas.len(), 50);
    for (i, (id, trace, name)) in jobs.iter().enumerate() {
        let mine: Vec<&&Span> = lambdas
            .iter()
            .filter(|s| s.meta["request_id"] == *id)
            .collect();
        assert_eq!(mine.len(), 1, "{id}");
        let lambda = mine[0];
        assert_eq!(lambda.trace_id, *trace, "{name}: its own trace id");
        assert_eq!(lambda.error, i32::from(i % 7 == 0), "{id}");
        if i % 7 == 0 {
            assert_eq!(
                (
                    lambda.meta["error.msg"].as_str(),
                    lambda.meta["error.type"].as_str()
                ),
                ("boom", "ValueError")
            );
        }
        // Every span of this trace belongs to this invocation only.
        for s in all.iter().filter(|s| {
            s.trace_id == *trace
                && matches!(s.name.as_str(), "aws.lambda" | "aws.lambda.cold_start")
        }) {
            assert_eq!(
                &s.meta["request_id"], id,
                "a Lambda span of another invocation in this trace"
            );
        }
        for a in ancestors(&all, lambda) {
            assert_eq!(a.trace_id, *trace);
        }
    }
}

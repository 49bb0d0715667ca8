//! Payload capture (issue 12, item 5): JSON inside the event's strings is expanded into nested
//! tags, secret-looking keys are redacted at every depth (in headers, in bodies, in JSON inside
//! JSON), and `DD_APM_REPLACE_TAGS` rules apply to captured tags like to any other.

use super::drive::post;
use super::{T, bin};
use serde_json::json;
use std::time::Duration;
use tandem::traces::proto::Span;
use tandem_testkit::platform::{SimMode, TelemetryAnswer};
use tandem_testkit::{Harness, request_id};

const SECRETS: [&str; 7] = [
    "hunter2",
    "s3cr3t-bearer",
    "c00kie",
    "k3y-value",
    "t0ken-value",
    "inner-s3cret",
    "sess-value",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_payloads_never_carry_secrets_and_obey_replace_rules() {
    let rules = json!([{"name": "function.request.headers.X-Customer-Id", "pattern": "cust-[0-9]+", "repl": "cust-?"}]).to_string();
    let mut h = Harness::start(
        bin(),
        SimMode::OnDemand,
        TelemetryAnswer::Accept,
        &[
            ("DD_CAPTURE_LAMBDA_PAYLOAD", "true"),
            ("DD_APM_REPLACE_TAGS", &rules),
        ],
    )
    .await
    .unwrap();
    let addr = h.agent.lifecycle_addr(T).await.unwrap();
    let body = json!({
        "order": {"id": 42, "items": [{"sku": "A1"}]},
        "password": "hunter2",
        "nested": {"deeper": {"api_key": "k3y-value", "Token": "t0ken-value"}},
        "note": json!({"secret": "inner-s3cret"}).to_string(),
    });
    let event = json!({
        "resource": "/orders", "path": "/orders", "httpMethod": "POST",
        "headers": {"X-Customer-Id": "cust-123", "Authorization": "Bearer s3cr3t-bearer", "COOKIE": "sid=c00kie"},
        "body": body.to_string(),
        "requestContext": {"resourcePath": "/orders", "httpMethod": "POST", "path": "/orders", "apiId": "a1",
            "stage": "prod", "domainName": "a1.execute-api.us-east-1.amazonaws.com", "requestTimeEpoch": 1_700_000_000_000u64},
    });
    let response = json!({"statusCode": 201, "body": json!({"session": "sess-value", "ok": true}).to_string()});
    let id = request_id(1);
    assert_eq!(
        post(
            addr,
            "/lambda/start-invocation",
            &id,
            event.to_string(),
            &[]
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        post(
            addr,
            "/lambda/end-invocation",
            &id,
            response.to_string(),
            &[]
        )
        .await
        .status(),
        200
    );
    h.shutdown(Duration::from_secs(2)).await.unwrap();

    let requests = h.intake.accepted("/api/v0.2/traces");
    for r in &requests {
        let text = String::from_utf8_lossy(&r.body);
        for s in SECRETS {
            assert!(!text.contains(s), "{s} reached the intake");
        }
    }
    let spans: Vec<Span> = h.intake.spans();
    let lambda = spans.iter().find(|s| s.name == "aws.lambda").unwrap();
    let m = &lambda.meta;
    assert_eq!(m["function.request.body.order.id"], "42");
    assert_eq!(m["function.request.body.order.items.0.sku"], "A1");
    assert_eq!(m["function.request.body.password"], "redacted");
    assert_eq!(m["function.request.body.nested.deeper.api_key"], "redacted");
    assert_eq!(m["function.request.body.nested.deeper.Token"], "redacted");
    assert_eq!(m["function.request.body.note.secret"], "redacted");
    assert_eq!(m["function.request.headers.Authorization"], "redacted");
    assert_eq!(m["function.request.headers.COOKIE"], "redacted");
    assert_eq!(
        m["function.request.headers.X-Customer-Id"], "cust-?",
        "the replace rule applies"
    );
    assert_eq!(m["function.response.body.ok"], "true");
    assert_eq!(m["function.response.body.session"], "redacted");
    assert_eq!(m["http.status_code"], "201");
}

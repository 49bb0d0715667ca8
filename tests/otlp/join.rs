//! OTel spans meet their invocation: a Datadog Lambda library reports the invocation through
//! the lifecycle API (`aws.lambda` is built at end-invocation), an OTel SDK exports its handler
//! span carrying `faas.invocation_id` — before end-invocation for one request, after it for the
//! other. Whichever arrives second links to the first.

use super::{T, agent};
use serde_json::json;
use std::time::Duration;
use tandem_testkit::lifecycle;
use tandem_testkit::platform::SimMode;
use tandem_testkit::request_id;

async fn export(http: u16, n: u64, rid: &str) {
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": format!("{:032x}", 0xfeed_0000_u64 + n), "spanId": format!("{:016x}", 0x500 + n),
        "name": "handler", "kind": 2, "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000002000000",
        "attributes": [{"key": "faas.invocation_id", "value": {"stringValue": rid}}]
    }]}]}]});
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{http}/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_spans_and_the_aws_lambda_span_link_whichever_comes_first() {
    let (mut h, http, _) = agent(SimMode::OnDemand, &[]).await;
    let addr = h.agent.lifecycle_addr(T).await.expect("lifecycle address");
    let (early, late) = (request_id(71), request_id(72));
    for (n, rid) in [(1, &early), (2, &late)] {
        let r = lifecycle::call(addr, "/lambda/start-invocation", rid, "{}".into(), &[]).await;
        assert_eq!(r.status(), 200);
        if n == 1 {
            export(http, n, rid).await;
        }
        let r = lifecycle::call(addr, "/lambda/end-invocation", rid, "{}".into(), &[]).await;
        assert_eq!(r.status(), 200);
        if n == 2 {
            export(http, n, rid).await;
        }
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let spans = h.intake.spans();
    let lambda = |rid: &str| {
        spans
            .iter()
            .find(|s| {
                s.name == "aws.lambda" && s.meta.get("request_id").map(String::as_str) == Some(rid)
            })
            .unwrap_or_else(|| panic!("no aws.lambda for {rid}"))
    };
    let otel = |n: u64| spans.iter().find(|s| s.span_id == 0x500 + n).unwrap();
    // OTel first: aws.lambda links to it.
    let l1 = lambda(&early);
    assert_eq!(l1.span_links.len(), 1, "{l1:?}");
    assert_eq!(
        (l1.span_links[0].trace_id, l1.span_links[0].span_id),
        (0xfeed_0001, 0x501)
    );
    assert!(otel(1).span_links.is_empty());
    // aws.lambda first: the OTel span links to it.
    let l2 = lambda(&late);
    let o2 = otel(2);
    assert_eq!(o2.span_links.len(), 1, "{o2:?}");
    assert_eq!(
        (o2.span_links[0].trace_id, o2.span_links[0].span_id),
        (l2.trace_id, l2.span_id)
    );
}

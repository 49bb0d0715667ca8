#![allow(clippy::indexing_slicing)] // test code: a panic is a failed test

use super::*;
use serde_json::json;

fn opts<'a>(mapping: &'a BTreeMap<String, String>, extractor: &'a Extractor) -> Options<'a> {
    Options {
        service_mapping: mapping,
        managed_services: true,
        representation: true,
        region: "us-east-1",
        extractor,
    }
}

/// Datadog's resource parameterisation (issue 12, item 3).
#[test]
fn api_paths_are_parameterised_as_datadog_does() {
    for (path, want) in [
        (
            "/users/12345/friends/67890",
            "/users/{user_id}/friends/{friend_id}",
        ),
        ("/users/{user_id}/profile", "/users/{user_id}/profile"),
        (
            "/api/v1/users/12345/settings",
            "/api/v1/users/{user_id}/settings",
        ),
        (
            "/orders/123e4567-e89b-12d3-a456-426614174000/items",
            "/orders/{order_id}/items",
        ),
        ("/ids/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/ids/{id}"),
        ("/42", "/{id}"),
        ("/health", "/health"),
    ] {
        assert_eq!(http::parameterize(path), want, "{path}");
    }
}

/// The vectors Datadog's libraries publish for the Step Functions rule: the same execution and
/// state give the same ids in every tracer and in the extension.
#[test]
fn step_function_ids_follow_datadogs_rule() {
    let exec = "arn:aws:states:us-east-1:425362996713:execution:agocsTestSF:bc9f281c-3daa-4e5a-9a60-471a3810bf44";
    assert_eq!(
        stepfunctions::trace_id(exec),
        (5_744_042_798_732_701_615, 0x1914_fe77_89eb_32be)
    );
    assert_eq!(
        stepfunctions::trace_id(
            "arn:aws:states:sa-east-1:425362996713:stateMachine:MyStateMachine-b276uka1j"
        ),
        (1_680_583_253_837_593_461, 6_984_552_746_569_958_392)
    );
    let express = "arn:aws:states:sa-east-1:601427271234:express:DatadogStateMachine:acaf1a67-336a-e854-1599-2a627eb2dd8a:c8baf081-31f1-464d-971f-70cb17d01111";
    assert_eq!(
        stepfunctions::parent_id(express, "step-one", "2022-12-08T21:08:19.224Z", 0, 0),
        4_340_734_536_022_949_921
    );
    assert_eq!(
        stepfunctions::parent_id(express, "step-one", "2022-12-08T21:08:19.224Y", 0, 0),
        981_693_280_319_792_699
    );
    let event = json!({"Execution": {"Id": exec}, "State": {"Name": "agocsTest1",
        "EnteredTime": "2024-07-30T19:55:53.018Z"},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:425362996713:stateMachine:agocsTestSF"}});
    let (m, e) = (BTreeMap::new(), Extractor::default());
    let t = detect(&event, &opts(&m, &e));
    let ctx = t.context.unwrap();
    assert_eq!(
        (ctx.trace_id, ctx.trace_id_high, ctx.parent_id),
        (
            5_744_042_798_732_701_615,
            0x1914_fe77_89eb_32be,
            2_902_498_116_043_018_663
        )
    );
    assert_eq!(t.source, "states");
    assert_eq!(
        t.source_arn.as_deref(),
        Some("arn:aws:states:us-east-1:425362996713:stateMachine:agocsTestSF")
    );
}

/// Span pointers: the hashes Datadog's span-pointer rules give for an S3 object and a
/// DynamoDB item, so the writer's span and ours link.
#[test]
fn span_pointer_hashes_match_datadogs() {
    assert_eq!(
        stores::pointer_hash(&[
            "test-bucket",
            "test/key",
            "0123456789abcdef0123456789abcdef"
        ]),
        "40df87dbfdf59f32253a2668c23e51b4"
    );
    assert_eq!(
        stores::pointer_hash(&["TestTable", "id", "abc123", "", ""]),
        "69706c9e1e41a2f0cf8c0650f91cb0c2"
    );
}

#[test]
fn service_names_mapping_and_representation() {
    let e = Extractor::default();
    let mapping: BTreeMap<String, String> =
        [("lambda_sns".to_string(), "topics".to_string())].into();
    let sqs = json!({"Records": [{"eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:MyQueue", "attributes": {"ApproximateReceiveCount": "2"}}]});
    let t = detect(&sqs, &opts(&mapping, &e));
    assert_eq!(t.inferred[0].span.service, "MyQueue");
    assert!(t.tags.contains(&("retry_count".into(), "2".into())));
    let mut off = opts(&mapping, &e);
    off.representation = false;
    assert_eq!(detect(&sqs, &off).inferred[0].span.service, "sqs");
    let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"TopicArn": "arn:aws:sns:us-east-1:1:t"}}]});
    assert_eq!(detect(&sns, &off).inferred[0].span.service, "topics");
}

#[test]
fn b3_styles_only_when_asked() {
    use crate::config::PropagationStyle::{B3, B3Multi};
    let event = json!({"headers": {"x-b3-traceid": "0000000000000000000000000000000a",
        "x-b3-spanid": "000000000000000b", "x-b3-sampled": "1"}});
    let m = BTreeMap::new();
    let default = Extractor::default();
    assert!(detect(&event, &opts(&m, &default)).context.is_none());
    let b3 = Extractor::new(&[B3Multi, B3]);
    let ctx = detect(&event, &opts(&m, &b3)).context.unwrap();
    assert_eq!(
        (ctx.trace_id, ctx.parent_id, ctx.sampling_priority),
        (10, 11, Some(1))
    );
    let single = json!({"headers": {"b3": "000000000000000c-000000000000000d-d"}});
    let ctx = detect(&single, &opts(&m, &b3)).context.unwrap();
    assert_eq!(
        (ctx.trace_id, ctx.parent_id, ctx.sampling_priority),
        (12, 13, Some(2))
    );
}

/// A Lambda authorizer instrumented by Datadog leaves the context, base64, in its context; the
/// API's own headers win when they carry one.
#[test]
fn lambda_authorizer_context_is_read() {
    let event = json!({"resource": "/a", "path": "/a", "httpMethod": "GET", "headers": {},
        "requestContext": {"httpMethod": "GET", "path": "/a", "resourcePath": "/a", "apiId": "x",
            "stage": "s", "domainName": "x.execute-api.us-east-1.amazonaws.com",
            "authorizer": {"_datadog": "eyJ4LWRhdGFkb2ctdHJhY2UtaWQiOiAiNTUiLCAieC1kYXRhZG9nLXBhcmVudC1pZCI6ICI2NiIsICJ4LWRhdGFkb2ctc2FtcGxpbmctcHJpb3JpdHkiOiAiMSJ9"}}});
    let (m, e) = (BTreeMap::new(), Extractor::default());
    let ctx = detect(&event, &opts(&m, &e)).context.unwrap();
    assert_eq!((ctx.trace_id, ctx.parent_id), (55, 66));
}

/// A context in `request.headers` (an invoke that forwards its caller's headers there).
#[test]
fn request_headers_carry_a_context() {
    let event =
        json!({"request": {"headers": {"x-datadog-trace-id": "77", "x-datadog-parent-id": "88"}}});
    let (m, e) = (BTreeMap::new(), Extractor::default());
    let ctx = detect(&event, &opts(&m, &e)).context.unwrap();
    assert_eq!((ctx.trace_id, ctx.parent_id), (77, 88));
}

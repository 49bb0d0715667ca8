use super::*;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::ScopeSpans;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn span(kind: SpanKind, attrs: Vec<KeyValue>) -> OtelSpan {
    OtelSpan {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "span-name".into(),
        kind: kind as i32,
        attributes: attrs,
        ..Default::default()
    }
}

fn one(s: OtelSpan, naming: &Naming) -> Span {
    let rs = ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "svc")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![s],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (mut traces, rejected) = map(&rs, naming);
    assert_eq!(rejected, 0);
    traces.remove(0).remove(0)
}

#[test]
fn names_follow_datadogs_rules() {
    let n = Naming::default();
    let cases = [
        (
            SpanKind::Server,
            vec![kv("http.request.method", "GET"), kv("http.route", "/a")],
            "http.server.request",
            "GET /a",
        ),
        (
            SpanKind::Client,
            vec![kv("db.system", "Redis"), kv("db.statement", "GET k")],
            "redis.query",
            "GET k",
        ),
        (
            SpanKind::Consumer,
            vec![
                kv("messaging.system", "SQS"),
                kv("messaging.operation", "receive"),
                kv("messaging.destination.name", "q"),
            ],
            "sqs.receive",
            "receive q",
        ),
        (
            SpanKind::Client,
            vec![
                kv("rpc.system", "aws-api"),
                kv("rpc.service", "DynamoDB"),
                kv("rpc.method", "GetItem"),
            ],
            "aws.dynamodb.request",
            "GetItem DynamoDB",
        ),
        (
            SpanKind::Server,
            vec![kv("faas.trigger", "http")],
            "http.invoke",
            "span-name",
        ),
        (SpanKind::Internal, vec![], "internal", "span-name"),
        (
            SpanKind::Server,
            vec![
                kv("operation.name", "custom.op"),
                kv("resource.name", "custom.res"),
            ],
            "custom.op",
            "custom.res",
        ),
    ];
    for (kind, attrs, name, resource) in cases {
        let s = one(span(kind, attrs), &n);
        assert_eq!((s.name.as_str(), s.resource.as_str()), (name, resource));
        assert_eq!(s.service, "svc");
    }
    let as_resource = Naming {
        span_name_as_resource_name: true,
        remappings: [("span-name".to_string(), "renamed".to_string())].into(),
    };
    assert_eq!(
        one(span(SpanKind::Server, vec![]), &as_resource).name,
        "renamed"
    );
}

#[test]
fn ids_of_the_wrong_length_are_refused_and_counted() {
    let mut s = span(SpanKind::Internal, vec![]);
    s.trace_id = vec![1; 8];
    let rs = ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![s, span(SpanKind::Internal, vec![])],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (traces, rejected) = map(&rs, &Naming::default());
    assert_eq!(rejected, 1);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0][0].service, NO_SERVICE);
    assert_eq!(traces[0][0].meta["_dd.p.tid"], "0101010101010101");
}

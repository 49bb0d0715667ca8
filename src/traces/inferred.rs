//! Trigger detection and inferred spans: from the invocation event, which AWS service invoked
//! the function, the span that stands for it (API Gateway REST/HTTP/WebSocket, Function URLs,
//! SQS, SNS, SNS→SQS, EventBridge (direct, via SQS or SNS), Kinesis, DynamoDB Streams, S3),
//! trigger tags (ALB and Step Functions get tags only), and the upstream trace context the
//! event carries. Pure: ids and end times are set by the invocation.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

mod messaging;

use super::context::{self, TraceContext};
use super::proto::Span;
use messaging::{eventbridge_span, kinesis, sns_span, sqs};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One inferred span before ids are assigned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inferred {
    pub span: Span,
    /// Synchronous triggers (HTTP) last until the invocation ends; asynchronous ones end
    /// when the function starts.
    pub synchronous: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Trigger {
    /// `function_trigger.event_source`.
    pub source: &'static str,
    pub source_arn: Option<String>,
    /// Outermost first (e.g. SNS, then the SQS queue it fed).
    pub inferred: Vec<Inferred>,
    pub context: Option<TraceContext>,
    /// Tags for the `aws.lambda` span (`http.method`, `http.url`, …).
    pub tags: Vec<(String, String)>,
}

pub(crate) struct Options<'a> {
    pub service_mapping: &'a BTreeMap<String, String>,
    pub managed_services: bool,
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

fn n(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|x| x.as_f64().or_else(|| x.as_str()?.parse().ok()))
}

fn ms_to_ns(ms: f64) -> i64 {
    (ms * 1e6) as i64
}

/// `None` also past what nanoseconds since 1970 can hold (year 2262): the time comes from the
/// event, so from anyone.
fn rfc3339_ns(t: &str) -> Option<i64> {
    crate::time::parse_rfc3339_ms(t)?.checked_mul(1_000_000)
}

fn last_segment(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

impl Options<'_> {
    /// Service of an inferred span: a mapping by specific name, then by generic key, else the default.
    fn service(&self, specific: &str, generic: &str, default: &str) -> String {
        self.service_mapping
            .get(specific)
            .or_else(|| self.service_mapping.get(generic))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

fn span(
    name: &str,
    service: String,
    resource: String,
    start: i64,
    meta: &[(&str, String)],
) -> Span {
    let mut sp = Span {
        name: name.into(),
        service,
        resource,
        start,
        r#type: "web".into(),
        ..Default::default()
    };
    sp.meta = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    sp.meta.insert("operation_name".into(), name.into());
    sp.meta
        .insert("_inferred_span.tag_source".into(), "self".into());
    sp.meta
        .insert("_inferred_span.synchronicity".into(), "async".into());
    sp.metrics.insert("_dd.top_level".into(), 1.0);
    sp
}

fn sync(mut i: Span) -> Inferred {
    i.meta
        .insert("_inferred_span.synchronicity".into(), "sync".into());
    i.meta.insert("span.kind".into(), "server".into());
    Inferred {
        span: i,
        synchronous: true,
    }
}

fn asynchronous(i: Span) -> Inferred {
    Inferred {
        span: i,
        synchronous: false,
    }
}

/// Detects the trigger of `event`.
pub(crate) fn detect(event: &Value, opts: &Options<'_>) -> Trigger {
    let mut t = detect_inner(event, opts);
    if !opts.managed_services {
        t.inferred.clear();
    }
    t
}

fn detect_inner(event: &Value, opts: &Options<'_>) -> Trigger {
    let headers = event.get("headers").and_then(Value::as_object);
    let header_ctx = headers.and_then(context::extract);
    let rc = event.get("requestContext");
    if let Some(rc) = rc {
        if rc.get("elb").is_some() {
            let method = s(event, &["httpMethod"]).unwrap_or("").to_string();
            let path = s(event, &["path"]).unwrap_or("").to_string();
            return Trigger {
                source: "application-load-balancer",
                source_arn: s(rc, &["elb", "targetGroupArn"]).map(str::to_string),
                context: header_ctx,
                tags: vec![
                    ("http.method".into(), method),
                    ("http.url_details.path".into(), path),
                ],
                ..Default::default()
            };
        }
        let domain = s(rc, &["domainName"]).unwrap_or("").to_string();
        let api = s(rc, &["apiId"]).unwrap_or("").to_string();
        if domain.contains(".lambda-url.") {
            let method = s(rc, &["http", "method"]).unwrap_or("").to_string();
            let path = s(rc, &["http", "path"]).unwrap_or("/").to_string();
            let service = opts.service(&domain, "lambda_url", &domain);
            let start = ms_to_ns(n(rc, &["timeEpoch"]).unwrap_or(0.0));
            let meta = [
                ("http.method", method.clone()),
                ("http.url", format!("https://{domain}{path}")),
                ("endpoint", path.clone()),
                ("request_id", s(rc, &["requestId"]).unwrap_or("").into()),
            ];
            return http_trigger(
                "lambda-function-url",
                None,
                sync(span(
                    "aws.lambda.url",
                    service,
                    format!("{method} {path}"),
                    start,
                    &meta,
                )),
                header_ctx,
                &method,
                &domain,
                &path,
            );
        }
        if let (Some(event_type), Some(route)) = (s(rc, &["eventType"]), s(rc, &["routeKey"])) {
            let service = opts.service(&api, "lambda_api_gateway", &domain);
            let start = ms_to_ns(n(rc, &["requestTimeEpoch"]).unwrap_or(0.0));
            let meta = [
                ("apiid", api.clone()),
                ("stage", s(rc, &["stage"]).unwrap_or("").into()),
                ("event_type", event_type.into()),
                (
                    "connection_id",
                    s(rc, &["connectionId"]).unwrap_or("").into(),
                ),
                ("endpoint", route.into()),
            ];
            let sp = sync(span(
                "aws.apigateway.websocket",
                service,
                route.to_string(),
                start,
                &meta,
            ));
            return Trigger {
                source: "api-gateway",
                inferred: vec![sp],
                context: header_ctx,
                ..Default::default()
            };
        }
        if let Some(method) = s(rc, &["http", "method"]) {
            let path = s(rc, &["http", "path"]).unwrap_or("/").to_string();
            let route = s(event, &["routeKey"]).unwrap_or("").to_string();
            let route_path = route
                .split_once(' ')
                .map_or(path.clone(), |(_, p)| p.to_string());
            let start = ms_to_ns(n(rc, &["timeEpoch"]).unwrap_or(0.0));
            let request = ApiRequest {
                api: &api,
                domain: &domain,
                method,
                path: &path,
                route: &route_path,
            };
            let sp = request.span("aws.httpapi", rc, start, opts);
            return http_trigger("api-gateway", None, sp, header_ctx, method, &domain, &path);
        }
        if let Some(method) = s(event, &["httpMethod"]) {
            let path = s(event, &["path"]).unwrap_or("/").to_string();
            let resource_path = s(event, &["resource"]).unwrap_or(&path).to_string();
            let start = ms_to_ns(n(rc, &["requestTimeEpoch"]).unwrap_or(0.0));
            let request = ApiRequest {
                api: &api,
                domain: &domain,
                method,
                path: &path,
                route: &resource_path,
            };
            let sp = request.span("aws.apigateway.rest", rc, start, opts);
            return http_trigger("api-gateway", None, sp, header_ctx, method, &domain, &path);
        }
    }
    if let Some(record) = event.get("Records").and_then(|r| r.get(0)) {
        let source = s(record, &["eventSource"])
            .or_else(|| s(record, &["EventSource"]))
            .unwrap_or("");
        return match source {
            "aws:sqs" => sqs(record, opts),
            "aws:sns" => {
                let (sp, ctx, arn) = sns_span(record.get("Sns").unwrap_or(&Value::Null), opts);
                Trigger {
                    source: "sns",
                    source_arn: Some(arn),
                    inferred: vec![asynchronous(sp)],
                    context: ctx,
                    ..Default::default()
                }
            }
            "aws:kinesis" => kinesis(record, opts),
            "aws:dynamodb" => {
                let arn = s(record, &["eventSourceARN"]).unwrap_or("").to_string();
                let table = arn.split('/').nth(1).unwrap_or("").to_string();
                let start = (n(record, &["dynamodb", "ApproximateCreationDateTime"]).unwrap_or(0.0)
                    * 1e9) as i64;
                let meta = [
                    ("tablename", table.clone()),
                    ("event_name", s(record, &["eventName"]).unwrap_or("").into()),
                    ("event_source_arn", arn.clone()),
                ];
                let sp = span(
                    "aws.dynamodb",
                    opts.service(&table, "lambda_dynamodb", "dynamodb"),
                    table,
                    start,
                    &meta,
                );
                Trigger {
                    source: "dynamodb",
                    source_arn: Some(arn),
                    inferred: vec![asynchronous(sp)],
                    ..Default::default()
                }
            }
            "aws:s3" => {
                let bucket = s(record, &["s3", "bucket", "name"])
                    .unwrap_or("")
                    .to_string();
                let arn = s(record, &["s3", "bucket", "arn"])
                    .unwrap_or("")
                    .to_string();
                let start = s(record, &["eventTime"]).and_then(rfc3339_ns).unwrap_or(0);
                let meta = [
                    ("bucketname", bucket.clone()),
                    ("bucket_arn", arn.clone()),
                    (
                        "object_key",
                        s(record, &["s3", "object", "key"]).unwrap_or("").into(),
                    ),
                    ("event_name", s(record, &["eventName"]).unwrap_or("").into()),
                ];
                let sp = span(
                    "aws.s3",
                    opts.service(&bucket, "lambda_s3", "s3"),
                    bucket,
                    start,
                    &meta,
                );
                Trigger {
                    source: "s3",
                    source_arn: Some(arn),
                    inferred: vec![asynchronous(sp)],
                    ..Default::default()
                }
            }
            _ => Trigger::default(),
        };
    }
    if event.get("detail-type").is_some() && event.get("source").is_some() {
        let (sp, ctx) = eventbridge_span(event, opts);
        return Trigger {
            source: "eventbridge",
            inferred: vec![asynchronous(sp)],
            context: ctx,
            ..Default::default()
        };
    }
    let sfn = event
        .get("Execution")
        .or_else(|| event.get("Payload").and_then(|p| p.get("Execution")));
    if let Some(exec) = sfn {
        let ctx = event
            .get("_datadog")
            .or_else(|| event.get("Payload").and_then(|p| p.get("_datadog")))
            .and_then(context::from_carrier);
        return Trigger {
            source: "states",
            source_arn: s(exec, &["Id"]).map(str::to_string),
            context: ctx,
            ..Default::default()
        };
    }
    Trigger {
        context: header_ctx,
        ..Default::default()
    }
}

/// An API Gateway HTTP request (REST v1 or HTTP API v2: the same span, fields read from
/// different places).
struct ApiRequest<'a> {
    api: &'a str,
    domain: &'a str,
    method: &'a str,
    path: &'a str,
    route: &'a str,
}

impl ApiRequest<'_> {
    fn span(&self, name: &str, rc: &Value, start: i64, opts: &Options) -> Inferred {
        let Self {
            api,
            domain,
            method,
            path,
            route,
        } = *self;
        let meta = [
            ("http.method", method.to_string()),
            ("http.url", format!("https://{domain}{path}")),
            ("http.route", route.to_string()),
            ("endpoint", path.to_string()),
            ("apiid", api.to_string()),
            ("stage", s(rc, &["stage"]).unwrap_or("").into()),
            ("request_id", s(rc, &["requestId"]).unwrap_or("").into()),
        ];
        let service = opts.service(api, "lambda_api_gateway", domain);
        sync(span(
            name,
            service,
            format!("{method} {route}"),
            start,
            &meta,
        ))
    }
}

fn http_trigger(
    source: &'static str,
    arn: Option<String>,
    sp: Inferred,
    ctx: Option<TraceContext>,
    method: &str,
    domain: &str,
    path: &str,
) -> Trigger {
    Trigger {
        source,
        source_arn: arn,
        inferred: vec![sp],
        context: ctx,
        tags: vec![
            ("http.method".into(), method.into()),
            ("http.url".into(), format!("https://{domain}{path}")),
        ],
    }
}

//! Message-borne triggers: SQS (and SNS or EventBridge through it), SNS, EventBridge and
//! Kinesis — their inferred spans, and the upstream context carried in message attributes.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::*;

/// `_datadog` from SQS/SNS message attributes (String, or Binary as base64).
fn attribute_context(attrs: Option<&Value>) -> Option<TraceContext> {
    let dd = attrs?.get("_datadog")?;
    if let Some(v) = dd.get("stringValue").or_else(|| {
        dd.get("Value")
            .filter(|_| s(dd, &["Type"]) != Some("Binary"))
    }) {
        return context::from_carrier(v);
    }
    let b64 = s(dd, &["binaryValue"]).or_else(|| s(dd, &["Value"]))?;
    let bytes = crate::base64::decode(b64)?;
    context::from_carrier(&Value::String(String::from_utf8(bytes).ok()?))
}

pub(super) fn sqs(record: &Value, opts: &Options<'_>) -> Trigger {
    let arn = s(record, &["eventSourceARN"]).unwrap_or("").to_string();
    let queue = last_segment(&arn).to_string();
    let start = ms_to_ns(n(record, &["attributes", "SentTimestamp"]).unwrap_or(0.0));
    let meta = [
        ("queuename", queue.clone()),
        ("event_source_arn", arn.clone()),
        (
            "receipt_handle",
            s(record, &["receiptHandle"]).unwrap_or("").into(),
        ),
        (
            "sender_id",
            s(record, &["attributes", "SenderId"]).unwrap_or("").into(),
        ),
    ];
    let sqs_span = asynchronous(span(
        "aws.sqs",
        opts.service(&queue, "lambda_sqs", "sqs"),
        queue,
        start,
        &meta,
    ));
    let mut ctx = attribute_context(record.get("messageAttributes"));
    let mut inferred = Vec::new();
    // SNS → SQS or EventBridge → SQS: the body is the upstream message.
    if let Some(body) = s(record, &["body"]).and_then(|b| serde_json::from_str::<Value>(b).ok()) {
        if s(&body, &["Type"]) == Some("Notification") && body.get("TopicArn").is_some() {
            let (sp, up, _) = sns_span(&body, opts);
            ctx = ctx.or(up);
            inferred.push(asynchronous(sp));
        } else if body.get("detail-type").is_some() && body.get("source").is_some() {
            let (sp, up) = eventbridge_span(&body, opts);
            ctx = ctx.or(up);
            inferred.push(asynchronous(sp));
        }
    }
    inferred.push(sqs_span);
    Trigger {
        source: "sqs",
        source_arn: Some(arn),
        inferred,
        context: ctx,
        ..Default::default()
    }
}

pub(super) fn sns_span(sns: &Value, opts: &Options<'_>) -> (Span, Option<TraceContext>, String) {
    let arn = s(sns, &["TopicArn"]).unwrap_or("").to_string();
    let topic = last_segment(&arn).to_string();
    let start = s(sns, &["Timestamp"]).and_then(rfc3339_ns).unwrap_or(0);
    let meta = [
        ("topicname", topic.clone()),
        ("topic_arn", arn.clone()),
        ("message_id", s(sns, &["MessageId"]).unwrap_or("").into()),
        ("type", s(sns, &["Type"]).unwrap_or("").into()),
    ];
    let ctx = attribute_context(sns.get("MessageAttributes"));
    let mut sp = span(
        "aws.sns",
        opts.service(&topic, "lambda_sns", "sns"),
        topic,
        start,
        &meta,
    );
    if let Some(subject) = s(sns, &["Subject"]) {
        sp.meta.insert("subject".into(), subject.into());
    }
    (sp, ctx, arn)
}

pub(super) fn eventbridge_span(event: &Value, opts: &Options<'_>) -> (Span, Option<TraceContext>) {
    let source = s(event, &["source"]).unwrap_or("").to_string();
    let start = s(event, &["time"]).and_then(rfc3339_ns).unwrap_or(0);
    let meta = [
        (
            "detail_type",
            s(event, &["detail-type"]).unwrap_or("").into(),
        ),
        ("source", source.clone()),
    ];
    let ctx = event
        .get("detail")
        .and_then(|d| d.get("_datadog"))
        .and_then(context::from_carrier);
    (
        span(
            "aws.eventbridge",
            opts.service(&source, "lambda_eventbridge", "eventbridge"),
            source,
            start,
            &meta,
        ),
        ctx,
    )
}

pub(super) fn kinesis(record: &Value, opts: &Options<'_>) -> Trigger {
    let arn = s(record, &["eventSourceARN"]).unwrap_or("").to_string();
    let stream = last_segment(&arn).to_string();
    let start =
        (n(record, &["kinesis", "approximateArrivalTimestamp"]).unwrap_or(0.0) * 1e9) as i64;
    let meta = [
        ("streamname", stream.clone()),
        (
            "partition_key",
            s(record, &["kinesis", "partitionKey"]).unwrap_or("").into(),
        ),
        ("event_source_arn", arn.clone()),
    ];
    let ctx = s(record, &["kinesis", "data"])
        .and_then(crate::base64::decode)
        .and_then(|d| serde_json::from_slice::<Map<String, Value>>(&d).ok())
        .and_then(|m| m.get("_datadog").and_then(context::from_carrier));
    let sp = span(
        "aws.kinesis",
        opts.service(&stream, "lambda_kinesis", "kinesis"),
        stream,
        start,
        &meta,
    );
    Trigger {
        source: "kinesis",
        source_arn: Some(arn),
        inferred: vec![asynchronous(sp)],
        context: ctx,
        ..Default::default()
    }
}

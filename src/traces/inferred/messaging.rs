//! Message-borne triggers: SQS (and SNS or EventBridge through it), SNS, EventBridge, Kinesis
//! and MSK (Kafka) — their inferred spans, and the upstream context carried in message
//! attributes, in the bus event's `detail` or in the record's data.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::*;

/// `_datadog` from SQS/SNS message attributes (String, or Binary as base64).
fn attribute_context(attrs: Option<&Value>, opts: &Options<'_>) -> Option<TraceContext> {
    let dd = attrs?.get("_datadog")?;
    let kind = s(dd, &["dataType"])
        .or_else(|| s(dd, &["Type"]))
        .unwrap_or("String");
    if !kind.starts_with("Binary")
        && let Some(v) = dd.get("stringValue").or_else(|| dd.get("Value"))
    {
        return opts.extractor.carrier(v);
    }
    let b64 = s(dd, &["binaryValue"]).or_else(|| s(dd, &["Value"]))?;
    let bytes = crate::base64::decode(b64)?;
    opts.extractor
        .carrier(&Value::String(String::from_utf8(bytes).ok()?))
}

pub(super) fn sqs(record: &Value, opts: &Options<'_>) -> Trigger {
    let arn = s(record, &["eventSourceARN"]).unwrap_or("").to_string();
    let queue = last_segment(&arn).to_string();
    let start = ms_to_ns(n(record, &["attributes", "SentTimestamp"]).unwrap_or(0.0));
    let trigger_tags = vec![
        (
            "retry_count",
            text(record, &["attributes", "ApproximateReceiveCount"]),
        ),
        ("sender_id", text(record, &["attributes", "SenderId"])),
        ("source_arn", arn.clone()),
        ("aws_region", text(record, &["awsRegion"])),
    ];
    let mut meta = trigger_tags.clone();
    meta.push(("receipt_handle", text(record, &["receiptHandle"])));
    let sqs_span = asynchronous(with_meta(
        span(
            "aws.sqs",
            "web",
            opts.service(&queue, "lambda_sqs", &queue, "sqs"),
            queue,
            start,
        ),
        meta,
    ));
    let mut ctx = attribute_context(record.get("messageAttributes"), opts);
    let mut inferred = Vec::new();
    // SNS → SQS or EventBridge → SQS: the body is the upstream message, with its own span.
    if let Some(body) = s(record, &["body"]).and_then(|b| serde_json::from_str::<Value>(b).ok()) {
        if s(&body, &["Type"]) == Some("Notification") && body.get("TopicArn").is_some() {
            let (sp, up) = sns_span(&body, opts);
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
        tags: tags(trigger_tags),
    }
}

pub(super) fn sns(record: &Value, opts: &Options<'_>) -> Trigger {
    let (mut sp, ctx) = sns_span(record.get("Sns").unwrap_or(&Value::Null), opts);
    let subscription = text(record, &["EventSubscriptionArn"]);
    if !subscription.is_empty() {
        sp.meta
            .insert("event_subscription_arn".into(), subscription);
    }
    let arn = sp.meta.get("topic_arn").cloned();
    Trigger {
        source: "sns",
        source_arn: arn,
        inferred: vec![asynchronous(sp)],
        context: ctx,
        ..Default::default()
    }
}

fn sns_span(sns: &Value, opts: &Options<'_>) -> (Span, Option<TraceContext>) {
    let arn = s(sns, &["TopicArn"]).unwrap_or("").to_string();
    let topic = last_segment(&arn).to_string();
    let start = s(sns, &["Timestamp"]).and_then(rfc3339_ns).unwrap_or(0);
    let mut meta = vec![
        ("topicname", topic.clone()),
        ("topic_arn", arn),
        ("message_id", text(sns, &["MessageId"])),
        ("type", text(sns, &["Type"])),
    ];
    if let Some(subject) = s(sns, &["Subject"]) {
        meta.push(("subject", subject.to_string()));
    }
    let ctx = attribute_context(sns.get("MessageAttributes"), opts);
    let sp = span(
        "aws.sns",
        "web",
        opts.service(&topic, "lambda_sns", &topic, "sns"),
        topic,
        start,
    );
    (with_meta(sp, meta), ctx)
}

/// An EventBridge event. Datadog's tracers put the bus name and the send time in the
/// `_datadog` carrier of `detail`; without them the event's source and time stand in.
pub(super) fn eventbridge_span(event: &Value, opts: &Options<'_>) -> (Span, Option<TraceContext>) {
    let carrier = event.get("detail").and_then(|d| d.get("_datadog"));
    let bus = carrier
        .and_then(|c| s(c, &["x-datadog-resource-name"]))
        .or_else(|| s(event, &["source"]))
        .unwrap_or("")
        .to_string();
    let start = carrier
        .and_then(|c| n(c, &["x-datadog-start-time"]))
        .map(ms_to_ns)
        .or_else(|| s(event, &["time"]).and_then(rfc3339_ns))
        .unwrap_or(0);
    let ctx = carrier.and_then(|c| opts.extractor.carrier(c));
    let sp = span(
        "aws.eventbridge",
        "web",
        opts.service(&bus, "lambda_eventbridge", &bus, "eventbridge"),
        bus.clone(),
        start,
    );
    let meta = vec![
        ("detail_type", text(event, &["detail-type"])),
        ("resource_names", bus),
        ("source", text(event, &["source"])),
    ];
    (with_meta(sp, meta), ctx)
}

pub(super) fn kinesis(record: &Value, opts: &Options<'_>) -> Trigger {
    let arn = s(record, &["eventSourceARN"]).unwrap_or("").to_string();
    let stream = last_segment(&arn).to_string();
    let start =
        (n(record, &["kinesis", "approximateArrivalTimestamp"]).unwrap_or(0.0) * 1e9) as i64;
    let event_id = text(record, &["eventID"]);
    let shard = event_id.split(':').next().unwrap_or("").to_string();
    let meta = vec![
        ("stream_name", stream.clone()),
        ("shard_id", shard),
        ("event_id", event_id),
        ("event_name", text(record, &["eventName"])),
        ("event_version", text(record, &["eventVersion"])),
        ("partition_key", text(record, &["kinesis", "partitionKey"])),
        ("source_arn", arn.clone()),
    ];
    let ctx = s(record, &["kinesis", "data"])
        .and_then(crate::base64::decode)
        .and_then(|d| serde_json::from_slice::<Value>(&d).ok())
        .and_then(|m| m.get("_datadog").and_then(|c| opts.extractor.carrier(c)));
    let sp = span(
        "aws.kinesis",
        "web",
        opts.service(&stream, "lambda_kinesis", &stream, "kinesis"),
        stream,
        start,
    );
    Trigger {
        source: "kinesis",
        source_arn: Some(arn),
        inferred: vec![asynchronous(with_meta(sp, meta))],
        context: ctx,
        ..Default::default()
    }
}

/// Amazon MSK or self-managed Kafka: `records` maps `topic-partition` to records; the first
/// record names the span; a `_datadog` (or `x-datadog-*`) header carries the context.
pub(super) fn msk(event: &Value, opts: &Options<'_>) -> Trigger {
    let arn = s(event, &["eventSourceArn"]).unwrap_or("").to_string();
    let cluster = arn.split('/').nth(1).unwrap_or("").to_string();
    let first = event
        .get("records")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .and_then(|v| v.get(0))
        .unwrap_or(&Value::Null);
    let topic = text(first, &["topic"]);
    let start = ms_to_ns(n(first, &["timestamp"]).unwrap_or(0.0));
    // Kafka headers: a list of {name: [bytes]}.
    let mut carrier = serde_json::Map::new();
    for h in first
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        for (k, v) in h {
            let bytes: Option<Vec<u8>> = v.as_array().map(|a| {
                a.iter()
                    .filter_map(|b| b.as_u64().map(|b| b as u8))
                    .collect()
            });
            if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
                carrier.insert(k.clone(), Value::String(text));
            }
        }
    }
    let ctx = carrier
        .get("_datadog")
        .and_then(|c| opts.extractor.carrier(c))
        .or_else(|| opts.extractor.headers(&Value::Object(carrier.clone())));
    let sp = span(
        "aws.msk",
        "web",
        opts.service(&cluster, "lambda_msk", &cluster, "msk"),
        topic.clone(),
        start,
    );
    let meta = vec![
        ("topic", topic),
        ("partition", text(first, &["partition"])),
        ("offset", text(first, &["offset"])),
        ("event_source", text(event, &["eventSource"])),
        ("event_source_arn", arn.clone()),
    ];
    Trigger {
        source: "msk",
        source_arn: Some(arn).filter(|a| !a.is_empty()),
        inferred: vec![asynchronous(with_meta(sp, meta))],
        context: ctx,
        ..Default::default()
    }
}

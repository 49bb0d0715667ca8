//! OTLP/JSON (the OTLP spec's JSON encoding of the protobuf messages) read into the same prost
//! messages the protobuf path decodes: lowerCamelCase names (the original snake_case accepted
//! too), ids as hex, 64-bit integers as strings or numbers, enums as integers, bytes as base64;
//! unknown fields ignored, a field of the wrong type refused. Written by hand over
//! `serde_json::Value`: the crate's serde derives for every OTLP message cost ~250 KB of binary.
//! Pure.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // reads input from outside the process

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::Event, span::Link,
};
use serde_json::{Map, Value};

type R<T> = Result<T, String>;

/// One JSON object's fields, looked up by either spelling.
struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    fn get(&self, camel: &str, snake: &str) -> Option<&'a Value> {
        self.0
            .get(camel)
            .or_else(|| self.0.get(snake))
            .filter(|v| !v.is_null())
    }

    fn list<T>(&self, camel: &str, snake: &str, each: impl Fn(&Value) -> R<T>) -> R<Vec<T>> {
        match self.get(camel, snake) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(each).collect(),
            Some(_) => Err(format!("{camel} must be a list")),
        }
    }

    fn one<T>(&self, camel: &str, snake: &str, f: impl Fn(&Value) -> R<T>) -> R<Option<T>> {
        self.get(camel, snake).map(f).transpose()
    }

    fn string(&self, camel: &str, snake: &str) -> R<String> {
        match self.get(camel, snake) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("{camel} must be a string")),
        }
    }

    fn u64(&self, camel: &str, snake: &str) -> R<u64> {
        self.get(camel, snake).map_or(Ok(0), |v| u64_of(v, camel))
    }

    fn i64(&self, camel: &str, snake: &str) -> R<i64> {
        match self.get(camel, snake) {
            None => Ok(0),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("{camel}: not an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("{camel}: not an integer")),
            Some(_) => Err(format!("{camel} must be an integer")),
        }
    }

    fn i32(&self, camel: &str, snake: &str) -> R<i32> {
        i32::try_from(self.i64(camel, snake)?).map_err(|_| format!("{camel}: out of range"))
    }

    fn u32(&self, camel: &str, snake: &str) -> R<u32> {
        u32::try_from(self.i64(camel, snake)?).map_err(|_| format!("{camel}: out of range"))
    }

    fn f64(&self, camel: &str, snake: &str) -> R<Option<f64>> {
        self.one(camel, snake, |v| f64_of(v, camel))
    }

    fn bool(&self, camel: &str, snake: &str) -> R<bool> {
        match self.get(camel, snake) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("{camel} must be true or false")),
        }
    }

    fn hex(&self, camel: &str, snake: &str) -> R<Vec<u8>> {
        let s = self.string(camel, snake)?;
        hex(&s).ok_or_else(|| format!("{camel} must be hex"))
    }

    fn attributes(&self) -> R<Vec<KeyValue>> {
        self.list("attributes", "attributes", key_value)
    }
}

fn u64_of(v: &Value, what: &str) -> R<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{what}: not an unsigned integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{what}: not an unsigned integer")),
        _ => Err(format!("{what} must be an integer")),
    }
}

fn f64_of(v: &Value, what: &str) -> R<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{what}: not a number")),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            t => t
                .trim()
                .parse()
                .map_err(|_| format!("{what}: not a number")),
        },
        _ => Err(format!("{what} must be a number")),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| match p {
            [a, b] => Some(digit(*a)? << 4 | digit(*b)?),
            _ => None,
        })
        .collect()
}

fn with<T>(v: &Value, what: &str, f: impl Fn(Obj<'_>) -> R<T>) -> R<T> {
    match v {
        Value::Object(m) => f(Obj(m)),
        _ => Err(format!("{what} must be an object")),
    }
}

fn any_value(v: &Value) -> R<AnyValue> {
    with(v, "value", |o| {
        use any_value::Value as V;
        let value = if let Some(s) = o.get("stringValue", "string_value") {
            Some(V::StringValue(
                s.as_str()
                    .ok_or("stringValue must be a string")?
                    .to_string(),
            ))
        } else if o.get("boolValue", "bool_value").is_some() {
            Some(V::BoolValue(o.bool("boolValue", "bool_value")?))
        } else if o.get("intValue", "int_value").is_some() {
            Some(V::IntValue(o.i64("intValue", "int_value")?))
        } else if let Some(d) = o.get("doubleValue", "double_value") {
            Some(V::DoubleValue(f64_of(d, "doubleValue")?))
        } else if let Some(a) = o.get("arrayValue", "array_value") {
            let values = with(a, "arrayValue", |a| a.list("values", "values", any_value))?;
            Some(V::ArrayValue(ArrayValue { values }))
        } else if let Some(kv) = o.get("kvlistValue", "kvlist_value") {
            let values = with(kv, "kvlistValue", |l| l.list("values", "values", key_value))?;
            Some(V::KvlistValue(KeyValueList { values }))
        } else if o.get("bytesValue", "bytes_value").is_some() {
            let b = o.string("bytesValue", "bytes_value")?;
            Some(V::BytesValue(
                crate::base64::decode(&b).ok_or("bytesValue must be base64")?,
            ))
        } else {
            None
        };
        Ok(AnyValue { value })
    })
}

fn key_value(v: &Value) -> R<KeyValue> {
    with(v, "attribute", |o| {
        Ok(KeyValue {
            key: o.string("key", "key")?,
            value: o.one("value", "value", any_value)?,
            ..KeyValue::default()
        })
    })
}

fn resource(v: &Value) -> R<Resource> {
    with(v, "resource", |o| {
        Ok(Resource {
            attributes: o.attributes()?,
            dropped_attributes_count: o
                .u32("droppedAttributesCount", "dropped_attributes_count")?,
            ..Resource::default()
        })
    })
}

fn scope(v: &Value) -> R<InstrumentationScope> {
    with(v, "scope", |o| {
        Ok(InstrumentationScope {
            name: o.string("name", "name")?,
            version: o.string("version", "version")?,
            attributes: o.attributes()?,
            dropped_attributes_count: o
                .u32("droppedAttributesCount", "dropped_attributes_count")?,
        })
    })
}

pub(crate) fn traces(body: &[u8]) -> R<ExportTraceServiceRequest> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    with(&v, "request", |o| {
        Ok(ExportTraceServiceRequest {
            resource_spans: o.list("resourceSpans", "resource_spans", resource_spans)?,
        })
    })
}

fn resource_spans(v: &Value) -> R<ResourceSpans> {
    with(v, "resourceSpans", |o| {
        Ok(ResourceSpans {
            resource: o.one("resource", "resource", resource)?,
            scope_spans: o.list("scopeSpans", "scope_spans", |v| {
                with(v, "scopeSpans", |o| {
                    Ok(ScopeSpans {
                        scope: o.one("scope", "scope", scope)?,
                        spans: o.list("spans", "spans", span)?,
                        schema_url: o.string("schemaUrl", "schema_url")?,
                    })
                })
            })?,
            schema_url: o.string("schemaUrl", "schema_url")?,
        })
    })
}

fn span(v: &Value) -> R<Span> {
    with(v, "span", |o| {
        Ok(Span {
            trace_id: o.hex("traceId", "trace_id")?,
            span_id: o.hex("spanId", "span_id")?,
            trace_state: o.string("traceState", "trace_state")?,
            parent_span_id: o.hex("parentSpanId", "parent_span_id")?,
            flags: o.u32("flags", "flags")?,
            name: o.string("name", "name")?,
            kind: o.i32("kind", "kind")?,
            start_time_unix_nano: o.u64("startTimeUnixNano", "start_time_unix_nano")?,
            end_time_unix_nano: o.u64("endTimeUnixNano", "end_time_unix_nano")?,
            attributes: o.attributes()?,
            dropped_attributes_count: o
                .u32("droppedAttributesCount", "dropped_attributes_count")?,
            events: o.list("events", "events", |v| {
                with(v, "event", |o| {
                    Ok(Event {
                        time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
                        name: o.string("name", "name")?,
                        attributes: o.attributes()?,
                        dropped_attributes_count: o
                            .u32("droppedAttributesCount", "dropped_attributes_count")?,
                    })
                })
            })?,
            dropped_events_count: o.u32("droppedEventsCount", "dropped_events_count")?,
            links: o.list("links", "links", |v| {
                with(v, "link", |o| {
                    Ok(Link {
                        trace_id: o.hex("traceId", "trace_id")?,
                        span_id: o.hex("spanId", "span_id")?,
                        trace_state: o.string("traceState", "trace_state")?,
                        attributes: o.attributes()?,
                        dropped_attributes_count: o
                            .u32("droppedAttributesCount", "dropped_attributes_count")?,
                        flags: o.u32("flags", "flags")?,
                    })
                })
            })?,
            dropped_links_count: o.u32("droppedLinksCount", "dropped_links_count")?,
            status: o.one("status", "status", |v| {
                with(v, "status", |o| {
                    Ok(Status {
                        message: o.string("message", "message")?,
                        code: o.i32("code", "code")?,
                    })
                })
            })?,
        })
    })
}

pub(crate) fn metrics(body: &[u8]) -> R<ExportMetricsServiceRequest> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    with(&v, "request", |o| {
        Ok(ExportMetricsServiceRequest {
            resource_metrics: o.list("resourceMetrics", "resource_metrics", |v| {
                with(v, "resourceMetrics", |o| {
                    Ok(ResourceMetrics {
                        resource: o.one("resource", "resource", resource)?,
                        scope_metrics: o.list("scopeMetrics", "scope_metrics", |v| {
                            with(v, "scopeMetrics", |o| {
                                Ok(ScopeMetrics {
                                    scope: o.one("scope", "scope", scope)?,
                                    metrics: o.list("metrics", "metrics", metric)?,
                                    schema_url: o.string("schemaUrl", "schema_url")?,
                                })
                            })
                        })?,
                        schema_url: o.string("schemaUrl", "schema_url")?,
                    })
                })
            })?,
        })
    })
}

fn metric(v: &Value) -> R<Metric> {
    with(v, "metric", |o| {
        let temporality = |o: &Obj<'_>| o.i32("aggregationTemporality", "aggregation_temporality");
        let data = if let Some(g) = o.get("gauge", "gauge") {
            Some(Data::Gauge(with(g, "gauge", |o| {
                Ok(Gauge {
                    data_points: o.list("dataPoints", "data_points", number_point)?,
                })
            })?))
        } else if let Some(s) = o.get("sum", "sum") {
            Some(Data::Sum(with(s, "sum", |o| {
                Ok(Sum {
                    data_points: o.list("dataPoints", "data_points", number_point)?,
                    aggregation_temporality: temporality(&o)?,
                    is_monotonic: o.bool("isMonotonic", "is_monotonic")?,
                })
            })?))
        } else if let Some(h) = o.get("histogram", "histogram") {
            Some(Data::Histogram(with(h, "histogram", |o| {
                Ok(Histogram {
                    data_points: o.list("dataPoints", "data_points", histogram_point)?,
                    aggregation_temporality: temporality(&o)?,
                })
            })?))
        } else if let Some(h) = o.get("exponentialHistogram", "exponential_histogram") {
            Some(Data::ExponentialHistogram(with(
                h,
                "exponentialHistogram",
                |o| {
                    Ok(ExponentialHistogram {
                        data_points: o.list("dataPoints", "data_points", exponential_point)?,
                        aggregation_temporality: temporality(&o)?,
                    })
                },
            )?))
        } else if let Some(s) = o.get("summary", "summary") {
            Some(Data::Summary(with(s, "summary", |o| {
                Ok(Summary {
                    data_points: o.list("dataPoints", "data_points", summary_point)?,
                })
            })?))
        } else {
            None
        };
        Ok(Metric {
            name: o.string("name", "name")?,
            description: o.string("description", "description")?,
            unit: o.string("unit", "unit")?,
            data,
            ..Metric::default()
        })
    })
}

fn number_point(v: &Value) -> R<NumberDataPoint> {
    with(v, "dataPoint", |o| {
        let value = if let Some(d) = o.get("asDouble", "as_double") {
            Some(number_data_point::Value::AsDouble(f64_of(d, "asDouble")?))
        } else if o.get("asInt", "as_int").is_some() {
            Some(number_data_point::Value::AsInt(o.i64("asInt", "as_int")?))
        } else {
            None
        };
        Ok(NumberDataPoint {
            attributes: o.attributes()?,
            start_time_unix_nano: o.u64("startTimeUnixNano", "start_time_unix_nano")?,
            time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
            flags: o.u32("flags", "flags")?,
            value,
            ..NumberDataPoint::default()
        })
    })
}

fn u64_list(o: &Obj<'_>, camel: &str, snake: &str) -> R<Vec<u64>> {
    o.list(camel, snake, |v| u64_of(v, camel))
}

fn histogram_point(v: &Value) -> R<HistogramDataPoint> {
    with(v, "dataPoint", |o| {
        Ok(HistogramDataPoint {
            attributes: o.attributes()?,
            start_time_unix_nano: o.u64("startTimeUnixNano", "start_time_unix_nano")?,
            time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
            count: o.u64("count", "count")?,
            sum: o.f64("sum", "sum")?,
            bucket_counts: u64_list(&o, "bucketCounts", "bucket_counts")?,
            explicit_bounds: o.list("explicitBounds", "explicit_bounds", |v| {
                f64_of(v, "explicitBounds")
            })?,
            flags: o.u32("flags", "flags")?,
            min: o.f64("min", "min")?,
            max: o.f64("max", "max")?,
            ..HistogramDataPoint::default()
        })
    })
}

fn buckets(v: &Value) -> R<Buckets> {
    with(v, "buckets", |o| {
        Ok(Buckets {
            offset: o.i32("offset", "offset")?,
            bucket_counts: u64_list(&o, "bucketCounts", "bucket_counts")?,
        })
    })
}

fn exponential_point(v: &Value) -> R<ExponentialHistogramDataPoint> {
    with(v, "dataPoint", |o| {
        Ok(ExponentialHistogramDataPoint {
            attributes: o.attributes()?,
            start_time_unix_nano: o.u64("startTimeUnixNano", "start_time_unix_nano")?,
            time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
            count: o.u64("count", "count")?,
            sum: o.f64("sum", "sum")?,
            scale: o.i32("scale", "scale")?,
            zero_count: o.u64("zeroCount", "zero_count")?,
            positive: o.one("positive", "positive", buckets)?,
            negative: o.one("negative", "negative", buckets)?,
            flags: o.u32("flags", "flags")?,
            min: o.f64("min", "min")?,
            max: o.f64("max", "max")?,
            zero_threshold: o.f64("zeroThreshold", "zero_threshold")?.unwrap_or(0.0),
            ..ExponentialHistogramDataPoint::default()
        })
    })
}

fn summary_point(v: &Value) -> R<SummaryDataPoint> {
    with(v, "dataPoint", |o| {
        Ok(SummaryDataPoint {
            attributes: o.attributes()?,
            start_time_unix_nano: o.u64("startTimeUnixNano", "start_time_unix_nano")?,
            time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
            count: o.u64("count", "count")?,
            sum: o.f64("sum", "sum")?.unwrap_or(0.0),
            quantile_values: o.list("quantileValues", "quantile_values", |v| {
                with(v, "quantileValue", |o| {
                    Ok(ValueAtQuantile {
                        quantile: o.f64("quantile", "quantile")?.unwrap_or(0.0),
                        value: o.f64("value", "value")?.unwrap_or(0.0),
                    })
                })
            })?,
            flags: o.u32("flags", "flags")?,
        })
    })
}

pub(crate) fn logs(body: &[u8]) -> R<ExportLogsServiceRequest> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    with(&v, "request", |o| {
        Ok(ExportLogsServiceRequest {
            resource_logs: o.list("resourceLogs", "resource_logs", |v| {
                with(v, "resourceLogs", |o| {
                    Ok(ResourceLogs {
                        resource: o.one("resource", "resource", resource)?,
                        scope_logs: o.list("scopeLogs", "scope_logs", |v| {
                            with(v, "scopeLogs", |o| {
                                Ok(ScopeLogs {
                                    scope: o.one("scope", "scope", scope)?,
                                    log_records: o.list("logRecords", "log_records", log_record)?,
                                    schema_url: o.string("schemaUrl", "schema_url")?,
                                })
                            })
                        })?,
                        schema_url: o.string("schemaUrl", "schema_url")?,
                    })
                })
            })?,
        })
    })
}

fn log_record(v: &Value) -> R<LogRecord> {
    with(v, "logRecord", |o| {
        Ok(LogRecord {
            time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
            observed_time_unix_nano: o.u64("observedTimeUnixNano", "observed_time_unix_nano")?,
            severity_number: o.i32("severityNumber", "severity_number")?,
            severity_text: o.string("severityText", "severity_text")?,
            body: o.one("body", "body", any_value)?,
            attributes: o.attributes()?,
            dropped_attributes_count: o
                .u32("droppedAttributesCount", "dropped_attributes_count")?,
            flags: o.u32("flags", "flags")?,
            trace_id: o.hex("traceId", "trace_id")?,
            span_id: o.hex("spanId", "span_id")?,
            event_name: o.string("eventName", "event_name")?,
        })
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests may index
mod tests {
    use super::*;

    #[test]
    fn reads_the_spec_encoding_and_refuses_wrong_types() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","kind":2,"startTimeUnixNano":"17","end_time_unix_nano":18,"attributes":[{"key":"n","value":{"intValue":"5"}},{"key":"b","value":{"bytesValue":"aGk="}}],"unknown":1}]}]}]}"#;
        let r = traces(body).unwrap();
        let s = &r.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(
            (s.kind, s.start_time_unix_nano, s.end_time_unix_nano),
            (2, 17, 18)
        );
        assert_eq!(
            s.attributes[0].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(5))
        );
        assert_eq!(
            s.attributes[1].value.as_ref().unwrap().value,
            Some(any_value::Value::BytesValue(b"hi".to_vec()))
        );
        assert!(
            traces(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#)
                .is_err()
        );
        assert!(traces(br#"{"resourceSpans":{}}"#).is_err());
        assert!(logs(br#"{"resourceLogs": 3}"#).is_err());
        let m = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"aggregationTemporality":1,"dataPoints":[{"count":"3","bucketCounts":["1",2],"explicitBounds":[1.5],"sum":"NaN"}]}}]}]}]}"#).unwrap();
        let Some(Data::Histogram(h)) = &m.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!("a histogram")
        };
        assert_eq!(h.data_points[0].bucket_counts, [1, 2]);
        assert!(h.data_points[0].sum.unwrap().is_nan());
    }
}

//! One log entry in the intake's shape (PROTOCOLS.md §4; Datadog's extension's fields): the
//! message, its `lambda` attributes (ARN, request id, a durable execution's context) and the
//! entry's tags, serialized once into the bytes the buffer keeps. Must not buffer or ship.

use crate::durable::Context;
use crate::tags::FunctionContext;
use serde::Serialize;
use std::borrow::Cow;

/// What the pipeline knows of one line when it encodes it.
pub(super) struct Line<'a> {
    pub message: &'a str,
    pub request_id: Option<&'a str>,
    pub time_ms: i64,
    pub status: &'a str,
    pub ddtags: Cow<'a, str>,
    pub durable: Option<&'a Context>,
    /// END or REPORT: carries a durable execution's status.
    pub closing: bool,
}

impl Line<'_> {
    /// The entry's JSON bytes.
    pub(super) fn encode(self, function: &FunctionContext) -> serde_json::Result<Vec<u8>> {
        let ctx = self.durable;
        let entry = Entry {
            message: Message {
                message: self.message,
                lambda: LambdaField {
                    arn: &function.arn,
                    request_id: self.request_id,
                    execution_name: ctx.map(|c| c.execution_name.as_str()),
                    execution_id: ctx.map(|c| c.execution_id.as_str()),
                    first_invocation: ctx.and_then(|c| c.first_invocation),
                    execution_status: ctx
                        .filter(|_| self.closing)
                        .and_then(|c| c.status.as_deref()),
                },
                timestamp: self.time_ms,
                status: self.status,
            },
            hostname: &function.arn,
            service: &function.service,
            ddtags: self.ddtags,
            ddsource: "lambda",
        };
        serde_json::to_vec(&entry)
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    message: Message<'a>,
    hostname: &'a str,
    service: &'a str,
    ddtags: Cow<'a, str>,
    ddsource: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
    lambda: LambdaField<'a>,
    timestamp: i64,
    status: &'a str,
}

#[derive(Serialize)]
struct LambdaField<'a> {
    arn: &'a str,
    request_id: Option<&'a str>,
    #[serde(
        rename = "durable_function.execution_name",
        skip_serializing_if = "Option::is_none"
    )]
    execution_name: Option<&'a str>,
    #[serde(
        rename = "durable_function.execution_id",
        skip_serializing_if = "Option::is_none"
    )]
    execution_id: Option<&'a str>,
    #[serde(
        rename = "durable_function.first_invocation",
        skip_serializing_if = "Option::is_none"
    )]
    first_invocation: Option<bool>,
    #[serde(
        rename = "durable_function.execution_status",
        skip_serializing_if = "Option::is_none"
    )]
    execution_status: Option<&'a str>,
}

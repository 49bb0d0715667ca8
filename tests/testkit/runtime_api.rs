//! The Runtime API side of the platform simulator, for a real runtime client (AWS's
//! `awslambdaric`): what `GET /runtime/invocation/next` answers, and which request a
//! `POST /runtime/invocation/<id>/response|error` is about. Routing lives in `platform.rs`.

use hyper::StatusCode;
use serde_json::Value;
use tandem::http::{self, HttpResponse};

/// One invocation handed to the runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Value,
    pub deadline_ms: i64,
}

pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:tandem-test";

/// The event with the headers Lambda sends along.
pub fn next_response(i: &Invocation) -> HttpResponse {
    let mut r = http::json(StatusCode::OK, i.payload.to_string());
    let headers = r.headers_mut();
    for (name, value) in [
        ("Lambda-Runtime-Aws-Request-Id", i.request_id.clone()),
        ("Lambda-Runtime-Deadline-Ms", i.deadline_ms.to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            FUNCTION_ARN.to_string(),
        ),
        (
            "Lambda-Runtime-Trace-Id",
            "Root=1-00000000-000000000000000000000000;Parent=0000000000000001;Sampled=1"
                .to_string(),
        ),
    ] {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    r
}

/// `/2018-06-01/runtime/invocation/<id>/response` → (`<id>`, `response`); same for `error`.
pub fn result_of(path: &str) -> Option<(String, &'static str)> {
    let rest = path.strip_prefix("/2018-06-01/runtime/invocation/")?;
    let (id, kind) = rest.split_once('/')?;
    let kind = match kind {
        "response" => "response",
        "error" => "error",
        _ => return None,
    };
    Some((id.to_string(), kind))
}

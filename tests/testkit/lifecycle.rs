//! Driving the lifecycle API as the Datadog libraries do, and reading the traces it produced.

use std::collections::HashMap;
use std::net::SocketAddr;
use tandem::traces::proto::Span;

/// `POST <path>` on the lifecycle API for `request_id` (the `lambda-runtime-aws-request-id`
/// header), with `body` and extra `headers`.
pub async fn call(
    addr: SocketAddr,
    path: &str,
    request_id: &str,
    body: String,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("lambda-runtime-aws-request-id", request_id)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The chain of ancestors of `span` within `all`, outermost first.
pub fn ancestors<'a>(all: &'a [Span], span: &Span) -> Vec<&'a Span> {
    let by_id: HashMap<u64, &Span> = all.iter().map(|s| (s.span_id, s)).collect();
    let mut chain = Vec::new();
    let mut parent = span.parent_id;
    while let Some(p) = by_id.get(&parent) {
        chain.push(*p);
        parent = p.parent_id;
    }
    chain.reverse();
    chain
}

//! OpenTelemetry spans meet the invocation they ran in: an OTel span that names its invocation
//! (`faas.invocation_id`) and the `aws.lambda` span built for that request id link to each
//! other, whichever reaches the agent first — the first to arrive is remembered, the second
//! gets a span link to it (the two are separate traces unless a Datadog tracer joined them
//! already). Bounded; nothing waits.

use super::proto::{Span, SpanLink};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Request ids remembered per side.
const MAX_REMEMBERED: usize = 1_000;
/// The OTel attribute naming the invocation a span ran in.
pub(crate) const INVOCATION_ID: &str = "faas.invocation_id";

/// A span's identity: (trace id low, trace id high, span id).
type Ids = (u64, u64, u64);

#[derive(Default)]
struct Side {
    by_request: HashMap<String, Ids>,
    order: VecDeque<String>,
}

impl Side {
    fn remember(&mut self, request_id: &str, ids: Ids) {
        if self.by_request.len() >= MAX_REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.by_request.remove(&old);
        }
        if self
            .by_request
            .insert(request_id.to_string(), ids)
            .is_none()
        {
            self.order.push_back(request_id.to_string());
        }
    }
}

#[derive(Default)]
pub(crate) struct Joins {
    state: Mutex<(Side, Side)>,
}

fn ids(span: &Span) -> Ids {
    let high = span
        .meta
        .get("_dd.p.tid")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    (span.trace_id, high, span.span_id)
}

fn link((trace_id, trace_id_high, span_id): Ids) -> SpanLink {
    SpanLink {
        trace_id,
        trace_id_high,
        span_id,
        ..SpanLink::default()
    }
}

impl Joins {
    /// The `aws.lambda` span of one request was built: it links to that request's OTel span
    /// if one came first.
    pub(crate) fn invocation(&self, span: &mut Span) {
        let Some(rid) = span.meta.get("request_id").cloned() else {
            return;
        };
        let mut st = crate::sync::lock(&self.state);
        st.0.remember(&rid, ids(span));
        if let Some(other) = st.1.by_request.get(&rid) {
            span.span_links.push(link(*other));
        }
    }

    /// OTel spans: one naming its invocation links to that invocation's `aws.lambda` span if
    /// it was built first.
    pub(crate) fn otel(&self, trace: &mut [Span]) {
        for span in trace.iter_mut() {
            let Some(rid) = span.meta.get(INVOCATION_ID).cloned() else {
                continue;
            };
            let mut st = crate::sync::lock(&self.state);
            st.1.remember(&rid, ids(span));
            if let Some(lambda) = st.0.by_request.get(&rid) {
                span.span_links.push(link(*lambda));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace_id: u64, span_id: u64, key: &str, rid: &str) -> Span {
        let mut s = Span {
            trace_id,
            span_id,
            ..Span::default()
        };
        s.meta.insert(key.into(), rid.into());
        s
    }

    #[test]
    fn whichever_comes_second_links_to_the_first() {
        let j = Joins::default();
        let mut lambda = span(1, 10, "request_id", "r1");
        j.invocation(&mut lambda);
        assert!(lambda.span_links.is_empty());
        let mut otel = [
            span(2, 20, INVOCATION_ID, "r1"),
            span(3, 30, INVOCATION_ID, "r2"),
        ];
        j.otel(&mut otel);
        assert_eq!(
            (
                otel[0].span_links[0].trace_id,
                otel[0].span_links[0].span_id
            ),
            (1, 10)
        );
        assert!(otel[1].span_links.is_empty());
        let mut late = span(4, 40, "request_id", "r2");
        j.invocation(&mut late);
        assert_eq!(
            (late.span_links[0].trace_id, late.span_links[0].span_id),
            (3, 30)
        );
    }
}

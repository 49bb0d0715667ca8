//! Universal instrumentation (Java, .NET, Go tracers): the tracer's placeholder root span
//! (resource `dd-tracer-serverless-span`) is never shipped; the `aws.lambda` span we build has
//! already taken its span id, and here takes its tags. The two meet in either order — the
//! placeholder may reach the trace agent before or after `/lambda/end-invocation` — keyed by
//! span id, so concurrent Managed Instance invocations never mix. Bounded; a built span whose
//! placeholder never comes is released by the flush after a grace period.

use super::invocation::{Built, PLACEHOLDER_RESOURCE};
use super::proto::{Span, TracerPayload};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Placeholders or built spans held at once, each side, in number and in estimated heap bytes
/// (a placeholder's tags come from the tracer: any size).
const MAX_HELD: usize = 1_000;
const MAX_HELD_BYTES: usize = 2 * 1024 * 1024;
/// How long a built span waits for its placeholder before a flush ships it without.
pub(crate) const GRACE_NS: i64 = 1_000_000_000;

/// Entries by span id, oldest first, with their estimated sizes.
#[derive(Default)]
struct Held<T> {
    by_id: HashMap<u64, (T, usize)>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl<T> Held<T> {
    /// Holds `v` (of `size` bytes); returns what fell out to keep the bounds.
    fn put(&mut self, id: u64, v: T, size: usize) -> Vec<T> {
        if size > MAX_HELD_BYTES {
            return vec![v];
        }
        let mut evicted = Vec::new();
        if let Some(old) = self.take(id) {
            // The same span id twice: the newer one stands.
            evicted.push(old);
        }
        while self.by_id.len() >= MAX_HELD || self.bytes + size > MAX_HELD_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((v, n)) = self.by_id.remove(&oldest) {
                self.bytes -= n;
                evicted.push(v);
            }
        }
        self.order.push_back(id);
        self.by_id.insert(id, (v, size));
        self.bytes += size;
        evicted
    }

    fn take(&mut self, id: u64) -> Option<T> {
        let (v, n) = self.by_id.remove(&id)?;
        self.bytes -= n;
        self.order.retain(|x| *x != id);
        Some(v)
    }
}

/// Placeholders waiting for their invocation; built invocations (and when they were parked)
/// waiting for their placeholder.
type State = (Held<Span>, Held<(TracerPayload, i64)>);

#[derive(Default)]
pub(crate) struct Adoption {
    state: Mutex<State>,
}

/// Whether `span` is a tracer's placeholder root.
pub(crate) fn is_placeholder(span: &Span) -> bool {
    span.resource == PLACEHOLDER_RESOURCE
}

impl Adoption {
    /// A built invocation: ready to ship (its placeholder came already, or it has none), or
    /// held until the placeholder comes. Returns what is ready, including anything the bound
    /// pushed out.
    pub(crate) fn built(&self, built: Built, now_ns: i64) -> Vec<TracerPayload> {
        let Built {
            mut payload,
            placeholder,
        } = built;
        let Some(id) = placeholder else {
            return vec![payload];
        };
        let mut st = crate::sync::lock(&self.state);
        if let Some(ph) = st.0.take(id) {
            merge(&mut payload, ph);
            return vec![payload];
        }
        let size = super::size::heap_size(&payload);
        st.1.put(id, (payload, now_ns), size)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// A placeholder from the tracer: the built invocation it completes, if one is waiting.
    pub(crate) fn placeholder(&self, span: Span) -> Option<TracerPayload> {
        let mut st = crate::sync::lock(&self.state);
        if let Some((mut payload, _)) = st.1.take(span.span_id) {
            merge(&mut payload, span);
            return Some(payload);
        }
        let size = super::size::span_heap_size(&span);
        // A placeholder pushed out only loses its tags' merge: its invocation still ships.
        st.0.put(span.span_id, span, size);
        None
    }

    /// Built invocations that waited longer than the grace period (all of them at the last
    /// flush): shipped without their placeholder's tags rather than never.
    pub(crate) fn release(&self, now_ns: i64, all: bool) -> Vec<TracerPayload> {
        let mut st = crate::sync::lock(&self.state);
        let due: Vec<u64> =
            st.1.order
                .iter()
                .copied()
                .filter(|id| {
                    all || st
                        .1
                        .by_id
                        .get(id)
                        .is_some_and(|((_, at), _)| now_ns.saturating_sub(*at) >= GRACE_NS)
                })
                .collect();
        due.into_iter()
            .filter_map(|id| st.1.take(id).map(|(p, _)| p))
            .collect()
    }
}

/// The placeholder's tags go onto `aws.lambda` (ours win where both set one: they come from
/// the platform and the trigger); its error marks the invocation failed.
fn merge(payload: &mut TracerPayload, ph: Span) {
    let lambda = payload
        .chunks
        .iter_mut()
        .flat_map(|c| c.spans.iter_mut())
        .find(|s| s.span_id == ph.span_id && s.name == "aws.lambda");
    let Some(lambda) = lambda else {
        return;
    };
    for (k, v) in ph.meta {
        lambda.meta.entry(k).or_insert(v);
    }
    for (k, v) in ph.metrics {
        lambda.metrics.entry(k).or_insert(v);
    }
    if ph.error != 0 {
        lambda.error = 1;
    }
}

/// Takes the placeholders out of one tracer trace. Their children become roots of what is
/// left; they keep the trace's sampling decision, which the placeholder carried.
pub(crate) fn split(trace: Vec<Span>) -> (Vec<Span>, Vec<Span>) {
    if !trace.iter().any(is_placeholder) {
        return (trace, Vec::new());
    }
    let (placeholders, mut rest): (Vec<Span>, Vec<Span>) =
        trace.into_iter().partition(is_placeholder);
    for ph in &placeholders {
        if let Some(p) = ph.metrics.get("_sampling_priority_v1") {
            for s in rest.iter_mut().filter(|s| s.parent_id == ph.span_id) {
                s.metrics
                    .entry("_sampling_priority_v1".into())
                    .or_insert(*p);
            }
        }
    }
    (rest, placeholders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::proto::TraceChunk;

    fn built(span_id: u64) -> Built {
        let lambda = Span {
            name: "aws.lambda".into(),
            span_id,
            ..Default::default()
        };
        Built {
            payload: TracerPayload {
                chunks: vec![TraceChunk {
                    spans: vec![lambda],
                    ..Default::default()
                }],
                ..Default::default()
            },
            placeholder: Some(span_id),
        }
    }

    fn placeholder(span_id: u64, tag: &str) -> Span {
        let mut s = Span {
            name: "aws.lambda".into(),
            resource: PLACEHOLDER_RESOURCE.into(),
            span_id,
            error: 1,
            ..Default::default()
        };
        s.meta.insert("custom".into(), tag.into());
        s
    }

    fn custom(p: &TracerPayload) -> Option<&str> {
        p.chunks[0].spans[0].meta.get("custom").map(String::as_str)
    }

    /// The placeholder and the built span meet in either order, by span id, and a built span
    /// that waits too long is released without it.
    #[test]
    fn either_order_by_span_id_and_released_after_the_grace_period() {
        let a = Adoption::default();
        assert!(a.placeholder(placeholder(1, "first")).is_none());
        let ready = a.built(built(1), 0);
        assert_eq!(ready.len(), 1);
        assert_eq!(custom(&ready[0]), Some("first"));
        assert_eq!(
            ready[0].chunks[0].spans[0].error, 1,
            "the tracer's error counts"
        );

        assert!(a.built(built(2), 0).is_empty(), "waits for its placeholder");
        assert!(a.built(built(3), 0).is_empty());
        let done = a.placeholder(placeholder(2, "second")).unwrap();
        assert_eq!(custom(&done), Some("second"));
        assert!(
            a.release(GRACE_NS - 1, false).is_empty(),
            "within the grace period"
        );
        let late = a.release(GRACE_NS, false);
        assert_eq!(late.len(), 1);
        assert_eq!(custom(&late[0]), None);
        assert!(a.release(0, true).is_empty());
    }

    #[test]
    fn held_entries_are_bounded() {
        let a = Adoption::default();
        for id in 1..=MAX_HELD as u64 {
            assert!(a.built(built(id), 0).is_empty());
        }
        let pushed_out = a.built(built(MAX_HELD as u64 + 1), 0);
        assert_eq!(
            pushed_out.len(),
            1,
            "the oldest leaves, shipped rather than lost"
        );
        assert_eq!(pushed_out[0].chunks[0].spans[0].span_id, 1);
        assert_eq!(a.release(0, true).len(), MAX_HELD);
    }

    #[test]
    fn held_entries_are_bounded_in_bytes() {
        let a = Adoption::default();
        let mut big = placeholder(1, "x");
        big.meta.insert("blob".into(), "b".repeat(MAX_HELD_BYTES));
        assert!(a.placeholder(big).is_none());
        assert!(
            a.built(built(1), 0).is_empty(),
            "too big to hold: not there"
        );
        let late = a.release(GRACE_NS, false);
        assert_eq!(custom(&late[0]), None, "shipped without the tags");
        let mut half = placeholder(2, "half");
        half.meta
            .insert("blob".into(), "b".repeat(MAX_HELD_BYTES / 2));
        a.placeholder(half);
        let mut other = placeholder(3, "other");
        other
            .meta
            .insert("blob".into(), "b".repeat(MAX_HELD_BYTES / 2));
        a.placeholder(other);
        assert!(
            a.built(built(2), 0).is_empty(),
            "its placeholder was pushed out: it waits"
        );
        assert_eq!(custom(&a.built(built(3), 0)[0]), Some("other"));
    }

    #[test]
    fn split_keeps_the_placeholders_priority_on_its_children() {
        let mut ph = placeholder(9, "x");
        ph.metrics.insert("_sampling_priority_v1".into(), 2.0);
        let child = Span {
            span_id: 10,
            parent_id: 9,
            ..Default::default()
        };
        let (rest, phs) = split(vec![ph, child]);
        assert_eq!(phs.len(), 1);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].metrics["_sampling_priority_v1"], 2.0);
    }
}

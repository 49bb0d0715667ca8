//! Estimated heap bytes of trace data: what a buffered payload or a held span really costs in
//! memory (strings, map entries with the maps' own overhead, the structs), not its encoded
//! size. Pure.

use super::proto::{Span, TraceChunk, TracerPayload};

/// Estimated heap bytes of one trace chunk and its spans.
pub(crate) fn chunk_heap_size(c: &TraceChunk) -> usize {
    96 + c.origin.len() + string_map(&c.tags) + c.spans.iter().map(span_heap_size).sum::<usize>()
}

/// Estimated heap bytes of one span.
pub(crate) fn span_heap_size(s: &Span) -> usize {
    const SPAN: usize = 400;
    SPAN + s.service.len()
        + s.name.len()
        + s.resource.len()
        + s.r#type.len()
        + string_map(&s.meta)
        + s.metrics.keys().map(|k| k.len() + 64).sum::<usize>()
        + s.meta_struct
            .iter()
            .map(|(k, v)| k.len() + v.len() + 64)
            .sum::<usize>()
        + s.span_links
            .iter()
            .map(|l| 96 + l.tracestate.len() + string_map(&l.attributes))
            .sum::<usize>()
}

/// Estimated heap bytes of a payload: strings, map entries (with the maps' own overhead) and
/// the structs themselves — about three times its encoded size for typical spans.
pub(crate) fn heap_size(p: &TracerPayload) -> usize {
    let chunks: usize = p.chunks.iter().map(chunk_heap_size).sum();
    256 + p.container_id.len()
        + p.language_name.len()
        + p.language_version.len()
        + p.tracer_version.len()
        + p.runtime_id.len()
        + p.env.len()
        + p.hostname.len()
        + p.app_version.len()
        + string_map(&p.tags)
        + chunks
}

/// A map entry: two `String`s in the table (with its load factor) and their two allocations.
fn string_map(m: &std::collections::HashMap<String, String>) -> usize {
    m.iter().map(|(k, v)| k.len() + v.len() + 112).sum()
}

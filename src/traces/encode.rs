//! Trace intake encoding: tracer payloads grouped into `AgentPayload`s of at most ~12 MB
//! uncompressed (the intake takes about 15 MB), zstd-compressed. Pure; nothing here sends.

use super::proto::{AgentPayload, TracerPayload};
use crate::payload::{Encoded, Payload, Signal};
use prost::Message;

pub(crate) const MAX_PAYLOAD_BYTES: usize = 12 * 1024 * 1024;

/// One `/api/v0.2/traces` payload per group, with its number of spans, at zstd `level`.
pub(crate) fn agent_payloads(payloads: Vec<TracerPayload>, env: &str, level: i32) -> Vec<Encoded> {
    let mut out = Vec::new();
    let mut group: Vec<TracerPayload> = Vec::new();
    let mut size = 0;
    let flush = |group: &mut Vec<TracerPayload>, out: &mut Vec<Encoded>| {
        if group.is_empty() {
            return;
        }
        let spans = group
            .iter()
            .flat_map(|p| &p.chunks)
            .map(|c| c.spans.len() as u64)
            .sum();
        let payload = AgentPayload {
            env: env.to_string(),
            tracer_payloads: std::mem::take(group),
            agent_version: concat!("tandem-", env!("CARGO_PKG_VERSION")).to_string(),
            ..Default::default()
        };
        out.push(Encoded {
            path: "/api/v0.2/traces",
            payload: Payload::zstd(
                payload.encode_to_vec(),
                level,
                "application/x-protobuf",
                Signal::Traces,
            ),
            items: spans,
        });
    };
    for p in payloads {
        let len = p.encoded_len() + 6;
        if size + len > MAX_PAYLOAD_BYTES {
            flush(&mut group, &mut out);
            size = 0;
        }
        size += len;
        group.push(p);
    }
    flush(&mut group, &mut out);
    out
}

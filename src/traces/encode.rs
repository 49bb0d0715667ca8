//! Trace intake encoding: tracer payloads grouped into `AgentPayload`s of at most ~12 MB
//! uncompressed (the intake takes about 15 MB), zstd-compressed. Pure.

use super::proto::{AgentPayload, TracerPayload};
use prost::Message;

pub const MAX_PAYLOAD_BYTES: usize = 12 * 1024 * 1024;

/// Returns (compressed body, number of spans) per request.
pub fn agent_payloads(payloads: Vec<TracerPayload>, env: &str) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut group: Vec<TracerPayload> = Vec::new();
    let mut size = 0;
    let flush = |group: &mut Vec<TracerPayload>, out: &mut Vec<(Vec<u8>, u64)>| {
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
        let raw = payload.encode_to_vec();
        out.push((zstd::bulk::compress(&raw, 3).unwrap_or(raw), spans));
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

//! Logs encoding: batches of encoded entries (≤ 1,000 entries, ≤ 5 MB uncompressed), JSON
//! array bodies, zstd when `DD_LOGS_CONFIG_USE_COMPRESSION` (the default). Pure functions;
//! nothing here sends.

use crate::payload::{Payload, Signal};

pub(crate) const MAX_ENTRIES: usize = 1_000;
/// Headers of every logs request (the Agent's JSON protocol).
pub(crate) const HEADERS: [(&str, &str); 2] = [
    ("DD-PROTOCOL", "agent-json"),
    ("DD-EVP-ORIGIN", "lambda-extension"),
];
pub(crate) const MAX_BATCH_BYTES: usize = 5_000_000;

/// Splits entries into batches within the intake's limits, keeping order.
pub(crate) fn batches(entries: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut cur: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 2; // the brackets
    for e in entries {
        let add = e.len() + 1;
        if !cur.is_empty() && (cur.len() >= MAX_ENTRIES || bytes + add > MAX_BATCH_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 2;
        }
        bytes += add;
        cur.push(e);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The request body of a batch: zstd at `compression` (a level), or plain JSON.
pub(crate) fn payload(batch: &[Vec<u8>], compression: Option<i32>) -> Payload {
    let json = body(batch);
    match compression {
        Some(level) => Payload::zstd(json, level, "application/json", Signal::Logs),
        None => Payload::plain(json, "application/json", Signal::Logs),
    }
}

/// The JSON array body of a batch.
pub(crate) fn body(batch: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, e) in batch.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests;

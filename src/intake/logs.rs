//! Logs intake encoding: batches of encoded entries (≤ 1,000 entries, ≤ 5 MB uncompressed),
//! JSON array bodies, zstd. Pure functions; sending lives in `mod.rs`.

pub const MAX_ENTRIES: usize = 1_000;
pub const MAX_BATCH_BYTES: usize = 5_000_000;

/// Splits entries into batches within the intake's limits, keeping order.
pub fn batches(entries: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
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

/// The JSON array body of a batch.
pub fn body(batch: &[Vec<u8>]) -> Vec<u8> {
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
mod tests {
    use super::*;

    #[test]
    fn batches_respect_both_limits_and_order() {
        let small: Vec<Vec<u8>> = (0..2500)
            .map(|i| format!("{{\"i\":{i}}}").into_bytes())
            .collect();
        let b = batches(small);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let v: serde_json::Value = serde_json::from_slice(&body(&b[2])).unwrap();
        assert_eq!(v[0]["i"], 2000);

        let big: Vec<Vec<u8>> = (0..12).map(|_| vec![b'1'; 900_000]).collect();
        let b = batches(big);
        assert!(b.iter().all(|x| body(x).len() <= MAX_BATCH_BYTES));
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 12);
    }
}

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

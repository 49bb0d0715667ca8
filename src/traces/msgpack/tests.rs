#![allow(clippy::indexing_slicing, clippy::string_slice)] // a test may index: a panic fails it

use super::*;

const V04: &[u8] = include_bytes!("../../../tests/fixtures/traces/v04.msgpack");
const V05: &[u8] = include_bytes!("../../../tests/fixtures/traces/v05.msgpack");
const EXPECTED: &str = include_str!("../../../tests/fixtures/traces/expected.json");

fn check(decoded: &[Vec<Span>], expected: &serde_json::Value) {
    let expected = expected.as_array().unwrap();
    assert_eq!(decoded.len(), expected.len());
    for (trace, exp) in decoded.iter().zip(expected) {
        let exp = exp.as_array().unwrap();
        assert_eq!(trace.len(), exp.len());
        for (s, e) in trace.iter().zip(exp) {
            assert_eq!(s.trace_id, e["trace_id"].as_u64().unwrap());
            assert_eq!(s.span_id, e["span_id"].as_u64().unwrap());
            assert_eq!(s.parent_id, e["parent_id"].as_u64().unwrap());
            assert_eq!(s.start, e["start"].as_i64().unwrap());
            assert_eq!(s.duration, e["duration"].as_i64().unwrap());
            assert_eq!(s.error, e["error"].as_i64().unwrap() as i32);
            assert_eq!(
                (
                    s.name.as_str(),
                    s.service.as_str(),
                    s.resource.as_str(),
                    s.r#type.as_str()
                ),
                (
                    e["name"].as_str().unwrap(),
                    e["service"].as_str().unwrap(),
                    e["resource"].as_str().unwrap(),
                    e["type"].as_str().unwrap()
                )
            );
            for (k, v) in e["meta"].as_object().unwrap() {
                assert_eq!(s.meta.get(k).map(String::as_str), v.as_str(), "{k}");
            }
            for (k, v) in e["metrics"].as_object().unwrap() {
                assert_eq!(s.metrics.get(k).copied(), v.as_f64(), "{k}");
            }
        }
    }
}

#[test]
fn decodes_the_tracer_fixtures() {
    let expected: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
    check(&decode_v04(V04).unwrap(), &expected["v04"]);
    check(&decode_v05(V05).unwrap(), &expected["v05"]);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    for body in [V04, V05] {
        for cut in 0..body.len() {
            let decoded = if body == V04 {
                decode_v04(&body[..cut])
            } else {
                decode_v05(&body[..cut])
            };
            assert!(decoded.is_err(), "cut at {cut} decoded");
        }
    }
}

#[test]
fn hostile_inputs() {
    // Claims of huge collections are refused before allocating.
    assert_eq!(
        decode_v04(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::Length(u32::MAX as usize))
    );
    assert!(decode_v04(&[0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff]).is_err());
    // Wrong types, bad UTF-8, out-of-range string index, wrong field count.
    assert!(matches!(decode_v04(b"\x81"), Err(DecodeError::Type { .. })));
    assert_eq!(
        decode_v04(&[0x91, 0x91, 0x81, 0xa1, 0xff, 0x01]),
        Err(DecodeError::Utf8)
    );
    let mut bad_index = vec![0x92, 0x91, 0xa0, 0x91, 0x91, 0x9c, 0x05];
    bad_index.extend([0u8; 11]);
    assert_eq!(decode_v05(&bad_index), Err(DecodeError::Index(5)));
    assert_eq!(
        decode_v05(&[0x92, 0x90, 0x91, 0x91, 0x93, 0, 0, 0]),
        Err(DecodeError::Fields(3))
    );
    assert!(decode_v05(&[0x93]).is_err());
    // Unknown keys of any type are skipped.
    let span = [
        0x91, 0x91, 0x82, 0xa1, b'x', 0x92, 0xc3, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xa4, b'n', b'a',
        b'm', b'e', 0xa1, b'n',
    ];
    assert_eq!(decode_v04(&span).unwrap()[0][0].name, "n");
    // Byte soup never panics.
    let mut x: u64 = 7;
    for _ in 0..20_000 {
        let len = (x % 64) as usize;
        let soup: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode_v04(&soup);
        let _ = decode_v05(&soup);
    }
}

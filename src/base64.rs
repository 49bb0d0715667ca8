//! Base64 decoding (standard and URL-safe alphabets, padding optional): KMS ciphertexts,
//! binary message attributes, Kinesis records, error stacks. Pure; `None` on malformed input.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

/// Standard base64 (with or without padding); `None` if malformed.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_both_alphabets_with_or_without_padding() {
        assert_eq!(super::decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(super::decode("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            super::decode("-_8").as_deref(),
            super::decode("+/8").as_deref()
        );
        assert_eq!(super::decode("not base64!"), None);
    }
}

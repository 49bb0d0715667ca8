//! Base64 decoding (standard and URL-safe alphabets, padding optional): KMS ciphertexts,
//! binary message attributes, Kinesis records, error stacks; and standard padded encoding (the
//! ciphertext sent to KMS). Pure; `None` on malformed input.

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

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        for i in 0..4 {
            if i <= chunk.len() {
                let six = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(
                    ALPHABET.get(six as usize).copied().unwrap_or(b'A'),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_what_it_decodes() {
        for s in ["", "h", "he", "hel", "hell", "hello", "\u{0}\u{ff}binary"] {
            let e = super::encode(s.as_bytes());
            assert_eq!(super::decode(&e).as_deref(), Some(s.as_bytes()), "{e}");
        }
        assert_eq!(super::encode(b"hello"), "aGVsbG8=");
        assert_eq!(super::encode(&[0xfb, 0xff]), "+/8=");
    }

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

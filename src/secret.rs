//! The one type allowed to hold a secret value (an API key), whose `Debug` and `Display` never
//! reveal it, and the redaction every diagnostic line passes through. A leaf: imports nothing of
//! ours, so the config, the logger and the secret resolution can all stand on it.

use std::fmt;

/// A secret string. Read it with [`Secret::expose`] only where it goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Masks anything shaped like a Datadog API or application key (a run of 32 or 40 hex
/// digits) so that a key that slipped into an error message never reaches a log.
pub(crate) fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_hexdigit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                i += 1;
            }
            if i - start >= 32 {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&text[last..start]);
                o.push_str("***");
                last = i;
            }
        } else {
            i += 1;
        }
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[last..]);
            std::borrow::Cow::Owned(o)
        }
        None => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("abcdef0123456789abcdef0123456789");
        assert!(!format!("{s:?} {s}").contains("abcdef"));
    }

    #[test]
    fn redact_masks_key_shaped_runs_only() {
        let key = "0123456789abcdef0123456789abcdef";
        assert_eq!(redact(&format!("bad key {key}!")), "bad key ***!");
        assert_eq!(redact("request 1234abcd ok"), "request 1234abcd ok");
    }
}

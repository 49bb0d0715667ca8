//! On-demand: the init phase's lines, held until the first invocation gives them its request id
//! (as Datadog's extension does). Bounded: past `MAX_LINES` lines or `MAX_BYTES` a line goes out
//! at once, without an id. Must not encode or ship.

use std::sync::Mutex;

/// Init lines held at most (more go out without an id rather than wait).
const MAX_LINES: usize = 1_000;
const MAX_BYTES: usize = 1024 * 1024;

/// A line waiting for its request id.
pub(super) struct Held {
    pub time_ms: i64,
    pub text: String,
    pub status: &'static str,
    pub tags: Option<String>,
}

/// Init lines waiting for their request id, and their text's bytes.
#[derive(Default)]
struct HeldLines {
    lines: Vec<Held>,
    bytes: usize,
}

/// `None` once the init phase ended (or in Managed Instance mode, where it never holds).
pub(super) struct InitHold(Mutex<Option<HeldLines>>);

impl InitHold {
    pub(super) fn new(active: bool) -> Self {
        Self(Mutex::new(active.then(HeldLines::default)))
    }

    /// Holds a line; false when the init phase is over or the hold is full.
    pub(super) fn hold(
        &self,
        time_ms: i64,
        text: &str,
        status: &'static str,
        tags: Option<&str>,
    ) -> bool {
        let mut held = crate::sync::lock(&self.0);
        let Some(held) = held.as_mut() else {
            return false;
        };
        if held.lines.len() >= MAX_LINES || held.bytes + text.len() > MAX_BYTES {
            return false;
        }
        held.bytes += text.len();
        held.lines.push(Held {
            time_ms,
            text: text.to_string(),
            status,
            tags: tags.map(str::to_string),
        });
        true
    }

    /// Ends the init phase: the held lines, oldest first (none after the first call).
    pub(super) fn take(&self) -> Vec<Held> {
        crate::sync::lock(&self.0)
            .take()
            .map(|h| h.lines)
            .unwrap_or_default()
    }
}

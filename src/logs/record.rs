//! What a single log record says about itself: the request id it carries (JSON
//! `requestId`/`AWSRequestId`, or the request id field of the managed runtimes' tab-separated
//! text format) and its level. Pure; never guesses an id that is not in the record.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use crate::lambda::events::LogBody;

/// Facts read from a record.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Inspected {
    pub request_id: Option<String>,
    pub status: Option<&'static str>,
}

pub(crate) fn inspect(body: &LogBody) -> Inspected {
    match body {
        LogBody::Json(text) => inspect_json(text).unwrap_or_default(),
        LogBody::Text(text) => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{')
                && let Some(found) = inspect_json(trimmed.trim_end())
            {
                return found;
            }
            inspect_tabbed(text)
        }
    }
}

fn inspect_json(text: &str) -> Option<Inspected> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    let request_id = ["requestId", "AWSRequestId", "AWSrequestId", "requestID"]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let status = ["level", "status", "severity"]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
        .map(normalize_level);
    Some(Inspected { request_id, status })
}

/// Node: `<time>\t<request id>\t<LEVEL>\t<message>`; Python: `[LEVEL]\t<time>\t<request id>\t<message>`.
fn inspect_tabbed(text: &str) -> Inspected {
    let fields: Vec<&str> = text.splitn(4, '\t').collect();
    if fields.len() < 3 {
        return Inspected::default();
    }
    let head = fields.get(..3).unwrap_or_default();
    let request_id = head.iter().find(|f| is_uuid(f)).map(|f| f.to_string());
    if request_id.is_none() {
        return Inspected::default();
    }
    let status = head.iter().find_map(|f| {
        let level = f.trim_matches(|c| c == '[' || c == ']');
        KNOWN_LEVELS
            .contains(&level.to_ascii_uppercase().as_str())
            .then(|| normalize_level(level))
    });
    Inspected { request_id, status }
}

const KNOWN_LEVELS: &[&str] = &[
    "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL",
];

/// 8-4-4-4-12 hexadecimal, as Lambda request ids are.
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Maps a logger's level to a Datadog log status.
pub(crate) fn normalize_level(level: &str) -> &'static str {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" | "err" => "error",
        "fatal" | "critical" | "crit" => "critical",
        "emergency" | "emerg" => "emergency",
        "alert" => "alert",
        "notice" => "notice",
        _ => "info",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f2c2b4e-3c4a-4e0b-9a53-1f1a2b3c4d5e";

    #[test]
    fn json_object_and_json_text() {
        let obj = LogBody::Json(format!(
            r#"{{"level":"WARN","requestId":"{ID}","msg":"x"}}"#
        ));
        assert_eq!(
            inspect(&obj),
            Inspected {
                request_id: Some(ID.into()),
                status: Some("warn")
            }
        );
        let text = LogBody::Text(format!(
            "{{\"AWSRequestId\":\"{ID}\",\"level\":\"ERROR\"}}\n"
        ));
        assert_eq!(
            inspect(&text),
            Inspected {
                request_id: Some(ID.into()),
                status: Some("error")
            }
        );
    }

    #[test]
    fn managed_runtime_text_formats() {
        let node = LogBody::Text(format!("2025-01-01T00:00:00.000Z\t{ID}\tERROR\tboom"));
        assert_eq!(
            inspect(&node),
            Inspected {
                request_id: Some(ID.into()),
                status: Some("error")
            }
        );
        let py = LogBody::Text(format!(
            "[WARNING]\t2025-01-01T00:00:00.000Z\t{ID}\tcareful\nsecond line"
        ));
        assert_eq!(
            inspect(&py),
            Inspected {
                request_id: Some(ID.into()),
                status: Some("warn")
            }
        );
    }

    #[test]
    fn never_guesses() {
        for t in [
            "plain line",
            "a\tb\tc\td",
            "{not json",
            "\t\t",
            "{\"requestId\":42}",
        ] {
            assert_eq!(inspect(&LogBody::Text(t.into())).request_id, None, "{t}");
        }
    }
}

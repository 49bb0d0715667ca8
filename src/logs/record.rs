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
    /// `ddtags` of a JSON record (top level, or inside a `message` object): tags for the
    /// entry, with the record's text rewritten without them.
    pub ddtags: Option<(String, String)>,
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
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    let ddtags = take_ddtags(&mut map).map(|tags| {
        let rest = serde_json::to_string(&map).unwrap_or_default();
        (tags, rest)
    });
    let request_id = ["requestId", "AWSRequestId", "AWSrequestId", "requestID"]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let status = ["level", "status", "severity"]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
        .map(normalize_level);
    Some(Inspected {
        request_id,
        status,
        ddtags,
    })
}

/// Removes `ddtags` (a string of `k:v` tags separated by commas) from the record, at the top
/// level or in a `message` object, as Datadog's extension does.
fn take_ddtags(map: &mut serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let clean = |v: serde_json::Value| {
        let s = v.as_str()?.trim().trim_matches(',').to_string();
        (!s.is_empty()).then_some(s)
    };
    if map.get("ddtags").is_some_and(serde_json::Value::is_string) {
        return map.remove("ddtags").and_then(clean);
    }
    let inner = map.get_mut("message")?.as_object_mut()?;
    if inner
        .get("ddtags")
        .is_some_and(serde_json::Value::is_string)
    {
        return inner.remove("ddtags").and_then(clean);
    }
    None
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
    Inspected {
        request_id,
        status,
        ddtags: None,
    }
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
                status: Some("warn"),
                ddtags: None,
            }
        );
        let text = LogBody::Text(format!(
            "{{\"AWSRequestId\":\"{ID}\",\"level\":\"ERROR\"}}\n"
        ));
        assert_eq!(
            inspect(&text),
            Inspected {
                request_id: Some(ID.into()),
                status: Some("error"),
                ddtags: None,
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
                status: Some("error"),
                ddtags: None,
            }
        );
        let py = LogBody::Text(format!(
            "[WARNING]\t2025-01-01T00:00:00.000Z\t{ID}\tcareful\nsecond line"
        ));
        assert_eq!(
            inspect(&py),
            Inspected {
                request_id: Some(ID.into()),
                status: Some("warn"),
                ddtags: None,
            }
        );
    }

    /// Issue 13 (PARITY "Logs"): `ddtags` at the top level or inside `message` become the
    /// entry's tags and leave the text.
    #[test]
    fn ddtags_are_taken_out_of_json_records() {
        let top =
            LogBody::Json(r#"{"msg":"paid","ddtags":"team:pay,tier:1","level":"INFO"}"#.into());
        let got = inspect(&top);
        assert_eq!(
            got.ddtags,
            Some((
                "team:pay,tier:1".into(),
                r#"{"level":"INFO","msg":"paid"}"#.into()
            ))
        );
        let nested = LogBody::Text(r#"{"message":{"text":"x","ddtags":"a:b"}}"#.into());
        assert_eq!(
            inspect(&nested).ddtags,
            Some(("a:b".into(), r#"{"message":{"text":"x"}}"#.into()))
        );
        let not_text = LogBody::Json(r#"{"ddtags":5}"#.into());
        assert_eq!(inspect(&not_text).ddtags, None);
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

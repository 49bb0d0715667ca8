//! Typed readers over a [`Source`]. Each reader returns the documented default when the value
//! is absent, and — when it is present but invalid — records exactly one warning naming the
//! variable, the value (unless it is secret) and what was expected. Never panics.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::source::Source;
use std::collections::BTreeMap;
use std::time::Duration;

/// Reads settings and collects the warnings their values deserve.
pub(crate) struct Reader<'a> {
    pub source: &'a Source,
    pub warnings: Vec<String>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(source: &'a Source) -> Self {
        Self {
            source,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn warn_invalid(&mut self, name: &str, shown: &str, expected: &str, default: &str) {
        self.warnings.push(format!(
            "{name}={shown} is invalid: expected {expected}; using {default}"
        ));
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.source.get(name).map(|(_, v)| v.to_string())
    }

    pub(crate) fn bool(&mut self, name: &str, default: bool) -> bool {
        self.opt_bool(name).unwrap_or(default)
    }

    pub(crate) fn opt_bool(&mut self, name: &str) -> Option<bool> {
        let (found, v) = self.source.get(name)?;
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" => Some(true),
            "false" | "0" | "no" | "off" | "f" => Some(false),
            _ => {
                let shown = format!("{v:?}");
                self.warn_invalid(&found, &shown, "true or false", "the default");
                None
            }
        }
    }

    /// A whole number within `range`.
    pub(crate) fn u64_in(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> u64 {
        let Some((found, v)) = self.source.get(name) else {
            return default;
        };
        match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                let (shown, lo, hi) = (format!("{v:?}"), range.start(), range.end());
                self.warn_invalid(
                    &found,
                    &shown,
                    &format!("a whole number from {lo} to {hi}"),
                    &default.to_string(),
                );
                default
            }
        }
    }

    /// Seconds, possibly fractional, within `range` seconds.
    pub(crate) fn seconds_in(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<f64>,
        default: Duration,
    ) -> Duration {
        let Some((found, v)) = self.source.get(name) else {
            return default;
        };
        match v.parse::<f64>() {
            Ok(s) if s.is_finite() && range.contains(&s) => Duration::from_secs_f64(s),
            _ => {
                let (shown, lo, hi) = (format!("{v:?}"), range.start(), range.end());
                self.warn_invalid(
                    &found,
                    &shown,
                    &format!("a number of seconds from {lo} to {hi}"),
                    &format!("{}s", default.as_secs_f64()),
                );
                default
            }
        }
    }

    /// A TCP/UDP port (0 = pick a free one, for tests).
    pub(crate) fn port(&mut self, name: &str, default: u16) -> u16 {
        self.u64_in(name, 0..=65_535, u64::from(default)) as u16
    }

    /// Tags `k:v` separated by commas or white space, or a JSON list of strings (yaml form).
    pub(crate) fn tags(&mut self, name: &str) -> Vec<String> {
        let Some((found, v)) = self.source.get(name) else {
            return Vec::new();
        };
        if v.starts_with('[') {
            match serde_json::from_str::<Vec<String>>(v) {
                Ok(list) => {
                    return list
                        .into_iter()
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect();
                }
                Err(_) => {
                    let shown = format!("{v:?}");
                    self.warn_invalid(
                        &found,
                        &shown,
                        "tags as `k:v` separated by commas or spaces, or a list of strings",
                        "no tags",
                    );
                    return Vec::new();
                }
            }
        }
        split_list(v)
    }

    /// A list separated by commas or white space, or a JSON list of strings.
    pub(crate) fn list(&mut self, name: &str) -> Vec<String> {
        self.tags(name)
    }

    /// Entries separated by commas only (they may hold spaces), an entry in double quotes may
    /// hold commas — the Agent's form for lists of patterns — or a JSON list of strings.
    pub(crate) fn comma_list(&mut self, name: &str) -> Vec<String> {
        let Some((_, v)) = self.source.get(name) else {
            return Vec::new();
        };
        if v.trim_start().starts_with('[') {
            return self.tags(name);
        }
        split_quoted(v)
    }

    /// A JSON value of type `T`. `secret` hides the value in the warning (it may hold keys).
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
        expected: &str,
        secret: bool,
    ) -> Option<T> {
        let (found, v) = self.source.get(name)?;
        match serde_json::from_str::<T>(v) {
            Ok(t) => Some(t),
            Err(e) => {
                let shown = if secret {
                    "<hidden: may hold API keys>".to_string()
                } else {
                    format!("{v:?}")
                };
                let expected = format!("{expected} ({e})");
                self.warn_invalid(&found, &shown, &expected, "nothing");
                None
            }
        }
    }

    /// `old:new,old2:new2` pairs.
    pub(crate) fn mapping(&mut self, name: &str) -> BTreeMap<String, String> {
        let Some((found, v)) = self.source.get(name) else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once(':') {
                Some((k, n)) if !k.trim().is_empty() && !n.trim().is_empty() => {
                    out.insert(k.trim().to_string(), n.trim().to_string());
                }
                _ => {
                    let shown = format!("{pair:?}");
                    self.warn_invalid(
                        &found,
                        &shown,
                        "pairs `old:new` separated by commas",
                        "the other pairs",
                    );
                }
            }
        }
        out
    }

    /// An absolute http(s) URL, or a bare `host[:port]` (taken as https, as the Agent does).
    pub(crate) fn url(&mut self, names: &[&str]) -> Option<String> {
        let (found, v) = names.iter().find_map(|n| self.source.get(n))?;
        let url = if v.contains("://") {
            v.to_string()
        } else {
            format!("https://{v}")
        };
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Some(url.trim_end_matches('/').to_string())
            }
            _ => {
                let shown = format!("{v:?}");
                self.warn_invalid(
                    &found,
                    &shown,
                    "an http(s) URL or host[:port]",
                    "the default endpoint",
                );
                None
            }
        }
    }
}

/// Splits on commas and white space, dropping empties.
pub(crate) fn split_list(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// `a, "b,c" ,d` → `a`, `b,c`, `d`: commas outside double quotes separate; quotes are removed.
fn split_quoted(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect()
}

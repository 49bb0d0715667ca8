//! Readers for the settings that need more than a type: the site, ARNs, secret references,
//! dual-shipping endpoint maps, and the processing rules' kinds. Each bad value is one warning
//! naming the variable and what was expected.

use super::parse::Reader;
use super::{Config, SecretRef};
use crate::secret::Secret;
use std::collections::BTreeMap;

pub(super) fn valid_site(s: &str) -> bool {
    s.contains('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

pub(super) fn arn(r: &mut Reader<'_>, name: &str) -> Option<String> {
    let v = r.string(name)?;
    if v.starts_with("arn:") && v.split(':').count() >= 6 {
        Some(v)
    } else {
        let shown = format!("{v:?}");
        r.warn_invalid(
            name,
            &shown,
            "an ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
            "no secret",
        );
        None
    }
}

/// Collects every `<NAME>_SECRET_ARN` / `<NAME>_KMS_ENCRYPTED` indirection, keyed by `<NAME>`.
pub(super) fn secret_refs(r: &mut Reader<'_>) -> BTreeMap<String, SecretRef> {
    let mut out = BTreeMap::new();
    for name in r.source.dd_names() {
        if name == "DD_API_KEY_SECRET_ARN" {
            continue; // handled as the primary key source
        }
        if let Some(target) = name.strip_suffix("_SECRET_ARN") {
            if let Some(a) = arn(r, &name) {
                out.insert(target.to_string(), SecretRef::SecretArn(a));
            }
        } else if let Some(target) = name.strip_suffix("_KMS_ENCRYPTED")
            && let Some(v) = r.string(&name)
        {
            out.insert(target.to_string(), SecretRef::KmsEncrypted(v));
        }
    }
    out
}

pub(super) fn endpoints(r: &mut Reader<'_>, name: &str) -> BTreeMap<String, Vec<Secret>> {
    let map: BTreeMap<String, Vec<String>> = r
        .json(
            name,
            "a JSON object {\"https://url\": [\"api key\", …]}",
            true,
        )
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for (url, keys) in map {
        if reqwest::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            out.insert(
                url.trim_end_matches('/').to_string(),
                keys.into_iter().map(Secret::new).collect(),
            );
        } else {
            let shown = format!("{url:?}");
            r.warn_invalid(
                name,
                &shown,
                "an http(s) URL as each key",
                "the other endpoints",
            );
        }
    }
    out
}

pub(super) fn validate_rule_kinds(r: &mut Reader<'_>, c: &Config) {
    for rule in &c.logs_processing_rules {
        if !matches!(
            rule.kind.as_str(),
            "exclude_at_match" | "include_at_match" | "mask_sequences"
        ) {
            let shown = format!("{:?}", rule.kind);
            r.warn_invalid(
                "DD_LOGS_CONFIG_PROCESSING_RULES type",
                &shown,
                "exclude_at_match, include_at_match or mask_sequences",
                "skipping that rule",
            );
        }
    }
}

/// A zstd level for one signal: its own setting, else `global` (`DD_COMPRESSION_LEVEL`).
pub(super) fn compression_level(r: &mut Reader<'_>, name: &str, global: u64) -> i32 {
    r.u64_in(name, 1..=19, global) as i32
}

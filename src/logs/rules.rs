//! Log processing rules (`DD_LOGS_CONFIG_PROCESSING_RULES`): exclude_at_match,
//! include_at_match and mask_sequences, applied in order to each message. Compiling warns once
//! per bad rule and skips it. Uses `regex-lite` (linear time, small binary; ASCII classes).

use crate::config::ProcessingRuleSpec;
use regex_lite::Regex;
use std::borrow::Cow;

#[derive(Debug)]
enum Action {
    Exclude,
    Include,
    Mask(String),
}

#[derive(Debug)]
pub(crate) struct Rules(Vec<(Regex, Action)>);

impl Rules {
    /// Compiles the rules; unknown types were already warned about by config and are skipped.
    pub(crate) fn compile(specs: &[ProcessingRuleSpec]) -> Self {
        let mut out = Vec::new();
        for spec in specs {
            let action = match spec.kind.as_str() {
                "exclude_at_match" => Action::Exclude,
                "include_at_match" => Action::Include,
                "mask_sequences" => {
                    Action::Mask(spec.replace_placeholder.clone().unwrap_or_default())
                }
                _ => continue,
            };
            match Regex::new(&spec.pattern) {
                Ok(re) => out.push((re, action)),
                Err(e) => crate::log_warn!(
                    "DD_LOGS_CONFIG_PROCESSING_RULES rule {:?} has an invalid pattern {:?} ({e}); expected a regular expression; skipping that rule",
                    spec.name,
                    spec.pattern
                ),
            }
        }
        Self(out)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message after masking, or `None` if a rule filters it out.
    pub(crate) fn apply<'a>(&self, message: &'a str) -> Option<Cow<'a, str>> {
        let mut msg = Cow::Borrowed(message);
        for (re, action) in &self.0 {
            match action {
                Action::Exclude if re.is_match(&msg) => return None,
                Action::Include if !re.is_match(&msg) => return None,
                Action::Mask(placeholder) => {
                    if let Cow::Owned(masked) = re.replace_all(&msg, placeholder.as_str()) {
                        msg = Cow::Owned(masked);
                    }
                }
                _ => {}
            }
        }
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, pattern: &str, repl: Option<&str>) -> ProcessingRuleSpec {
        ProcessingRuleSpec {
            kind: kind.into(),
            name: "r".into(),
            pattern: pattern.into(),
            replace_placeholder: repl.map(Into::into),
        }
    }

    #[test]
    fn rules_apply_in_order() {
        let rules = Rules::compile(&[
            spec("exclude_at_match", "healthcheck", None),
            spec("include_at_match", "^app", None),
            spec("mask_sequences", r"\d{4}-\d{4}", Some("[card]")),
            spec("mask_sequences", "(unclosed", Some("x")),
        ]);
        assert_eq!(rules.0.len(), 3);
        assert_eq!(rules.apply("app healthcheck ok"), None);
        assert_eq!(rules.apply("other line"), None);
        assert_eq!(
            rules.apply("app paid 1234-5678").as_deref(),
            Some("app paid [card]")
        );
        assert_eq!(rules.apply("app plain").as_deref(), Some("app plain"));
    }
}

//! The Datadog settings Tandem knows and does not implement: the one table of them, shown in
//! the README's configuration table (a test keeps the two in step). Each one that is set gets
//! one warning at start naming it and saying what Tandem does instead. Must not read any value.

/// One setting (or family, when `prefix`) Datadog's extension or Agent documents for Lambda.
pub struct Unsupported {
    pub name: &'static str,
    /// Every variable starting with `name` (e.g. `DD_OTLP_CONFIG_`).
    pub prefix: bool,
    /// What it does in Datadog's extension, and what Tandem does instead.
    pub why: &'static str,
}

const fn one(name: &'static str, why: &'static str) -> Unsupported {
    Unsupported {
        name,
        prefix: false,
        why,
    }
}

const AAP: &str =
    "App and API Protection needs a runtime-API proxy, which Tandem does not serve: not enabled";

pub const UNSUPPORTED: &[Unsupported] = &[
    one("DD_SERVERLESS_APPSEC_ENABLED", AAP),
    one("DD_APPSEC_ENABLED", AAP),
    one("DD_APPSEC_RULES", AAP),
    one("DD_APPSEC_WAF_TIMEOUT", AAP),
    one("DD_API_SECURITY_ENABLED", AAP),
    one("DD_API_SECURITY_SAMPLE_DELAY", AAP),
    one(
        "DD_EXPERIMENTAL_ENABLE_PROXY",
        "the runtime-API proxy is not served; AWS_LAMBDA_RUNTIME_API is left as Lambda set it",
    ),
    one(
        "DD_LAMBDA_FIPS_MODE",
        "no FIPS-validated crypto module or FIPS AWS endpoints: Tandem uses rustls on ring and the standard endpoints",
    ),
    one(
        "DD_EXTENSION_VERSION",
        "it selects between Datadog's own agents; Tandem is one extension",
    ),
    one(
        "DD_APM_FEATURES",
        "APM feature flags of Datadog's trace agent: none apply",
    ),
    one(
        "DD_COMPUTE_TRACE_STATS_ON_EXTENSION",
        "trace stats are computed by Datadog's backend (spans are marked _dd.compute_stats)",
    ),
    one(
        "DD_SPAN_DEDUP_TIMEOUT",
        "a debugging timeout of Datadog's span deduplication, which Tandem does not need",
    ),
    one(
        "DD_DOGSTATSD_QUEUE_SIZE",
        "datagrams go straight from the socket to the aggregator: there is no queue to size",
    ),
    one(
        "DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED",
        "logs go to the Datadog intake (or DD_LOGS_CONFIG_LOGS_DD_URL), never in the Observability Pipelines format",
    ),
    one(
        "DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL",
        "logs go to the Datadog intake (or DD_LOGS_CONFIG_LOGS_DD_URL), never in the Observability Pipelines format",
    ),
    one(
        "DD_TRACE_PROPAGATION_EXTRACT_FIRST",
        "every configured style is tried in order, not only the first",
    ),
    one(
        "DD_TRACE_PROPAGATION_HTTP_BAGGAGE_ENABLED",
        "the baggage header is passed through as it is",
    ),
    one(
        "DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED",
        "inferred spans keep their resource's service (use DD_SERVICE_MAPPING or DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED)",
    ),
    one(
        "DD_TRACE_STATS_ADDITIONAL_TAGS",
        "trace stats are computed by Datadog's backend",
    ),
    one(
        "DD_DSM_CONSUME_ENABLED",
        "no Data Streams Monitoring checkpoints from the extension",
    ),
    one(
        "DD_ORG_UUID",
        "no delegated authentication: the API key comes from DD_API_KEY or its secret",
    ),
];

/// Whether `name` (a `DD_` variable) is in the table.
pub fn find(name: &str) -> Option<&'static Unsupported> {
    UNSUPPORTED.iter().find(|u| {
        if u.prefix {
            name.starts_with(u.name)
        } else {
            name == u.name
        }
    })
}

/// One warning per unsupported variable in `names` (a family warns once, naming its members).
pub(super) fn warnings(names: &[String]) -> Vec<String> {
    let mut out: Vec<(&'static str, Vec<&str>, &'static str)> = Vec::new();
    for n in names {
        if let Some(u) = find(n) {
            match out.iter_mut().find(|(k, _, _)| *k == u.name) {
                Some((_, members, _)) => members.push(n),
                None => out.push((u.name, vec![n], u.why)),
            }
        }
    }
    out.into_iter()
        .map(|(_, members, why)| {
            format!(
                "{} {} set but not supported by Tandem: {why}",
                members.join(", "),
                if members.len() == 1 { "is" } else { "are" }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unsupported_variable_warns_once_by_name() {
        let names: Vec<String> = [
            "DD_SERVERLESS_APPSEC_ENABLED",
            "DD_OTLP_CONFIG_TRACES_ENABLED",
            "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT",
            "DD_SITE",
            "DD_LAMBDA_FIPS_MODE",
        ]
        .map(String::from)
        .to_vec();
        let w = warnings(&names);
        // The OTLP settings are supported now: only the other two warn.
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("DD_SERVERLESS_APPSEC_ENABLED is set but not supported"));
        assert!(w[1].contains("DD_LAMBDA_FIPS_MODE") && w[1].contains("FIPS"));
        assert!(warnings(&["DD_SITE".into()]).is_empty());
    }
}

//! Trace settings that shape span processing: the Agent's obfuscation switches
//! (`DD_APM_OBFUSCATION_*`), the propagation styles read from events
//! (`DD_TRACE_PROPAGATION_STYLE(_EXTRACT)`) and the naming of inferred spans
//! (`DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED`). Parsing only.

use super::parse::Reader;

/// The Agent's obfuscation settings, with the Agent's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obfuscation {
    pub http_remove_query_string: bool,
    pub http_remove_paths_with_digits: bool,
    pub redis_enabled: bool,
    pub redis_remove_all_args: bool,
    pub memcached_enabled: bool,
    pub memcached_keep_command: bool,
    pub mongodb_enabled: bool,
    pub mongodb_keep_values: Vec<String>,
    pub elasticsearch_enabled: bool,
    pub elasticsearch_keep_values: Vec<String>,
    pub remove_stack_traces: bool,
}

impl Default for Obfuscation {
    fn default() -> Self {
        Self {
            http_remove_query_string: false,
            http_remove_paths_with_digits: false,
            redis_enabled: true,
            redis_remove_all_args: false,
            memcached_enabled: true,
            memcached_keep_command: false,
            mongodb_enabled: true,
            mongodb_keep_values: Vec::new(),
            elasticsearch_enabled: true,
            elasticsearch_keep_values: Vec::new(),
            remove_stack_traces: false,
        }
    }
}

/// A trace-context format read from events and their headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagationStyle {
    Datadog,
    TraceContext,
    B3Multi,
    B3,
}

/// Datadog's default extraction order.
pub const DEFAULT_STYLES: [PropagationStyle; 2] =
    [PropagationStyle::Datadog, PropagationStyle::TraceContext];

pub(super) fn obfuscation(r: &mut Reader) -> Obfuscation {
    let d = Obfuscation::default();
    let p = "DD_APM_OBFUSCATION_";
    let mut b = |name: &str, default: bool| r.bool(&format!("{p}{name}"), default);
    let http_remove_query_string = b("HTTP_REMOVE_QUERY_STRING", d.http_remove_query_string);
    let http_remove_paths_with_digits = b(
        "HTTP_REMOVE_PATHS_WITH_DIGITS",
        d.http_remove_paths_with_digits,
    );
    let redis_enabled = b("REDIS_ENABLED", d.redis_enabled);
    let redis_remove_all_args = b("REDIS_REMOVE_ALL_ARGS", d.redis_remove_all_args);
    let memcached_enabled = b("MEMCACHED_ENABLED", d.memcached_enabled);
    let memcached_keep_command = b("MEMCACHED_KEEP_COMMAND", d.memcached_keep_command);
    let mongodb_enabled = b("MONGODB_ENABLED", d.mongodb_enabled);
    let elasticsearch_enabled = b("ELASTICSEARCH_ENABLED", d.elasticsearch_enabled);
    let remove_stack_traces = b("REMOVE_STACK_TRACES", d.remove_stack_traces);
    // The names Datadog's extension reads (the Agent's `apm_config.obfuscation.http.*`).
    let http_remove_query_string = r.bool(
        "DD_APM_CONFIG_OBFUSCATION_HTTP_REMOVE_QUERY_STRING",
        http_remove_query_string,
    );
    let http_remove_paths_with_digits = r.bool(
        "DD_APM_CONFIG_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS",
        http_remove_paths_with_digits,
    );
    Obfuscation {
        http_remove_query_string,
        http_remove_paths_with_digits,
        redis_enabled,
        redis_remove_all_args,
        memcached_enabled,
        memcached_keep_command,
        mongodb_enabled,
        mongodb_keep_values: r.list(&format!("{p}MONGODB_KEEP_VALUES")),
        elasticsearch_enabled,
        elasticsearch_keep_values: r.list(&format!("{p}ELASTICSEARCH_KEEP_VALUES")),
        remove_stack_traces,
    }
}

/// `DD_TRACE_PROPAGATION_STYLE_EXTRACT`, else `DD_TRACE_PROPAGATION_STYLE`, else Datadog's
/// default. Unknown names get one warning each; `none` extracts nothing.
pub(super) fn propagation_styles(r: &mut Reader) -> Vec<PropagationStyle> {
    let name = [
        "DD_TRACE_PROPAGATION_STYLE_EXTRACT",
        "DD_TRACE_PROPAGATION_STYLE",
    ]
    .into_iter()
    .find(|n| r.source.get(n).is_some());
    let Some(name) = name else {
        return DEFAULT_STYLES.to_vec();
    };
    let mut styles = Vec::new();
    for entry in r.list(name) {
        let style = match entry.to_ascii_lowercase().as_str() {
            "datadog" => PropagationStyle::Datadog,
            "tracecontext" => PropagationStyle::TraceContext,
            "b3multi" => PropagationStyle::B3Multi,
            "b3" | "b3 single header" | "b3single" => PropagationStyle::B3,
            // Not a trace context: nothing to extract (baggage rides along as is).
            "none" | "baggage" => continue,
            _ => {
                r.warn_invalid(
                    name,
                    &format!("{entry:?}"),
                    "datadog, tracecontext, b3multi, b3, baggage or none",
                    "the other styles",
                );
                continue;
            }
        };
        if !styles.contains(&style) {
            styles.push(style);
        }
    }
    styles
}

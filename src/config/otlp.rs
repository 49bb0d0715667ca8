//! The OTLP receiver's settings, under Datadog's `DD_OTLP_CONFIG_*` names: where the receivers
//! listen (off unless their endpoint is set, as in Datadog's Agent) and how each signal maps.
//! Must not read anything else.

use super::parse::Reader;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// How OTLP histograms become Datadog metrics (`DD_OTLP_CONFIG_METRICS_HISTOGRAMS_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistogramMode {
    /// One distribution (a sketch built from the buckets): Datadog's default.
    #[default]
    Distributions,
    /// A `<name>.bucket` count per bucket, tagged `lower_bound`/`upper_bound`.
    Counters,
    /// No bucket metrics (only the aggregation metrics, if asked for).
    NoBuckets,
}

#[derive(Debug, Clone, Default)]
pub struct OtlpConfig {
    /// `DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT`: OTLP/HTTP; always bound on loopback.
    pub http: Option<SocketAddr>,
    /// `DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT`: OTLP/gRPC; always bound on loopback.
    pub grpc: Option<SocketAddr>,
    /// `DD_OTLP_CONFIG_TRACES_ENABLED` (default true).
    pub traces: bool,
    /// `DD_OTLP_CONFIG_METRICS_ENABLED` (default true).
    pub metrics: bool,
    /// `DD_OTLP_CONFIG_LOGS_ENABLED` (default false, as Datadog's Agent: the function's stdout
    /// already reaches Datadog through the Telemetry API).
    pub logs: bool,
    /// `DD_OTLP_CONFIG_TRACES_SPAN_NAME_AS_RESOURCE_NAME`: the span's name is the operation name.
    pub span_name_as_resource_name: bool,
    /// `DD_OTLP_CONFIG_TRACES_SPAN_NAME_REMAPPINGS`: operation names renamed (`old:new,…` or a
    /// JSON object).
    pub span_name_remappings: BTreeMap<String, String>,
    pub histogram_mode: HistogramMode,
    /// `DD_OTLP_CONFIG_METRICS_HISTOGRAMS_SEND_AGGREGATION_METRICS` (or the older
    /// `…_SEND_COUNT_SUM_METRICS`): `<name>.count`, `.sum`, `.min`, `.max` as well.
    pub histogram_aggregations: bool,
    /// `DD_OTLP_CONFIG_METRICS_SUMS_CUMULATIVE_MONOTONIC_MODE=raw_value`: cumulative monotonic
    /// sums as gauges of their value instead of counts of their increase (`to_delta`).
    pub cumulative_monotonic_raw: bool,
    /// `DD_OTLP_CONFIG_METRICS_SUMMARIES_MODE=noquantiles`: summaries without quantile gauges.
    pub summary_quantiles: bool,
}

pub(super) fn read(r: &mut Reader<'_>) -> OtlpConfig {
    let remap_name = "DD_OTLP_CONFIG_TRACES_SPAN_NAME_REMAPPINGS";
    let span_name_remappings = match r.string(remap_name) {
        Some(v) if v.trim_start().starts_with('{') => r
            .json(remap_name, "a JSON object of old to new names", false)
            .unwrap_or_default(),
        Some(_) => r.mapping(remap_name),
        None => BTreeMap::new(),
    };
    let histogram_mode = match r
        .string("DD_OTLP_CONFIG_METRICS_HISTOGRAMS_MODE")
        .map(|m| m.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("distributions") => HistogramMode::Distributions,
        Some("counters") => HistogramMode::Counters,
        Some("nobuckets") => HistogramMode::NoBuckets,
        Some(other) => {
            let shown = format!("{other:?}");
            r.warn_invalid(
                "DD_OTLP_CONFIG_METRICS_HISTOGRAMS_MODE",
                &shown,
                "distributions, counters or nobuckets",
                "distributions",
            );
            HistogramMode::Distributions
        }
    };
    let aggregations = r
        .opt_bool("DD_OTLP_CONFIG_METRICS_HISTOGRAMS_SEND_AGGREGATION_METRICS")
        .or_else(|| r.opt_bool("DD_OTLP_CONFIG_METRICS_HISTOGRAMS_SEND_COUNT_SUM_METRICS"))
        .unwrap_or(false);
    let raw = one_of(
        r,
        "DD_OTLP_CONFIG_METRICS_SUMS_CUMULATIVE_MONOTONIC_MODE",
        &["to_delta", "raw_value"],
    ) == Some("raw_value");
    let noquantiles = one_of(
        r,
        "DD_OTLP_CONFIG_METRICS_SUMMARIES_MODE",
        &["gauges", "noquantiles"],
    ) == Some("noquantiles");
    OtlpConfig {
        http: endpoint(r, "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT"),
        grpc: endpoint(r, "DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT"),
        traces: r.bool("DD_OTLP_CONFIG_TRACES_ENABLED", true),
        metrics: r.bool("DD_OTLP_CONFIG_METRICS_ENABLED", true),
        logs: r.bool("DD_OTLP_CONFIG_LOGS_ENABLED", false),
        span_name_as_resource_name: r
            .bool("DD_OTLP_CONFIG_TRACES_SPAN_NAME_AS_RESOURCE_NAME", false),
        span_name_remappings,
        histogram_mode,
        histogram_aggregations: aggregations,
        cumulative_monotonic_raw: raw,
        summary_quantiles: !noquantiles,
    }
}

/// The value of `name` if it is one of `allowed` (warned otherwise).
fn one_of(r: &mut Reader<'_>, name: &str, allowed: &[&'static str]) -> Option<&'static str> {
    let v = r.string(name)?;
    let v = v.trim().to_ascii_lowercase();
    let found = allowed.iter().find(|a| **a == v).copied();
    if found.is_none() {
        let shown = format!("{v:?}");
        let expected = allowed.join(" or ");
        r.warn_invalid(
            name,
            &shown,
            &expected,
            allowed.first().copied().unwrap_or(""),
        );
    }
    found
}

/// `host:port` (or `http://host:port`): the port, on loopback. The receivers never listen
/// beyond the sandbox's loopback: a function is their only client.
fn endpoint(r: &mut Reader<'_>, name: &str) -> Option<SocketAddr> {
    let v = r.string(name)?;
    let hostport = v.trim().trim_start_matches("http://").trim_end_matches('/');
    let port = hostport
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    match port {
        Some(p) => Some(SocketAddr::from(([127, 0, 0, 1], p))),
        None => {
            let shown = format!("{v:?}");
            r.warn_invalid(
                name,
                &shown,
                "host:port, e.g. localhost:4318",
                "the receiver off",
            );
            None
        }
    }
}

//! One validated, immutable [`Config`] built from the environment and `datadog.yaml`.
//! Owns every setting of PROTOCOLS.md §6 (including those whose feature lands later) and the
//! Lambda facts read from the environment. Must not do I/O beyond reading the yaml file, and
//! must never fail: a bad value is a warning and the documented default.

pub mod apm;
pub mod flush_strategy;
pub mod otlp;
pub(crate) mod parse;
mod read;
pub mod source;
mod types;
pub mod unsupported;

use crate::secret::Secret;
pub use apm::{Obfuscation, PropagationStyle};
pub use flush_strategy::FlushStrategy;
use parse::Reader;
use source::Source;
use std::collections::BTreeMap;
use std::time::Duration;

pub use crate::level::LogLevel;
use read::{arn, compression_level, endpoints, secret_refs, valid_site, validate_rule_kinds};
pub use types::{
    AwsEnv, HttpProtocol, LambdaEnv, LogsEndpoint, ProcessingRuleSpec, ReplaceTagRule, SecretRef,
};

/// Every setting, validated. Cheap to share behind an `Arc`; never mutated after load.
#[derive(Debug, Clone)]
pub struct Config {
    pub lambda: LambdaEnv,
    pub aws: AwsEnv,
    /// `DD_API_KEY_SECRET_RELOAD_INTERVAL` (seconds): re-resolve the key this often.
    pub api_key_secret_reload_interval: Option<Duration>,
    // Keys and endpoints.
    pub api_key: Option<Secret>,
    pub api_key_secret_arn: Option<String>,
    /// `DD_API_KEY_SSM_ARN`: an SSM parameter (ARN or name), read with decryption.
    pub api_key_ssm_arn: Option<String>,
    pub kms_api_key: Option<Secret>,
    pub secret_refs: BTreeMap<String, SecretRef>,
    pub site: String,
    pub metrics_url: Option<String>,
    pub logs_url: Option<String>,
    pub apm_url: Option<String>,
    pub additional_endpoints: BTreeMap<String, Vec<Secret>>,
    pub apm_additional_endpoints: BTreeMap<String, Vec<Secret>>,
    pub profiling_additional_endpoints: BTreeMap<String, Vec<Secret>>,
    pub logs_use_http: bool,
    pub logs_additional_endpoints: Vec<LogsEndpoint>,
    // Unified service tagging.
    pub env: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
    pub tags: Vec<String>,
    pub extra_tags: Vec<String>,
    // Behaviour.
    pub log_level: LogLevel,
    pub flush_timeout: Duration,
    pub flush_strategy: FlushStrategy,
    pub local_test: bool,
    pub logs_enabled: bool,
    pub logs_processing_rules: Vec<ProcessingRuleSpec>,
    pub logs_use_compression: bool,
    /// zstd levels per signal: the signal's own setting, else `DD_COMPRESSION_LEVEL`, else 3.
    pub logs_compression_level: i32,
    pub metrics_compression_level: i32,
    pub apm_compression_level: i32,
    pub enhanced_metrics: bool,
    /// `DD_LAMBDA_PROC_ENHANCED_METRICS`: the `/proc` usage metrics (CPU, network, `/tmp`,
    /// descriptors, threads) among the enhanced metrics.
    pub proc_enhanced_metrics: bool,
    pub statsd_metric_namespace: Option<String>,
    /// `DD_LAMBDA_DURABLE_FUNCTION_LOG_BUFFER_SIZE`: requests of a durable function whose lines
    /// may wait for their execution context (0 = none wait).
    pub durable_log_buffer_size: usize,
    /// `DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS`: tag names left off custom (DogStatsD) metrics.
    pub custom_metrics_exclude_tags: Vec<String>,
    pub trace_enabled: bool,
    /// `DD_OTLP_CONFIG_*`: the OTLP receiver (off unless an endpoint is set).
    pub otlp: otlp::OtlpConfig,
    pub apm_replace_tags: Vec<ReplaceTagRule>,
    pub apm_filter_tags_require: Vec<String>,
    pub apm_filter_tags_reject: Vec<String>,
    pub apm_filter_tags_regex_require: Vec<String>,
    pub apm_filter_tags_regex_reject: Vec<String>,
    /// `DD_APM_IGNORE_RESOURCES`: traces whose root span's resource matches one are not sent.
    pub apm_ignore_resources: Vec<String>,
    /// `DD_APM_OBFUSCATION_*`.
    pub obfuscation: Obfuscation,
    /// `DD_TRACE_PROPAGATION_STYLE(_EXTRACT)`, in extraction order.
    pub propagation_styles: Vec<PropagationStyle>,
    /// `DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED`: inferred spans named after the resource.
    pub aws_service_representation: bool,
    pub service_mapping: BTreeMap<String, String>,
    pub trace_managed_services: bool,
    pub capture_lambda_payload: bool,
    pub capture_lambda_payload_max_depth: u64,
    // Network.
    pub proxy_https: Option<String>,
    pub no_proxy: Vec<String>,
    pub tls_cert_file: Option<String>,
    pub skip_ssl_validation: bool,
    /// `DD_HTTP_PROTOCOL`: `auto` (HTTP/2 by ALPN), `http1` or `http2`.
    pub http_protocol: HttpProtocol,
    /// `TANDEM_INTAKE_IDLE_MS`: a connection to an intake idle this long is not reused (below
    /// the network's idle timeouts); an invocation starting after 2/5 of it warms a new one.
    pub intake_idle: std::time::Duration,
    // Local listeners (Datadog's defaults; overridable so tests can run side by side).
    pub dogstatsd_port: u16,
    /// `DD_DOGSTATSD_BUFFER_SIZE`: the largest datagram read whole (bytes).
    pub dogstatsd_buffer_size: usize,
    /// `DD_DOGSTATSD_SO_RCVBUF`: the kernel receive buffer asked for (bytes); unset = 8 MiB.
    pub dogstatsd_so_rcvbuf: Option<usize>,
    pub apm_receiver_port: u16,
    pub lifecycle_port: u16,
    /// Telemetry API listener address. Lambda delivers to `sandbox.localdomain`, whose address
    /// is not guaranteed to be loopback, so the default listens on every interface of the
    /// sandbox (as AWS's samples and Datadog do); tests pass `127.0.0.1:0`.
    pub telemetry_addr: std::net::SocketAddr,
    /// Cap of the log buffer, in bytes of encoded entries.
    pub logs_buffer_bytes: usize,
    /// Ship the extension's own counters as `tandem.*` metrics (`TANDEM_INTERNAL_METRICS`).
    pub internal_metrics: bool,
    /// `TANDEM_FLUSH_ADVICE`: log the flush-strategy advice at SHUTDOWN at info level (it is
    /// always logged at debug level).
    pub flush_advice: bool,
    /// Cap of the trace buffer, in encoded bytes.
    pub traces_buffer_bytes: usize,
    /// Most live metric contexts (name + tags) at once; more are counted and dropped.
    pub metrics_context_limit: usize,
    /// Most heap bytes (estimated) the metrics aggregator holds for custom metrics.
    pub metrics_memory_bytes: usize,
    /// Most heap bytes (estimated) of data the whole process buffers: logs, metric contexts,
    /// traces buffered and in flight, the retry queue.
    pub memory_bytes: usize,
}

impl Config {
    /// Loads from the process environment and `datadog.yaml`. Returns the warnings to log and
    /// the source (to load again once settings held in secrets are resolved).
    pub fn from_process() -> (Config, Vec<String>, Source) {
        let mut warnings = Vec::new();
        let source = Source::from_process(&mut warnings);
        let (config, more) = Self::load(&source);
        warnings.extend(more);
        (config, warnings, source)
    }

    /// This config with the dual-shipping endpoint settings in `values` (resolved from secrets
    /// after init) parsed and put in place. Returns the warnings to log.
    pub fn with_endpoints(&self, values: &[(String, String)]) -> (Config, Vec<String>) {
        let (parsed, warnings) = Self::load(&Source::default().overlaid(values));
        let mut out = self.clone();
        for (name, _) in values {
            match name.as_str() {
                "DD_ADDITIONAL_ENDPOINTS" => {
                    out.additional_endpoints = parsed.additional_endpoints.clone()
                }
                "DD_APM_ADDITIONAL_ENDPOINTS" => {
                    out.apm_additional_endpoints = parsed.apm_additional_endpoints.clone()
                }
                "DD_APM_PROFILING_ADDITIONAL_ENDPOINTS" => {
                    out.profiling_additional_endpoints =
                        parsed.profiling_additional_endpoints.clone()
                }
                "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS" => {
                    out.logs_additional_endpoints = parsed.logs_additional_endpoints.clone()
                }
                _ => {}
            }
        }
        (out, warnings)
    }

    /// Pure: builds the config from a source. Never fails.
    pub fn load(source: &Source) -> (Config, Vec<String>) {
        let mut r = Reader::new(source);
        let lambda = LambdaEnv {
            runtime_api: source.raw("AWS_LAMBDA_RUNTIME_API").map(str::to_string),
            initialization_type: source
                .raw("AWS_LAMBDA_INITIALIZATION_TYPE")
                .map(str::to_string),
            function_name: source.raw("AWS_LAMBDA_FUNCTION_NAME").map(str::to_string),
            function_version: source
                .raw("AWS_LAMBDA_FUNCTION_VERSION")
                .map(str::to_string),
            region: source
                .raw("AWS_REGION")
                .or(source.raw("AWS_DEFAULT_REGION"))
                .map(str::to_string),
            memory_size_mb: source
                .raw("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .and_then(|m| m.parse().ok()),
            runtime: source
                .raw("AWS_EXECUTION_ENV")
                .map(|e| e.strip_prefix("AWS_Lambda_").unwrap_or(e).to_string()),
        };

        let log_level = match r.string("DD_LOG_LEVEL").map(|l| l.to_ascii_lowercase()) {
            None => LogLevel::Info,
            Some(l) => match l.as_str() {
                "trace" => LogLevel::Trace,
                "debug" => LogLevel::Debug,
                "info" => LogLevel::Info,
                "warn" | "warning" => LogLevel::Warn,
                "error" | "critical" => LogLevel::Error,
                "off" => LogLevel::Off,
                other => {
                    let shown = format!("{other:?}");
                    r.warn_invalid(
                        "DD_LOG_LEVEL",
                        &shown,
                        "trace, debug, info, warn, error, critical or off",
                        "info",
                    );
                    LogLevel::Info
                }
            },
        };

        let flush_strategy = match r.source.get("DD_SERVERLESS_FLUSH_STRATEGY") {
            None => FlushStrategy::Default,
            Some((found, v)) => flush_strategy::parse(v).unwrap_or_else(|expected| {
                let shown = format!("{v:?}");
                r.warn_invalid(&found, &shown, &expected, "the adaptive default");
                FlushStrategy::Default
            }),
        };

        // As Datadog's extension: logs ship when either says so; DD_SERVERLESS_LOGS_ENABLED
        // (default true) is the documented switch, DD_LOGS_ENABLED (the Agent's, default false
        // here) can only turn them on.
        let serverless_logs = r.bool("DD_SERVERLESS_LOGS_ENABLED", true);
        let agent_logs = r.bool("DD_LOGS_ENABLED", false);
        let logs_enabled = serverless_logs || agent_logs;

        let site = match r.string("DD_SITE") {
            Some(s) if valid_site(&s) => s,
            Some(s) => {
                let shown = format!("{s:?}");
                r.warn_invalid(
                    "DD_SITE",
                    &shown,
                    "a Datadog site such as datadoghq.com or datadoghq.eu",
                    "datadoghq.com",
                );
                "datadoghq.com".to_string()
            }
            None => "datadoghq.com".to_string(),
        };

        let statsd_metric_namespace = r.string("DD_STATSD_METRIC_NAMESPACE").and_then(|ns| {
            let ns = ns.trim_end_matches('.');
            if !ns.is_empty()
                && ns
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                Some(format!("{ns}."))
            } else {
                let shown = format!("{ns:?}");
                r.warn_invalid(
                    "DD_STATSD_METRIC_NAMESPACE",
                    &shown,
                    "letters, digits, `_` and `.`",
                    "no namespace",
                );
                None
            }
        });

        let tls_cert_file = r.string("DD_TLS_CERT_FILE");
        let telemetry_addr = match r.string("TANDEM_TELEMETRY_ADDR") {
            None => std::net::SocketAddr::from(([0, 0, 0, 0], 8999)),
            Some(a) => a.parse().unwrap_or_else(|_| {
                let shown = format!("{a:?}");
                r.warn_invalid("TANDEM_TELEMETRY_ADDR", &shown, "ip:port", "0.0.0.0:8999");
                std::net::SocketAddr::from(([0, 0, 0, 0], 8999))
            }),
        };

        let aws = AwsEnv {
            region: lambda.region.clone(),
            access_key_id: source.raw("AWS_ACCESS_KEY_ID").map(str::to_string),
            secret_access_key: source.raw("AWS_SECRET_ACCESS_KEY").map(Secret::new),
            session_token: source.raw("AWS_SESSION_TOKEN").map(Secret::new),
            endpoint_url: source.raw("AWS_ENDPOINT_URL").map(str::to_string),
            endpoint_url_secrets_manager: source
                .raw("AWS_ENDPOINT_URL_SECRETS_MANAGER")
                .map(str::to_string),
            endpoint_url_kms: source.raw("AWS_ENDPOINT_URL_KMS").map(str::to_string),
            endpoint_url_ssm: source.raw("AWS_ENDPOINT_URL_SSM").map(str::to_string),
            container_credentials_uri: source
                .raw("AWS_CONTAINER_CREDENTIALS_FULL_URI")
                .map(str::to_string),
            container_authorization_token: source
                .raw("AWS_CONTAINER_AUTHORIZATION_TOKEN")
                .map(Secret::new),
            proxy_from_env: ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
                .iter()
                .any(|v| source.raw(v).is_some()),
        };
        let api_key_secret_reload_interval = r
            .source
            .get("DD_API_KEY_SECRET_RELOAD_INTERVAL")
            .map(|_| {
                r.seconds_in(
                    "DD_API_KEY_SECRET_RELOAD_INTERVAL",
                    1.0..=86_400.0,
                    Duration::from_secs(0),
                )
            })
            .filter(|d| !d.is_zero());
        // Datadog's global level, the default of each signal's own.
        let compression = r.u64_in("DD_COMPRESSION_LEVEL", 1..=19, 3);
        let config = Config {
            aws,
            api_key_secret_reload_interval,
            api_key: r.string("DD_API_KEY").map(Secret::new),
            api_key_secret_arn: arn(&mut r, "DD_API_KEY_SECRET_ARN"),
            api_key_ssm_arn: r.string("DD_API_KEY_SSM_ARN"),
            kms_api_key: r.string("DD_KMS_API_KEY").map(Secret::new),
            secret_refs: secret_refs(&mut r),
            site,
            metrics_url: r.url(&["DD_DD_URL", "DD_URL"]),
            logs_url: r.url(&["DD_LOGS_CONFIG_LOGS_DD_URL"]),
            apm_url: r.url(&["DD_APM_DD_URL"]),
            additional_endpoints: endpoints(&mut r, "DD_ADDITIONAL_ENDPOINTS"),
            apm_additional_endpoints: endpoints(&mut r, "DD_APM_ADDITIONAL_ENDPOINTS"),
            profiling_additional_endpoints: endpoints(
                &mut r,
                "DD_APM_PROFILING_ADDITIONAL_ENDPOINTS",
            ),
            logs_use_http: r.bool("DD_LOGS_CONFIG_USE_HTTP", true),
            logs_additional_endpoints: r
                .json(
                    "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS",
                    "a JSON list of {api_key, Host, Port, is_reliable}",
                    true,
                )
                .unwrap_or_default(),
            env: r.string("DD_ENV"),
            service: r.string("DD_SERVICE"),
            version: r.string("DD_VERSION"),
            tags: r.tags("DD_TAGS"),
            extra_tags: r.tags("DD_EXTRA_TAGS"),
            log_level,
            flush_timeout: r.seconds_in("DD_FLUSH_TIMEOUT", 0.1..=900.0, Duration::from_secs(30)),
            flush_strategy,
            local_test: r.bool("DD_LOCAL_TEST", false),
            logs_enabled,
            logs_processing_rules: r
                .json(
                    "DD_LOGS_CONFIG_PROCESSING_RULES",
                    "a JSON list of {type, name, pattern, replace_placeholder}",
                    false,
                )
                .unwrap_or_default(),
            logs_use_compression: r.bool("DD_LOGS_CONFIG_USE_COMPRESSION", true),
            logs_compression_level: compression_level(
                &mut r,
                "DD_LOGS_CONFIG_COMPRESSION_LEVEL",
                compression,
            ),
            metrics_compression_level: compression_level(
                &mut r,
                "DD_METRICS_CONFIG_COMPRESSION_LEVEL",
                compression,
            ),
            apm_compression_level: compression_level(
                &mut r,
                "DD_APM_CONFIG_COMPRESSION_LEVEL",
                compression,
            ),
            enhanced_metrics: r.bool("DD_ENHANCED_METRICS", true),
            proc_enhanced_metrics: r.bool("DD_LAMBDA_PROC_ENHANCED_METRICS", true),
            statsd_metric_namespace,
            custom_metrics_exclude_tags: r.comma_list("DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS"),
            durable_log_buffer_size: r.u64_in(
                "DD_LAMBDA_DURABLE_FUNCTION_LOG_BUFFER_SIZE",
                0..=1_000,
                50,
            ) as usize,
            trace_enabled: r.bool("DD_TRACE_ENABLED", true),
            otlp: otlp::read(&mut r),
            apm_replace_tags: r
                .json(
                    "DD_APM_REPLACE_TAGS",
                    "a JSON list of {name, pattern, repl}",
                    false,
                )
                .unwrap_or_default(),
            apm_filter_tags_require: r.list("DD_APM_FILTER_TAGS_REQUIRE"),
            apm_filter_tags_reject: r.list("DD_APM_FILTER_TAGS_REJECT"),
            apm_filter_tags_regex_require: r.list("DD_APM_FILTER_TAGS_REGEX_REQUIRE"),
            apm_filter_tags_regex_reject: r.list("DD_APM_FILTER_TAGS_REGEX_REJECT"),
            apm_ignore_resources: r.comma_list("DD_APM_IGNORE_RESOURCES"),
            obfuscation: apm::obfuscation(&mut r),
            propagation_styles: apm::propagation_styles(&mut r),
            aws_service_representation: r.bool("DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED", true),
            service_mapping: r.mapping("DD_SERVICE_MAPPING"),
            trace_managed_services: r.bool("DD_TRACE_MANAGED_SERVICES", true),
            capture_lambda_payload: r.bool("DD_CAPTURE_LAMBDA_PAYLOAD", false),
            capture_lambda_payload_max_depth: r.u64_in(
                "DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH",
                0..=100,
                10,
            ),
            proxy_https: r.string("DD_PROXY_HTTPS").or_else(|| {
                source
                    .raw("HTTPS_PROXY")
                    .or(source.raw("https_proxy"))
                    .map(str::to_string)
            }),
            no_proxy: match r.source.get("DD_PROXY_NO_PROXY") {
                Some(_) => r.list("DD_PROXY_NO_PROXY"),
                None => source
                    .raw("NO_PROXY")
                    .or(source.raw("no_proxy"))
                    .map(parse::split_list)
                    .unwrap_or_default(),
            },
            tls_cert_file,
            skip_ssl_validation: r.bool("DD_SKIP_SSL_VALIDATION", false),
            http_protocol: http_protocol(&mut r),
            intake_idle: std::time::Duration::from_millis(r.u64_in(
                "TANDEM_INTAKE_IDLE_MS",
                100..=300_000,
                50_000,
            )),
            dogstatsd_port: r.port("DD_DOGSTATSD_PORT", 8125),
            // 64 buffers of this size are read per batch: at most 64 × 64 KiB = 4 MiB.
            dogstatsd_buffer_size: r.u64_in("DD_DOGSTATSD_BUFFER_SIZE", 512..=65_535, 8192)
                as usize,
            dogstatsd_so_rcvbuf: r
                .source
                .get("DD_DOGSTATSD_SO_RCVBUF")
                .map(|_| r.u64_in("DD_DOGSTATSD_SO_RCVBUF", 4096..=(64 << 20), 8 << 20) as usize),
            apm_receiver_port: r.port("DD_APM_RECEIVER_PORT", 8126),
            lifecycle_port: r.port("TANDEM_LIFECYCLE_PORT", 8124),
            telemetry_addr,
            traces_buffer_bytes: r.u64_in(
                "TANDEM_TRACES_BUFFER_BYTES",
                65_536..=268_435_456,
                6 * 1024 * 1024,
            ) as usize,
            internal_metrics: r.bool("TANDEM_INTERNAL_METRICS", false),
            flush_advice: r.bool("TANDEM_FLUSH_ADVICE", false),
            metrics_context_limit: r.u64_in(
                "TANDEM_METRICS_CONTEXT_LIMIT",
                100..=10_000_000,
                100_000,
            ) as usize,
            metrics_memory_bytes: r.u64_in(
                "TANDEM_METRICS_MEMORY_BYTES",
                1_048_576..=1_073_741_824,
                16 * 1024 * 1024,
            ) as usize,
            memory_bytes: r.u64_in(
                "TANDEM_MEMORY_BYTES",
                4_194_304..=4_294_967_296,
                20 * 1024 * 1024,
            ) as usize,
            logs_buffer_bytes: r.u64_in(
                "TANDEM_LOGS_BUFFER_BYTES",
                65_536..=268_435_456,
                16 * 1024 * 1024,
            ) as usize,
            lambda,
        };
        validate_rule_kinds(&mut r, &config);
        r.warnings.extend(unsupported::warnings(&source.dd_names()));
        (config, r.warnings)
    }

    /// The `<NAME>_SECRET_ARN` / `<NAME>_KMS_ENCRYPTED` references resolved after init, because
    /// only the intake uses them and it can take them late: the dual-shipping endpoints. (The
    /// API key's own forms are resolved by the key resolver.)
    pub fn late_secret_refs(&self) -> Vec<(String, SecretRef)> {
        self.secret_refs_where(|name| LATE_SETTINGS.contains(&name))
    }

    /// Every other reference: settings that shape the pipelines, so resolved before they start.
    pub fn init_secret_refs(&self) -> Vec<(String, SecretRef)> {
        self.secret_refs_where(|name| name != "DD_API_KEY" && !LATE_SETTINGS.contains(&name))
    }

    fn secret_refs_where(&self, keep: impl Fn(&str) -> bool) -> Vec<(String, SecretRef)> {
        self.secret_refs
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect()
    }

    /// Managed Instance mode is selected by exactly this initialization type.
    pub fn is_managed_instance(&self) -> bool {
        self.lambda.initialization_type.as_deref() == Some("lambda-managed-instances")
    }
}

/// Settings the intake can take after init (see [`Config::late_secret_refs`]).
const LATE_SETTINGS: &[&str] = &[
    "DD_ADDITIONAL_ENDPOINTS",
    "DD_APM_ADDITIONAL_ENDPOINTS",
    "DD_APM_PROFILING_ADDITIONAL_ENDPOINTS",
    "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS",
];

/// `DD_HTTP_PROTOCOL`: `auto` (the default), `http1` or `http2`.
fn http_protocol(r: &mut Reader<'_>) -> HttpProtocol {
    let Some(v) = r.string("DD_HTTP_PROTOCOL") else {
        return HttpProtocol::Auto;
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" | "" => HttpProtocol::Auto,
        "http1" => HttpProtocol::Http1,
        "http2" => HttpProtocol::Http2,
        _ => {
            let shown = format!("{v:?}");
            r.warn_invalid("DD_HTTP_PROTOCOL", &shown, "auto, http1 or http2", "auto");
            HttpProtocol::Auto
        }
    }
}

#[cfg(test)]
mod tests;

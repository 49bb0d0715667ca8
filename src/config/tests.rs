use super::*;
use std::collections::HashMap;

fn load(pairs: &[(&str, &str)]) -> (Config, Vec<String>) {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(&Source::from_maps(env, HashMap::new()))
}

#[test]
fn defaults_without_any_variable() {
    let (c, w) = load(&[]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.site, "datadoghq.com");
    assert_eq!(c.flush_timeout, Duration::from_secs(30));
    assert_eq!(c.flush_strategy, FlushStrategy::Default);
    assert!(c.logs_enabled && c.enhanced_metrics && c.trace_enabled && c.logs_use_compression);
    assert_eq!(
        (c.dogstatsd_port, c.apm_receiver_port, c.lifecycle_port),
        (8125, 8126, 8124)
    );
    assert_eq!(c.log_level, LogLevel::Info);
}

#[test]
fn each_bad_value_gives_one_warning_naming_it_and_the_default() {
    let cases: &[(&str, &str)] = &[
        ("DD_FLUSH_TIMEOUT", "soon"),
        ("DD_FLUSH_TIMEOUT", "-3"),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "continuously,0"),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "whenever"),
        ("DD_LOG_LEVEL", "loud"),
        ("DD_LOGS_ENABLED", "maybe"),
        ("DD_SITE", "not a site"),
        ("DD_DOGSTATSD_PORT", "70000"),
        ("DD_LOGS_CONFIG_PROCESSING_RULES", "[{"),
        ("DD_APM_REPLACE_TAGS", "{}"),
        ("DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH", "x"),
        ("DD_API_KEY_SECRET_ARN", "not-an-arn"),
        ("DD_SERVICE_MAPPING", "a:b,broken"),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", "ftp://x"),
    ];
    for (name, value) in cases {
        let (c, w) = load(&[(name, value)]);
        assert_eq!(w.len(), 1, "{name}={value}: {w:?}");
        assert!(w[0].contains(name), "{w:?}");
        assert!(w[0].contains("expected") && w[0].contains("using"), "{w:?}");
        // Defaults hold.
        assert_eq!(c.flush_timeout, Duration::from_secs(30));
        assert_eq!(c.flush_strategy, FlushStrategy::Default);
    }
}

#[test]
fn secrets_never_appear_in_warnings_or_debug() {
    let key = "0123456789abcdef0123456789abcdef";
    let (c, w) = load(&[
        ("DD_API_KEY", key),
        (
            "DD_ADDITIONAL_ENDPOINTS",
            &format!("{{\"https://x\": [\"{key}\""),
        ),
        (
            "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS",
            &format!("[{{\"api_key\":\"{key}\""),
        ),
    ]);
    assert_eq!(w.len(), 2);
    assert!(!w.join(" ").contains(key));
    assert!(!format!("{c:?}").contains(key));
    assert_eq!(c.api_key.as_ref().map(Secret::expose), Some(key));
}

/// Issue 13 (PARITY "Layer and configuration"): DD_LOGS_ENABLED and DD_SERVERLESS_LOGS_ENABLED
/// are OR-merged as Datadog's extension merges them.
#[test]
fn logs_ship_when_either_switch_says_so() {
    for (pairs, on) in [
        (&[][..], true),
        (&[("DD_SERVERLESS_LOGS_ENABLED", "false")][..], false),
        (&[("DD_LOGS_ENABLED", "false")][..], true),
        (
            &[
                ("DD_SERVERLESS_LOGS_ENABLED", "false"),
                ("DD_LOGS_ENABLED", "false"),
            ][..],
            false,
        ),
        (
            &[
                ("DD_SERVERLESS_LOGS_ENABLED", "false"),
                ("DD_LOGS_ENABLED", "true"),
            ][..],
            true,
        ),
    ] {
        assert_eq!(load(pairs).0.logs_enabled, on, "{pairs:?}");
    }
}

#[test]
fn typed_values_parse() {
    let (c, w) = load(&[
        ("DD_FLUSH_TIMEOUT", "5"),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "periodically,60000"),
        ("DATADOG_ENV", "prod"),
        ("DD_TAGS", "team:a, owner:b tier:c"),
        ("DD_SERVERLESS_LOGS_ENABLED", "false"),
        ("DD_LOGS_ENABLED", "true"),
        (
            "DD_LOGS_CONFIG_PROCESSING_RULES",
            r##"[{"type":"mask_sequences","name":"n","pattern":"\\d+","replace_placeholder":"#"}]"##,
        ),
        (
            "DD_ADDITIONAL_ENDPOINTS",
            r#"{"https://app.datadoghq.eu": ["k1", "k2"]}"#,
        ),
        ("DD_SERVICE_MAPPING", "lambda_api_gateway:gw, lambda_sqs:q"),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", "http://127.0.0.1:9000/"),
        ("DD_URL", "metrics.example:443"),
        ("DD_STATSD_METRIC_NAMESPACE", "app"),
        ("DD_PROXY_NO_PROXY", "a.example b.example"),
        ("HTTPS_PROXY", "http://proxy:3128"),
        (
            "FOO_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
        ),
        (
            "DD_APP_KEY_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:y",
        ),
        ("DD_API_KEY_KMS_ENCRYPTED", "AQICAH"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12"),
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.flush_timeout, Duration::from_secs(5));
    assert_eq!(
        c.flush_strategy,
        FlushStrategy::Periodically(Duration::from_secs(60))
    );
    assert_eq!(c.env.as_deref(), Some("prod"));
    assert_eq!(c.tags, ["team:a", "owner:b", "tier:c"]);
    assert!(c.logs_enabled, "either one true ships logs (Datadog's OR)");
    assert_eq!(
        c.logs_processing_rules[0].replace_placeholder.as_deref(),
        Some("#")
    );
    assert_eq!(c.additional_endpoints["https://app.datadoghq.eu"].len(), 2);
    assert_eq!(c.service_mapping["lambda_sqs"], "q");
    assert_eq!(c.logs_url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(
        c.metrics_url.as_deref(),
        Some("https://metrics.example:443")
    );
    assert_eq!(c.statsd_metric_namespace.as_deref(), Some("app."));
    assert_eq!(c.no_proxy, ["a.example", "b.example"]);
    assert_eq!(c.proxy_https.as_deref(), Some("http://proxy:3128"));
    assert_eq!(c.secret_refs.len(), 2, "{:?}", c.secret_refs);
    assert!(matches!(
        c.secret_refs["DD_API_KEY"],
        SecretRef::KmsEncrypted(_)
    ));
    assert!(c.is_managed_instance());
    assert_eq!(c.lambda.runtime.as_deref(), Some("python3.12"));
}

#[test]
fn secret_references_split_into_init_and_late_and_endpoints_apply_late() {
    let (c, _) = load(&[
        ("DD_API_KEY_KMS_ENCRYPTED", "AQID"),
        (
            "DD_ADDITIONAL_ENDPOINTS_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:e",
        ),
        (
            "DD_TAGS_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:t",
        ),
        ("DD_LOGS_CONFIG_USE_HTTP", "true"),
    ]);
    let names = |v: Vec<(String, SecretRef)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(names(c.init_secret_refs()), ["DD_TAGS"]);
    assert_eq!(names(c.late_secret_refs()), ["DD_ADDITIONAL_ENDPOINTS"]);
    let (updated, warnings) = c.with_endpoints(&[
        (
            "DD_ADDITIONAL_ENDPOINTS".into(),
            r#"{"https://a.example/": ["k1", "k2"], "not a url": ["k3"]}"#.into(),
        ),
        (
            "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS".into(),
            r#"[{"api_key":"k4","Host":"logs.example","Port":443}]"#.into(),
        ),
    ]);
    assert_eq!(updated.additional_endpoints["https://a.example"].len(), 2);
    assert_eq!(updated.additional_endpoints.len(), 1);
    assert_eq!(updated.logs_additional_endpoints[0].host, "logs.example");
    assert!(updated.logs_use_http, "everything else is kept");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        !warnings[0].contains("k3"),
        "keys stay hidden: {warnings:?}"
    );
}

/// Datadog's global compression level is each signal's default; a signal's own setting wins.
#[test]
fn compression_levels_fall_back_to_the_global_one() {
    let (c, w) = load(&[]);
    assert!(w.is_empty());
    assert_eq!(
        (
            c.logs_compression_level,
            c.metrics_compression_level,
            c.apm_compression_level
        ),
        (3, 3, 3)
    );
    let (c, w) = load(&[
        ("DD_COMPRESSION_LEVEL", "6"),
        ("DD_METRICS_CONFIG_COMPRESSION_LEVEL", "9"),
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        (
            c.logs_compression_level,
            c.metrics_compression_level,
            c.apm_compression_level
        ),
        (6, 9, 6)
    );
    let (c, w) = load(&[("DD_APM_CONFIG_COMPRESSION_LEVEL", "99")]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("DD_APM_CONFIG_COMPRESSION_LEVEL"));
    assert_eq!(c.apm_compression_level, 3);
}

#[test]
fn dogstatsd_socket_settings_and_excluded_tags() {
    let (c, _) = load(&[]);
    assert_eq!(
        (c.dogstatsd_buffer_size, c.dogstatsd_so_rcvbuf),
        (8192, None)
    );
    assert!(c.custom_metrics_exclude_tags.is_empty());
    let (c, w) = load(&[
        ("DD_DOGSTATSD_BUFFER_SIZE", "16384"),
        ("DD_DOGSTATSD_SO_RCVBUF", "1048576"),
        (
            "DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS",
            "user_id, request_id",
        ),
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        (c.dogstatsd_buffer_size, c.dogstatsd_so_rcvbuf),
        (16384, Some(1_048_576))
    );
    assert_eq!(c.custom_metrics_exclude_tags, ["user_id", "request_id"]);
    let (c, w) = load(&[("DD_DOGSTATSD_BUFFER_SIZE", "1000000")]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(c.dogstatsd_buffer_size, 8192);
}

/// A Datadog setting Tandem knows but does not implement: one warning at load, naming it.
#[test]
fn an_unsupported_datadog_setting_warns_once_by_name() {
    let (_, w) = load(&[
        ("DD_LAMBDA_FIPS_MODE", "true"),
        ("DD_SERVERLESS_APPSEC_ENABLED", "true"),
        ("DD_SITE", "datadoghq.eu"),
    ]);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w.iter()
            .any(|l| l.starts_with("DD_LAMBDA_FIPS_MODE is set but not supported"))
    );
    assert!(
        w.iter()
            .any(|l| l.starts_with("DD_SERVERLESS_APPSEC_ENABLED is set"))
    );
}

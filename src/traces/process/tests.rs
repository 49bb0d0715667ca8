use super::*;
use crate::config::source::Source;
use std::collections::HashMap;

fn processor(pairs: &[(&str, &str)]) -> Processor {
    let mut env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), "fn".into());
    env.insert("AWS_LAMBDA_RUNTIME_API".into(), "127.0.0.1:9001".into());
    let (config, warnings) = Config::load(&Source::from_maps(env, HashMap::new()));
    assert!(warnings.is_empty(), "{warnings:?}");
    let function = FunctionContext::new(&config, None, Some("1"));
    Processor::new(&config, &function)
}

fn span(id: u64, parent: u64, meta: &[(&str, &str)]) -> Span {
    Span {
        trace_id: 7,
        span_id: id,
        parent_id: parent,
        name: "op".into(),
        start: 1_700_000_000_000_000_000,
        duration: 10,
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

const NOW: i64 = 1_800_000_000_000_000_000;

#[test]
fn normalisation_origin_and_function_tags() {
    let p = processor(&[]);
    let mut bad = span(1, 0, &[("env", "mine")]);
    bad.name = String::new();
    bad.service = String::new();
    bad.duration = -5;
    bad.start = 12;
    bad.r#type = "t".repeat(300);
    bad.meta.insert("k".repeat(500), "v".repeat(30_000));
    let chunk = p.process(vec![bad], NOW).unwrap();
    let s = &chunk.spans[0];
    assert_eq!(
        (s.name.as_str(), s.resource.as_str(), s.service.as_str()),
        ("unnamed_operation", "unnamed_operation", "fn")
    );
    assert_eq!((s.duration, s.start, s.r#type.len()), (0, NOW, 100));
    assert!(s.meta.keys().all(|k| k.len() <= 200) && s.meta.values().all(|v| v.len() <= 25_000));
    assert_eq!(s.meta["_dd.origin"], "lambda");
    assert_eq!(chunk.origin, "lambda");
    assert_eq!(s.meta["functionname"], "fn");
    assert_eq!(s.meta["env"], "mine", "the tracer's own tags win");
}

#[test]
fn spans_calling_the_extension_or_runtime_api_are_dropped() {
    let p = processor(&[]);
    let chunk = p
        .process(
            vec![
                span(1, 0, &[]),
                span(2, 1, &[("http.url", "http://127.0.0.1:8124/lambda/flush")]),
                span(
                    3,
                    1,
                    &[(
                        "http.url",
                        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                    )],
                ),
                span(4, 1, &[("http.url", "http://localhost:8126/v0.4/traces")]),
                span(5, 1, &[("http.url", "https://api.example.com/")]),
            ],
            NOW,
        )
        .unwrap();
    let ids: Vec<u64> = chunk.spans.iter().map(|s| s.span_id).collect();
    assert_eq!(ids, [1, 5]);
    assert_eq!(
        p.process(
            vec![span(9, 0, &[("http.url", "http://127.0.0.1:8124/x")])],
            NOW
        ),
        Err(Rejected::Empty)
    );
    assert_eq!(p.process(vec![span(0, 0, &[])], NOW), Err(Rejected::ZeroId));
}

#[test]
fn replace_tags() {
    let rules = r#"[{"name":"*","pattern":"token=[a-z0-9]+","repl":"token=?"},{"name":"resource.name","pattern":"\\d+","repl":"N"},{"name":"http.url","pattern":"secret","repl":"x"}]"#;
    let p = processor(&[("DD_APM_REPLACE_TAGS", rules)]);
    let mut s = span(
        1,
        0,
        &[
            ("http.url", "https://h/secret?token=abc123"),
            ("q", "token=zz9"),
        ],
    );
    s.resource = "GET /users/42?token=k1".into();
    let chunk = p.process(vec![s], NOW).unwrap();
    let s = &chunk.spans[0];
    assert_eq!(s.meta["http.url"], "https://h/x?token=?");
    assert_eq!(s.meta["q"], "token=?");
    assert_eq!(s.resource, "GET /users/N?token=?");
}

#[test]
fn filter_tags_require_and_reject_with_regex_variants() {
    let p = processor(&[
        ("DD_APM_FILTER_TAGS_REQUIRE", "env:prod"),
        ("DD_APM_FILTER_TAGS_REJECT", "http.route:/health"),
    ]);
    assert!(p.process(vec![span(1, 0, &[("env", "prod")])], NOW).is_ok());
    assert_eq!(
        p.process(vec![span(1, 0, &[("env", "dev")])], NOW),
        Err(Rejected::Filtered)
    );
    assert_eq!(
        p.process(
            vec![span(1, 0, &[("env", "prod"), ("http.route", "/health")])],
            NOW
        ),
        Err(Rejected::Filtered)
    );
    let r = processor(&[(
        "DD_APM_FILTER_TAGS_REGEX_REJECT",
        "http.url:^https?://internal\\.",
    )]);
    assert_eq!(
        r.process(
            vec![span(1, 0, &[("http.url", "http://internal.svc/x")])],
            NOW
        ),
        Err(Rejected::Filtered)
    );
    assert!(
        r.process(
            vec![span(1, 0, &[("http.url", "http://public.svc/x")])],
            NOW
        )
        .is_ok()
    );
    // Filters look at the root span only.
    assert!(
        p.process(
            vec![
                span(2, 1, &[("env", "dev")]),
                span(1, 0, &[("env", "prod")])
            ],
            NOW
        )
        .is_ok()
    );
}

/// Issue 12 (PARITY "Cold start, timeouts, stats"): `DD_APM_IGNORE_RESOURCES` drops traces by
/// their root's resource; entries hold spaces, and quoted ones commas.
#[test]
fn ignore_resources_filter_on_the_root_resource() {
    let p = processor(&[(
        "DD_APM_IGNORE_RESOURCES",
        r#"GET /healthcheck, "^(SELECT|UPDATE) a,b$" ,^ping"#,
    )]);
    let with_resource = |r: &str| {
        let mut root = span(1, 0, &[]);
        root.resource = r.into();
        vec![root, span(2, 1, &[])]
    };
    for ignored in ["GET /healthcheck", "SELECT a,b", "ping pong"] {
        assert!(
            matches!(
                p.process(with_resource(ignored), NOW),
                Err(Rejected::Filtered)
            ),
            "{ignored}"
        );
    }
    for kept in ["GET /users", "SELECT a", "a ping"] {
        assert!(p.process(with_resource(kept), NOW).is_ok(), "{kept}");
    }
    // A child's resource does not count.
    let mut trace = with_resource("GET /users");
    trace[1].resource = "GET /healthcheck".into();
    assert!(p.process(trace, NOW).is_ok());
}

/// Issue 12 (PARITY): the sandbox's plumbing is not the function's work — DNS lookups of the
/// loopback, non-routable and X-Ray daemon addresses, and TCP spans to the extension's or
/// Lambda's own ports — as Datadog's extension drops them.
#[test]
fn plumbing_spans_are_dropped() {
    let p = processor(&[]);
    let root = span(1, 0, &[("http.url", "https://api.example.com/x")]);
    let mut lookup = span(2, 1, &[]);
    lookup.name = "dns.lookup".into();
    let xray = span(3, 1, &[("dns.address", "169.254.79.129")]);
    let loopback = span(4, 1, &[("dns.address", "127.0.0.1")]);
    let runtime = span(
        5,
        1,
        &[
            ("tcp.remote.host", "127.0.0.1"),
            ("tcp.remote.port", "9001"),
        ],
    );
    let extension = span(
        6,
        1,
        &[
            ("tcp.remote.host", "127.0.0.1"),
            ("tcp.remote.port", "8124"),
        ],
    );
    let real_dns = span(7, 1, &[("dns.address", "10.0.0.2")]);
    let chunk = p
        .process(
            vec![root, lookup, xray, loopback, runtime, extension, real_dns],
            NOW,
        )
        .unwrap();
    let ids: Vec<u64> = chunk.spans.iter().map(|s| s.span_id).collect();
    assert_eq!(ids, [1, 7]);
}

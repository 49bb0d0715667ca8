//! The comparison with the expected-spans file: every difference one readable line.

use super::drive::{Captured, Run, Way};
use super::{PLACEHOLDER, UPSTREAM};
use serde_json::{Value, json};
use tandem::traces::proto::Span;
use tandem_testkit::lifecycle::ancestors;

/// Compares one field; a difference becomes a readable line.
fn check<G>(
    diffs: &mut Vec<String>,
    at: &str,
    field: &str,
    want: impl std::fmt::Debug + PartialEq<G>,
    got: G,
) where
    G: std::fmt::Debug,
{
    if want != got {
        diffs.push(format!("{at}: {field}: expected {want:?}, got {got:?}"));
    }
}

fn check_meta(diffs: &mut Vec<String>, at: &str, span: &Span, want: &Value) {
    for (k, v) in want.as_object().into_iter().flatten() {
        check(
            diffs,
            at,
            &format!("meta[{k}]"),
            v.as_str().map(str::to_string),
            span.meta.get(k).cloned(),
        );
    }
}

pub(crate) fn verify(
    expected: &Value,
    dd_service: Option<&str>,
    cap: &Captured,
    runs: &[Run],
) -> Vec<String> {
    let mut diffs = Vec::new();
    let service = dd_service.unwrap_or("tandem-test");
    let triggers = expected["triggers"].as_array().unwrap();
    let every = &expected["every_built_span"];
    let all = &cap.spans;
    let label = dd_service.map_or("no DD_SERVICE".to_string(), |s| format!("DD_SERVICE={s}"));
    if let Some(p) = all.iter().find(|s| s.resource == PLACEHOLDER) {
        diffs.push(format!(
            "[{label}] a placeholder span reached the intake: {p:?}"
        ));
    }
    for run in runs {
        let t = &triggers[run.trigger];
        let at = format!(
            "[{label} / {} / {:?} / {}]",
            t["fixture"].as_str().unwrap(),
            run.way,
            if run.upstream {
                "with context"
            } else {
                "without context"
            }
        );
        let lambdas: Vec<&Span> = all
            .iter()
            .filter(|s| s.name == "aws.lambda" && s.meta.get("request_id") == Some(&run.request_id))
            .collect();
        check(&mut diffs, &at, "aws.lambda spans", 1, lambdas.len());
        let Some(lambda) = lambdas.first().copied() else {
            continue;
        };
        for s in all.iter().filter(|s| s.trace_id == lambda.trace_id) {
            check_meta(&mut diffs, &format!("{at} {}", s.name), s, &every["meta"]);
            for k in every["meta_keys"].as_array().unwrap() {
                if !s.meta.contains_key(k.as_str().unwrap()) {
                    diffs.push(format!("{at} {}: meta[{k}] missing", s.name));
                }
            }
        }
        check(
            &mut diffs,
            &at,
            "aws.lambda service",
            service.to_string(),
            lambda.service.clone(),
        );
        if run.way == Way::Library {
            check(
                &mut diffs,
                &at,
                "aws.lambda span id (the library's)",
                run.placeholder,
                lambda.span_id,
            );
            check(
                &mut diffs,
                &at,
                "trace id (the library's)",
                run.trace_id,
                lambda.trace_id,
            );
            let load = all
                .iter()
                .find(|s| s.trace_id == lambda.trace_id && s.name == "aws.lambda.load");
            let cold = all
                .iter()
                .find(|s| s.trace_id == lambda.trace_id && s.name == "aws.lambda.cold_start");
            if lambda.meta.get("cold_start").map(String::as_str) == Some("true") {
                match cold {
                    None => diffs.push(format!(
                        "{at}: no aws.lambda.cold_start span beside the library's aws.lambda"
                    )),
                    Some(c) => {
                        check(
                            &mut diffs,
                            &at,
                            "cold_start parent (aws.lambda's parent)",
                            lambda.parent_id,
                            c.parent_id,
                        );
                        check(
                            &mut diffs,
                            &at,
                            "aws.lambda.load parent",
                            Some(c.span_id),
                            load.map(|l| l.parent_id),
                        );
                        check(
                            &mut diffs,
                            &at,
                            "cold_start duration",
                            180_000_000,
                            c.duration,
                        );
                    }
                }
            } else if cold.is_some() {
                diffs.push(format!("{at}: a cold start span on a warm invocation"));
            }
            continue;
        }
        // Universal instrumentation.
        check(
            &mut diffs,
            &at,
            "aws.lambda span id (the placeholder's)",
            run.placeholder,
            lambda.span_id,
        );
        check(&mut diffs, &at, "trace id", run.trace_id, lambda.trace_id);
        check(
            &mut diffs,
            &at,
            "placeholder tag language",
            Some("java".to_string()),
            lambda.meta.get("language").cloned(),
        );
        check(
            &mut diffs,
            &at,
            "placeholder tag customer.tier",
            Some("gold".to_string()),
            lambda.meta.get("customer.tier").cloned(),
        );
        check(
            &mut diffs,
            &at,
            "_sampling_priority_v1",
            Some(f64::from(run.priority)),
            lambda.metrics.get("_sampling_priority_v1").copied(),
        );
        let chunk_priority = cap
            .payloads
            .iter()
            .flat_map(|p| &p.chunks)
            .find(|c| {
                c.spans
                    .iter()
                    .any(|s| s.span_id == lambda.span_id && s.trace_id == lambda.trace_id)
            })
            .map(|c| c.priority);
        check(
            &mut diffs,
            &at,
            "chunk priority",
            Some(run.priority),
            chunk_priority,
        );
        let child = all
            .iter()
            .find(|s| s.span_id == run.placeholder + 1 && s.trace_id == run.trace_id);
        check(
            &mut diffs,
            &at,
            "tracer child under aws.lambda",
            Some(lambda.span_id),
            child.map(|c| c.parent_id),
        );
        let sql = all
            .iter()
            .find(|s| s.span_id == run.placeholder + 2 && s.trace_id == run.trace_id);
        check(
            &mut diffs,
            &at,
            "obfuscated SQL",
            Some("SELECT * FROM items WHERE id = ?".to_string()),
            sql.map(|s| s.resource.clone()),
        );
        check(
            &mut diffs,
            &at,
            "span.kind",
            Some("server".to_string()),
            lambda.meta.get("span.kind").cloned(),
        );
        check(
            &mut diffs,
            &at,
            "aws.lambda error",
            t["lambda"]["error"].as_i64().unwrap() as i32,
            lambda.error,
        );
        check_meta(&mut diffs, &at, lambda, &t["lambda"]["meta"]);
        let chain = ancestors(all, lambda);
        let names: Vec<&str> = chain.iter().map(|s| s.name.as_str()).collect();
        let inferred = t["inferred"].as_array().unwrap();
        let want: Vec<&str> = inferred
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        check(&mut diffs, &at, "inferred spans", want, names);
        for (k, (inf, got)) in inferred.iter().zip(&chain).enumerate() {
            let at = format!("{at} inferred[{k}] {}", got.name);
            // What differs when the upstream tracer (and so its carrier) is absent.
            let mut inf = inf.clone();
            if let (false, Some(Value::Object(over))) =
                (run.upstream, inf.get("without_context").cloned())
            {
                for (key, v) in over {
                    inf[key] = v;
                }
            }
            check(
                &mut diffs,
                &at,
                "service",
                inf["service"].as_str().unwrap().to_string(),
                got.service.clone(),
            );
            check(
                &mut diffs,
                &at,
                "resource",
                inf["resource"].as_str().unwrap().to_string(),
                got.resource.clone(),
            );
            check(
                &mut diffs,
                &at,
                "type",
                inf["type"].as_str().unwrap().to_string(),
                got.r#type.clone(),
            );
            check(
                &mut diffs,
                &at,
                "error",
                inf["error"].as_i64().unwrap() as i32,
                got.error,
            );
            check(&mut diffs, &at, "trace id", lambda.trace_id, got.trace_id);
            check(
                &mut diffs,
                &at,
                "_dd.base_service",
                Some(service.to_string()),
                got.meta.get("_dd.base_service").cloned(),
            );
            if let Some(start) = inf.get("start").and_then(Value::as_i64) {
                check(&mut diffs, &at, "start", start, got.start);
            }
            check_meta(&mut diffs, &at, got, &inf["meta"]);
            if let Some(ptr) = inf.get("span_pointer") {
                let links: Value = got
                    .meta
                    .get("_dd.span_links")
                    .and_then(|l| serde_json::from_str(l).ok())
                    .unwrap_or(Value::Null);
                let attrs = &links[0]["attributes"];
                check(
                    &mut diffs,
                    &at,
                    "span pointer kind",
                    ptr["ptr.kind"].clone(),
                    attrs["ptr.kind"].clone(),
                );
                check(
                    &mut diffs,
                    &at,
                    "span pointer hash",
                    ptr["ptr.hash"].clone(),
                    attrs["ptr.hash"].clone(),
                );
                check(
                    &mut diffs,
                    &at,
                    "span pointer direction",
                    json!("u"),
                    attrs["ptr.dir"].clone(),
                );
            }
        }
        let top = chain.first().copied().unwrap_or(lambda);
        let context = if run.upstream {
            &t["context"]
        } else {
            t.get("context_without_upstream").unwrap_or(&t["context"])
        };
        match (t["upstream"].as_u64(), run.upstream) {
            (Some(k), true) => {
                let want_parent = context
                    .get("parent_id")
                    .and_then(Value::as_u64)
                    .unwrap_or(2222 + k);
                check(
                    &mut diffs,
                    &at,
                    "upstream trace id",
                    UPSTREAM + k,
                    lambda.trace_id,
                );
                check(
                    &mut diffs,
                    &at,
                    "upstream parent",
                    want_parent,
                    top.parent_id,
                );
            }
            _ if context.is_object() => {
                check(
                    &mut diffs,
                    &at,
                    "derived trace id",
                    context["trace_id"].as_u64(),
                    Some(lambda.trace_id),
                );
                check(
                    &mut diffs,
                    &at,
                    "derived parent id",
                    context["parent_id"].as_u64(),
                    Some(top.parent_id),
                );
                check(
                    &mut diffs,
                    &at,
                    "_dd.p.tid on the root span",
                    context["trace_id_high"].as_str().map(str::to_string),
                    top.meta.get("_dd.p.tid").cloned(),
                );
            }
            _ => check(
                &mut diffs,
                &at,
                "a new trace (root parent)",
                0,
                top.parent_id,
            ),
        }
    }
    // One cold start per environment.
    let colds: Vec<&Span> = all
        .iter()
        .filter(|s| s.name == "aws.lambda.cold_start")
        .collect();
    check(
        &mut diffs,
        &format!("[{label}]"),
        "cold start spans",
        1,
        colds.len(),
    );
    for c in colds {
        let beside = all
            .iter()
            .find(|s| s.name == "aws.lambda" && s.trace_id == c.trace_id);
        check(
            &mut diffs,
            &format!("[{label}] cold start"),
            "parent = aws.lambda's parent",
            beside.map(|l| l.parent_id),
            Some(c.parent_id),
        );
    }
    for p in &cap.payloads {
        if !p
            .tags
            .get("_dd.tags.function")
            .is_some_and(|t| t.contains("functionname:tandem-test"))
        {
            diffs.push(format!(
                "[{label}] a tracer payload without _dd.tags.function: {:?}",
                p.tags
            ));
        }
    }
    diffs
}

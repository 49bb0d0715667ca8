//! HTTP triggers: API Gateway REST (v1), HTTP API (v2), WebSocket, Lambda Function URLs and
//! ALB — their inferred spans, the `http.*` tags of `aws.lambda`, and the context in the
//! request headers (or, behind a Lambda authorizer, in the authorizer's context).

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::*;

/// Datadog's resource parameterisation: path segments that are numbers, UUIDs or ULIDs become
/// `{<previous segment, singular>_id}` (or `{id}`), so resources do not explode in cardinality.
/// A path already holding `{…}` templates is kept.
pub(super) fn parameterize(path: &str) -> String {
    if path.contains('{') && path.contains('}') {
        return path.to_string();
    }
    let parts: Vec<&str> = path.split('/').collect();
    let mut out = vec![String::new()];
    for (i, part) in parts.iter().enumerate().skip(1) {
        if part.is_empty() {
            continue;
        }
        if is_identifier(part) {
            let prev = i
                .checked_sub(1)
                .and_then(|p| parts.get(p))
                .copied()
                .filter(|p| !p.is_empty() && i > 1);
            let name = match prev.map(|p| p.trim_end_matches('s')) {
                Some("id") | None => "id".to_string(),
                Some(singular) => format!("{singular}_id"),
            };
            out.push(format!("{{{name}}}"));
        } else {
            out.push((*part).to_string());
        }
    }
    out.join("/")
}

/// All digits, or holding a UUID (8-4-4-4-12 hex) or a ULID (26 Crockford base32 characters).
fn is_identifier(seg: &str) -> bool {
    if !seg.is_empty() && seg.bytes().all(|c| c.is_ascii_digit()) {
        return true;
    }
    let b = seg.as_bytes();
    let uuid = [8, 4, 4, 4, 12];
    let is_uuid_at = |start: usize| {
        let mut i = start;
        for (k, len) in uuid.iter().enumerate() {
            if k > 0 {
                if b.get(i) != Some(&b'-') {
                    return false;
                }
                i += 1;
            }
            for _ in 0..*len {
                if !b.get(i).is_some_and(u8::is_ascii_hexdigit) {
                    return false;
                }
                i += 1;
            }
        }
        true
    };
    let crockford = |c: &u8| c.is_ascii_digit() || (c.is_ascii_uppercase() && !b"ILOU".contains(c));
    let mut run = 0;
    for (i, c) in b.iter().enumerate() {
        if is_uuid_at(i) {
            return true;
        }
        run = if crockford(c) { run + 1 } else { 0 };
        if run >= 26 {
            return true;
        }
    }
    false
}

pub(super) fn detect(event: &Value, opts: &Options<'_>) -> Option<Trigger> {
    let rc = event.get("requestContext")?;
    let headers = event.get("headers");
    let header = |name: &str| {
        headers
            .and_then(Value::as_object)
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_str())
            })
            .unwrap_or("")
            .to_string()
    };
    // A Lambda authorizer that ran first hands its context on in `authorizer._datadog`.
    let ctx = headers.and_then(|h| opts.extractor.headers(h)).or_else(|| {
        rc.get("authorizer")
            .and_then(|a| {
                a.get("_datadog")
                    .or_else(|| a.get("lambda")?.get("_datadog"))
            })
            .and_then(|c| opts.extractor.carrier(c))
    });
    let is_async = header("x-amz-invocation-type") == "Event";
    let region = opts.region;
    let part = partition(region);
    let domain = s(rc, &["domainName"]).unwrap_or("").to_string();
    let api = s(rc, &["apiId"]).unwrap_or("").to_string();
    let stage = s(rc, &["stage"]).unwrap_or("").to_string();
    let request_id = s(rc, &["requestId"]).unwrap_or("").to_string();
    let finish = |sp: Span| {
        if is_async { asynchronous(sp) } else { sync(sp) }
    };

    if rc.get("elb").is_some() {
        let method = s(event, &["httpMethod"]).unwrap_or("").to_string();
        let path = s(event, &["path"]).unwrap_or("").to_string();
        return Some(Trigger {
            source: "application-load-balancer",
            source_arn: s(rc, &["elb", "targetGroupArn"]).map(str::to_string),
            context: ctx,
            tags: tags(vec![
                ("http.method", method),
                ("http.url_details.path", path),
                ("http.user_agent", header("user-agent")),
            ]),
            ..Default::default()
        });
    }
    if domain.contains(".lambda-url.") {
        let method = s(rc, &["http", "method"]).unwrap_or("").to_string();
        let path = s(rc, &["http", "path"]).unwrap_or("/").to_string();
        let agent = s(rc, &["http", "userAgent"]).unwrap_or("").to_string();
        let url = format!("https://{domain}{path}");
        let sp = span(
            "aws.lambda.url",
            "http",
            opts.service(&api, "lambda_url", &domain, &domain),
            format!("{method} {}", parameterize(&path)),
            ms_to_ns(n(rc, &["timeEpoch"]).unwrap_or(0.0)),
        );
        let sp = with_meta(
            sp,
            vec![
                ("http.method", method.clone()),
                ("http.url", url.clone()),
                ("http.protocol", text(rc, &["http", "protocol"])),
                ("http.source_ip", text(rc, &["http", "sourceIp"])),
                ("http.user_agent", agent.clone()),
                ("endpoint", path.clone()),
                ("request_id", request_id),
            ],
        );
        return Some(Trigger {
            source: "lambda-function-url",
            source_arn: None,
            inferred: vec![finish(sp)],
            context: ctx,
            tags: tags(vec![
                ("http.method", method),
                ("http.url", url),
                ("http.url_details.path", path),
                ("http.user_agent", agent),
            ]),
        });
    }
    if s(rc, &["messageDirection"]).is_some() || s(rc, &["eventType"]).is_some() {
        let route = s(rc, &["routeKey"]).unwrap_or("").to_string();
        let url = format!("https://{domain}{route}");
        let sp = span(
            "aws.apigateway",
            "web",
            opts.service(&api, "lambda_api_gateway", &domain, &domain),
            route.clone(),
            ms_to_ns(n(rc, &["requestTimeEpoch"]).unwrap_or(0.0)),
        );
        let sp = with_meta(
            sp,
            vec![
                ("endpoint", route.clone()),
                ("resource_names", route.clone()),
                ("http.url", url.clone()),
                ("request_id", request_id),
                ("apiid", api.clone()),
                ("apiname", api.clone()),
                ("stage", stage.clone()),
                ("connection_id", text(rc, &["connectionId"])),
                ("event_type", text(rc, &["eventType"])),
                ("message_direction", text(rc, &["messageDirection"])),
            ],
        );
        return Some(Trigger {
            source: "api-gateway",
            source_arn: Some(format!(
                "arn:{part}:apigateway:{region}::/apis/{api}/stages/{stage}"
            )),
            // WebSocket messages are asynchronous: the client is not waiting on this span.
            inferred: vec![asynchronous(sp)],
            context: ctx,
            tags: tags(vec![
                ("http.url", url),
                ("http.url_details.path", route),
                ("http.referer", header("referer")),
            ]),
        });
    }
    // HTTP API (payload v2) or REST API (v1); the same span but for its name and fields.
    let v2 = rc.get("http").is_some();
    let (name, method, path, route, agent, source_ip, protocol, arn, start, resource) = if v2 {
        let method = s(rc, &["http", "method"]).unwrap_or("").to_string();
        let path = s(rc, &["http", "path"]).unwrap_or("/").to_string();
        let route_key = s(event, &["routeKey"]).unwrap_or("").to_string();
        let templated = route_key.contains(' ');
        let route = if templated {
            route_key.rsplit(' ').next().unwrap_or("").to_string()
        } else {
            String::new()
        };
        let resource = if templated {
            route_key.clone()
        } else {
            format!("{method} {}", parameterize(&path))
        };
        (
            "aws.httpapi",
            method,
            path,
            route,
            text(rc, &["http", "userAgent"]),
            text(rc, &["http", "sourceIp"]),
            text(rc, &["http", "protocol"]),
            format!("arn:{part}:apigateway:{region}::/apis/{api}/stages/{stage}"),
            ms_to_ns(n(rc, &["timeEpoch"]).unwrap_or(0.0)),
            resource,
        )
    } else {
        let method = s(rc, &["httpMethod"])
            .or_else(|| s(event, &["httpMethod"]))?
            .to_string();
        let path = s(rc, &["path"])
            .or_else(|| s(event, &["path"]))
            .unwrap_or("/")
            .to_string();
        let route = s(rc, &["resourcePath"])
            .or_else(|| s(event, &["resource"]))
            .unwrap_or("")
            .to_string();
        let resource = format!("{method} {}", parameterize(&path));
        (
            "aws.apigateway",
            method,
            path,
            route,
            text(rc, &["identity", "userAgent"]),
            text(rc, &["identity", "sourceIp"]),
            text(rc, &["protocol"]),
            format!("arn:{part}:apigateway:{region}::/restapis/{api}/stages/{stage}"),
            ms_to_ns(n(rc, &["requestTimeEpoch"]).unwrap_or(0.0)),
            resource,
        )
    };
    let agent = if agent.is_empty() {
        header("user-agent")
    } else {
        agent
    };
    let url = format!("https://{domain}{path}");
    let sp = span(
        name,
        "http",
        opts.service(&api, "lambda_api_gateway", &domain, &domain),
        resource.clone(),
        start,
    );
    let mut meta = vec![
        ("endpoint", path.clone()),
        ("http.url", url.clone()),
        ("http.method", method.clone()),
        ("http.protocol", protocol),
        ("http.source_ip", source_ip),
        ("http.user_agent", agent.clone()),
        ("request_id", request_id),
        ("apiid", api.clone()),
        ("stage", stage),
        ("dd_resource_key", arn.clone()),
    ];
    if !route.is_empty() {
        meta.push(("http.route", route.clone()));
    }
    if v2 {
        meta.push(("resource_names", resource));
    }
    Some(Trigger {
        source: "api-gateway",
        source_arn: Some(arn),
        inferred: vec![finish(with_meta(sp, meta))],
        context: ctx,
        tags: tags(vec![
            ("http.url", url),
            ("http.url_details.path", path),
            ("http.method", method),
            ("http.route", route),
            ("http.user_agent", agent),
            ("http.referer", header("referer")),
        ]),
    })
}

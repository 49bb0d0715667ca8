//! The simulator's HTTP side: the Extensions, Runtime and Telemetry API routes, registration,
//! subscription, and the telemetry delivery loop with Lambda's buffering.

use super::*;

pub(super) async fn route(
    shared: Arc<Shared>,
    req: hyper::Request<hyper::body::Incoming>,
) -> http::HttpResponse {
    let (parts, body) = req.into_parts();
    let header = |n: &str| http::header(&parts.headers, n).map(str::to_string);
    let body = http::read_body(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path();
    if let Some(answer) = api_fault(&shared, path) {
        shared.changed.notify_waiters();
        return answer;
    }
    let response = match (&parts.method, path) {
        (&Method::POST, "/2020-01-01/extension/register") => register(
            &shared,
            &body,
            header("Lambda-Extension-Name"),
            header("Lambda-Extension-Accept-Feature"),
        ),
        (&Method::GET, "/2020-01-01/extension/event/next") => {
            lock(&shared).next_calls.push(Instant::now());
            shared.changed.notify_waiters();
            let event = shared.next_rx.lock().await.recv().await;
            match event {
                Some(e) => http::json(StatusCode::OK, e.to_string()),
                None => http::respond(StatusCode::INTERNAL_SERVER_ERROR, "platform stopped"),
            }
        }
        (
            &Method::POST,
            p @ ("/2020-01-01/extension/init/error" | "/2020-01-01/extension/exit/error"),
        ) => {
            let kind = header("Lambda-Extension-Function-Error-Type").unwrap_or_default();
            lock(&shared).errors.push((p.to_string(), kind));
            http::json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (&Method::PUT, "/2022-07-01/telemetry") => subscribe(&shared, &body),
        (&Method::GET, "/2018-06-01/runtime/invocation/next") => {
            let invocation = shared.runtime_rx.lock().await.recv().await;
            match invocation {
                Some(i) => crate::runtime_api::next_response(&i),
                None => http::respond(StatusCode::INTERNAL_SERVER_ERROR, "platform stopped"),
            }
        }
        (&Method::POST, p) if p.starts_with("/2018-06-01/runtime/") => {
            match crate::runtime_api::result_of(p) {
                Some((request_id, kind)) => {
                    let text = String::from_utf8_lossy(&body).into_owned();
                    lock(&shared)
                        .runtime_results
                        .insert(request_id, (kind.to_string(), text));
                    http::json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
                None => {
                    let kind = header("Lambda-Runtime-Function-Error-Type").unwrap_or_default();
                    lock(&shared).errors.push((p.to_string(), kind));
                    http::json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
            }
        }
        _ => http::respond(StatusCode::NOT_FOUND, "unknown route"),
    };
    shared.changed.notify_waiters();
    response
}

/// The queued fault for this route, if the first one queued is for it.
fn api_fault(shared: &Shared, path: &str) -> Option<http::HttpResponse> {
    let mut s = lock(shared);
    let fault = *s.api_faults.front()?;
    let (register, next) = (
        path == "/2020-01-01/extension/register",
        path == "/2020-01-01/extension/event/next",
    );
    let answer = match fault {
        ApiFault::RegisterStatus(code) if register => http::json(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r#"{"errorMessage":"injected","errorType":"Extension.Fault"}"#,
        ),
        ApiFault::RegisterGarbage if register => http::json(StatusCode::OK, "}{ not json"),
        ApiFault::NextStatus(code) if next => http::json(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r#"{"errorMessage":"injected","errorType":"Extension.Fault"}"#,
        ),
        ApiFault::NextGarbage if next => http::json(StatusCode::OK, "\u{0}garbage"),
        _ => return None,
    };
    s.api_faults.pop_front();
    if next {
        s.next_calls.push(Instant::now());
    }
    Some(answer)
}

fn register(
    shared: &Shared,
    body: &[u8],
    name: Option<String>,
    feature: Option<String>,
) -> http::HttpResponse {
    let events: Vec<String> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| serde_json::from_value(v["events"].clone()).ok())
        .unwrap_or_default();
    let refused = shared.mode == SimMode::ManagedInstance && events.iter().any(|e| e == "INVOKE");
    let status = if refused || name.is_none() { 403 } else { 200 };
    lock(shared).registrations.push(Registration {
        events,
        name,
        accept_feature: feature.clone(),
        status,
    });
    if refused {
        return http::json(
            StatusCode::FORBIDDEN,
            r#"{"errorMessage":"INVOKE is not a valid event type for Lambda Managed Instances","errorType":"Extension.InvalidEventType"}"#,
        );
    }
    if status != 200 {
        return http::json(
            StatusCode::FORBIDDEN,
            r#"{"errorMessage":"missing Lambda-Extension-Name","errorType":"Extension.InvalidName"}"#,
        );
    }
    let mut info = json!({ "functionName": "tandem-test", "functionVersion": "$LATEST", "handler": "index.handler" });
    if feature.as_deref() == Some("accountId") {
        info["accountId"] = json!("123456789012");
    }
    let mut r = http::json(StatusCode::OK, info.to_string());
    r.headers_mut().insert(
        "Lambda-Extension-Identifier",
        hyper::header::HeaderValue::from_static("3c6a8e4b-6a3e-4c2b-9a1d-0123456789ab"),
    );
    r
}

fn subscribe(shared: &Shared, body: &[u8]) -> http::HttpResponse {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let schema = v["schemaVersion"].as_str().unwrap_or("");
    let (status, answer) = match shared.telemetry {
        TelemetryAnswer::NotSupported => (
            202,
            r#"{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}"#,
        ),
        TelemetryAnswer::Fail => (
            500,
            r#"{"errorMessage":"internal error","errorType":"Telemetry.Failure"}"#,
        ),
        TelemetryAnswer::Accept
            if shared.mode == SimMode::ManagedInstance && schema != "2025-01-29" =>
        {
            (
                400,
                r#"{"errorMessage":"schema not supported","errorType":"ValidationError"}"#,
            )
        }
        TelemetryAnswer::Accept => (200, "OK"),
    };
    let mut s = lock(shared);
    s.subscriptions.push(SubscriptionRequest {
        body: v.clone(),
        status,
    });
    if status == 200 {
        let uri = v["destination"]["URI"]
            .as_str()
            .unwrap_or("")
            .replace("sandbox.localdomain", "127.0.0.1");
        let b = &v["buffering"];
        s.destination = Some((
            uri,
            b["maxItems"].as_u64().unwrap_or(10_000),
            b["maxBytes"].as_u64().unwrap_or(262_144) as usize,
            Duration::from_millis(b["timeoutMs"].as_u64().unwrap_or(1_000)),
        ));
    }
    drop(s);
    let mut r = http::json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        answer,
    );
    if status == 200 {
        *r.body_mut() = tandem::http::Body::new(bytes::Bytes::from_static(b"OK"));
    }
    r
}

/// Delivers queued events as Lambda does: a batch goes when it holds maxItems or maxBytes, or
/// timeoutMs after its first event was queued; one batch in flight at a time.
pub(super) async fn deliver_telemetry(shared: Arc<Shared>) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_default();
    loop {
        let (uri, batch) = loop {
            let wait = {
                let mut s = lock(&shared);
                match (&s.destination, s.pending_since) {
                    (Some((uri, max_items, max_bytes, timeout)), Some(since)) => {
                        let (uri, max_items, max_bytes, timeout) =
                            (uri.clone(), *max_items as usize, *max_bytes, *timeout);
                        let bytes: usize = s.pending.iter().map(|e| e.to_string().len()).sum();
                        if s.pending.len() >= max_items
                            || bytes >= max_bytes
                            || since.elapsed() >= timeout
                        {
                            let n = s.pending.len().min(max_items);
                            let batch: Vec<Value> = s.pending.drain(..n).collect();
                            s.pending_since = if s.pending.is_empty() {
                                None
                            } else {
                                Some(Instant::now())
                            };
                            break (uri, batch);
                        }
                        Some(timeout.saturating_sub(since.elapsed()))
                    }
                    _ => None,
                }
            };
            match wait {
                Some(d) => {
                    let _ = tokio::time::timeout(d, shared.telemetry_queued.notified()).await;
                }
                None => shared.telemetry_queued.notified().await,
            }
        };
        // Serialized before the clock starts: `sent_at` is when the request goes out, so the
        // simulator's own work is not charged to the extension.
        let body = serde_json::to_string(&batch).unwrap_or_default();
        let sent_at = Instant::now();
        let idx = {
            let mut s = lock(&shared);
            s.deliveries.push(Delivery {
                sent_at,
                answered_at: sent_at,
                events: batch,
                status: None,
            });
            s.deliveries.len() - 1
        };
        let status = client
            .post(&uri)
            .header("Content-Type", "application/json")
            .timeout(Duration::from_secs(5))
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        {
            let mut s = lock(&shared);
            let d = &mut s.deliveries[idx];
            d.status = Some(status);
            d.answered_at = Instant::now();
        }
        shared.changed.notify_waiters();
    }
}

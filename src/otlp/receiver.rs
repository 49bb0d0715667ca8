//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf or JSON, optionally gzip.
//! Answers as the OTLP spec says: 200 with the signal's response (a partial success when some
//! items were refused), 400 for an undecodable body, 413 for one too large, 415 for another
//! content type, 404/405 for other paths and methods, 429 when the bodies in flight exceed their
//! memory budget (retryable). Bodies share one in-flight byte budget, as the trace agent's do.

use super::Receiver;
use super::decode::{self, Encoding, Signal};
use crate::http::{self, HttpResponse, ServerHandle};
use crate::memory::Budget;
use hyper::{Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// Largest request body, as sent.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// Body bytes read and decoded at once, across requests and both receivers.
pub(crate) const IN_FLIGHT_BYTES: usize = 16 * 1024 * 1024;
/// How much of a refused body is read (and dropped, one frame at a time) so the client, still
/// sending, reads the answer instead of a reset connection.
pub(crate) const MAX_DISCARD: usize = 128 * 1024 * 1024;
/// Reserved for a body sent without a length (chunked, or gRPC's streams).
pub(crate) const UNSIZED_RESERVE: usize = 2 * 1024 * 1024;
/// Memory a body holds per byte while decoded and mapped: the bytes, their inflated form and
/// the messages decoded from them.
const DECODED_PER_BYTE: usize = 4;
/// How long a body waits for its share of the budget before it is refused (429).
const BUDGET_WAIT: Duration = Duration::from_secs(1);

pub(super) fn serve_http(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
) -> std::io::Result<ServerHandle> {
    http::serve(listener, move |req| {
        let receiver = receiver.clone();
        async move {
            let (parts, body) = req.into_parts();
            let signal = match parts.uri.path() {
                "/v1/traces" => Signal::Traces,
                "/v1/metrics" => Signal::Metrics,
                "/v1/logs" => Signal::Logs,
                _ => return http::respond(StatusCode::NOT_FOUND, "unknown OTLP path"),
            };
            if parts.method != Method::POST {
                return http::respond(StatusCode::METHOD_NOT_ALLOWED, "OTLP takes POST");
            }
            let content_type = http::header(&parts.headers, "content-type").unwrap_or("");
            let Some(enc) = decode::encoding(content_type) else {
                http::discard_body(body, MAX_DISCARD).await;
                return error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Encoding::Json,
                    3,
                    &format!(
                        "unsupported content type {content_type:?}: application/x-protobuf or application/json"
                    ),
                );
            };
            let (bytes, _held) = match admit(&receiver, &parts.headers, body).await {
                Ok(admitted) => admitted,
                Err(Refused::TooLarge) => {
                    return error(StatusCode::PAYLOAD_TOO_LARGE, enc, 8, "body over 16 MiB");
                }
                Err(Refused::OverBudget) => {
                    return error(
                        StatusCode::TOO_MANY_REQUESTS,
                        enc,
                        8,
                        "OTLP bodies in flight exceed the memory budget; retry later",
                    );
                }
                Err(Refused::Unread) => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        enc,
                        8,
                        "body too large or too slow",
                    );
                }
            };
            let encoding = http::header(&parts.headers, "content-encoding");
            let decoded =
                decode::inflate(bytes, encoding).and_then(|b| decode::decode(signal, &b, enc));
            match decoded {
                Ok(request) => {
                    let outcome = receiver.ingest(request);
                    let body = decode::success(signal, enc, outcome.rejected, &outcome.message);
                    with_type(http::respond(StatusCode::OK, body), enc)
                }
                Err(decode::DecodeError::TooLarge) => {
                    count("too_large");
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        enc,
                        8,
                        "body inflates past 16 MiB",
                    )
                }
                Err(e) => {
                    count("invalid");
                    crate::log_warn!("OTLP/HTTP: an undecodable /v1/{} body: {e}", signal.name());
                    error(StatusCode::BAD_REQUEST, enc, 3, &e.to_string())
                }
            }
        }
    })
}

/// What a request holds while it is read and decoded: its share of the receivers' in-flight
/// bytes and of the process's memory budget.
pub(super) struct Held {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _reserved: crate::memory::Reserved,
}

/// Why a body was not taken (counted in `admit`).
pub(super) enum Refused {
    /// Declared over `MAX_BODY`.
    TooLarge,
    /// Its share of the in-flight or memory budget was not had in time.
    OverBudget,
    /// Longer than declared (or than `UNSIZED_RESERVE` undeclared), or too slow.
    Unread,
}

/// Reads a request body within the receivers' bounds, holding its share of the budgets; a
/// refused body is read to its end and dropped (so the client reads the answer), and counted.
/// Both receivers take their bodies through here.
pub(super) async fn admit(
    receiver: &Receiver,
    headers: &hyper::HeaderMap,
    body: hyper::body::Incoming,
) -> Result<(bytes::Bytes, Held), Refused> {
    let declared = http::header(headers, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        http::discard_body(body, MAX_DISCARD).await;
        count("too_large");
        return Err(Refused::TooLarge);
    }
    let share = declared.unwrap_or(UNSIZED_RESERVE);
    let Some(held) = reserve(receiver, share).await else {
        http::discard_body(body, MAX_DISCARD).await;
        count("over_budget");
        return Err(Refused::OverBudget);
    };
    let Some(bytes) = http::read_body_sized(body, share, declared.unwrap_or(0)).await else {
        count("too_large");
        return Err(Refused::Unread);
    };
    Ok((bytes, held))
}

/// A body's share of the budgets, waiting up to `BUDGET_WAIT`; `None` when it does not fit.
async fn reserve(receiver: &Receiver, share: usize) -> Option<Held> {
    let n = u32::try_from(share)
        .ok()
        .filter(|n| *n as usize <= IN_FLIGHT_BYTES)?;
    let slot = tokio::time::timeout(
        BUDGET_WAIT,
        receiver.in_flight.clone().acquire_many_owned(n),
    )
    .await
    .ok()?
    .ok()?;
    let reserved = Budget::global().reserve(share.saturating_mul(DECODED_PER_BYTE))?;
    Some(Held {
        _slot: slot,
        _reserved: reserved,
    })
}

/// Counts one refused request (`tandem.otlp.dropped{reason}`, reported at the flush).
pub(super) fn count(reason: &'static str) {
    ::metrics::counter!("tandem.otlp.dropped", "reason" => reason).increment(1);
}

fn with_type(mut r: HttpResponse, enc: Encoding) -> HttpResponse {
    let t = match enc {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    };
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(t),
    );
    r
}

fn error(status: StatusCode, enc: Encoding, code: i32, message: &str) -> HttpResponse {
    with_type(
        http::respond(status, decode::status(enc, code, message)),
        enc,
    )
}

//! OTLP/gRPC, unary, over the HTTP/2 server the other listeners share (no gRPC framework):
//! `TraceService/Export`, `MetricsService/Export`, `LogsService/Export`. One length-prefixed
//! message per request (gzip when its flag says so and `grpc-encoding` is gzip); the answer is
//! the response message and `grpc-status` in the trailers, or only trailers with the error's
//! status (3 invalid argument, 8 resource exhausted, 12 unimplemented).

#![deny(clippy::indexing_slicing, clippy::string_slice)] // reads input from outside the process

use super::Receiver;
use super::decode::{self, Encoding, Signal};
use super::receiver::{MAX_DISCARD, Refused, admit, count};
use crate::http::{self, Body, HttpResponse, ServerHandle};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use std::sync::Arc;

const OK: i32 = 0;
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;

pub(super) fn serve(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
) -> std::io::Result<ServerHandle> {
    http::serve_h2c(listener, move |req| {
        let receiver = receiver.clone();
        async move {
            let (parts, body) = req.into_parts();
            let signal = match parts.uri.path() {
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export" => Signal::Traces,
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" => {
                    Signal::Metrics
                }
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export" => Signal::Logs,
                p => {
                    http::discard_body(body, MAX_DISCARD).await;
                    return status_only(UNIMPLEMENTED, &format!("unknown method {p}"));
                }
            };
            let (bytes, _held) = match admit(&receiver, &parts.headers, body).await {
                Ok(admitted) => admitted,
                Err(Refused::TooLarge) => {
                    return status_only(RESOURCE_EXHAUSTED, "message over 16 MiB");
                }
                Err(Refused::OverBudget) => {
                    return status_only(
                        RESOURCE_EXHAUSTED,
                        "OTLP messages in flight exceed the memory budget",
                    );
                }
                Err(Refused::Unread) => {
                    return status_only(RESOURCE_EXHAUSTED, "message too large or too slow");
                }
            };
            let encoding = http::header(&parts.headers, "grpc-encoding");
            let message = match unframe(&bytes) {
                Ok((compressed, m)) => {
                    let m = Bytes::copy_from_slice(m);
                    if compressed {
                        decode::inflate(m, encoding.or(Some("unknown")))
                    } else {
                        Ok(m)
                    }
                }
                Err(why) => {
                    count("invalid");
                    return status_only(INVALID_ARGUMENT, why);
                }
            };
            match message.and_then(|m| decode::decode(signal, &m, Encoding::Protobuf)) {
                Ok(request) => {
                    let outcome = receiver.ingest(request);
                    let answer = decode::success(
                        signal,
                        Encoding::Protobuf,
                        outcome.rejected,
                        &outcome.message,
                    );
                    let mut r =
                        Response::new(Body::new(frame(&answer)).with_trailers(trailers(OK, "")));
                    set_grpc_type(r.headers_mut());
                    r
                }
                Err(decode::DecodeError::TooLarge) => {
                    count("too_large");
                    status_only(RESOURCE_EXHAUSTED, "message inflates past 16 MiB")
                }
                Err(e) => {
                    count("invalid");
                    crate::log_warn!("OTLP/gRPC: an undecodable {} export: {e}", signal.name());
                    status_only(INVALID_ARGUMENT, &e.to_string())
                }
            }
        }
    })
}

/// The one message of a unary request: (compressed, bytes).
fn unframe(body: &[u8]) -> Result<(bool, &[u8]), &'static str> {
    let (head, rest) = body
        .split_first_chunk::<5>()
        .ok_or("a gRPC message needs a 5-byte prefix")?;
    let [flag, a, b, c, d] = *head;
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    let msg = rest
        .get(..len)
        .ok_or("the gRPC message is shorter than its prefix says")?;
    if rest.len() != len {
        return Err("a unary export takes exactly one message");
    }
    Ok((flag == 1, msg))
}

fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn trailers(code: i32, message: &str) -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", HeaderValue::from(code));
    if !message.is_empty() {
        // Percent-encoding per the gRPC spec is only needed beyond printable ASCII.
        let printable: String = message
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&printable) {
            t.insert("grpc-message", v);
        }
    }
    t
}

fn set_grpc_type(h: &mut HeaderMap) {
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
}

/// An error as gRPC's "trailers only" answer: HTTP 200, the status in the headers.
fn status_only(code: i32, message: &str) -> HttpResponse {
    let mut r = Response::new(Body::default());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    set_grpc_type(h);
    for (k, v) in trailers(code, message).iter() {
        h.insert(k, v.clone());
    }
    r
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests may index
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_ones_are_refused() {
        let f = frame(b"abc");
        assert_eq!(unframe(&f), Ok((false, &b"abc"[..])));
        assert!(unframe(&f[..4]).is_err());
        assert!(unframe(&f[..7]).is_err());
        let mut two = f.clone();
        two.extend_from_slice(&f);
        assert!(unframe(&two).is_err());
    }
}

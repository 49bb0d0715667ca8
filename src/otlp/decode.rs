//! OTLP request bodies: which signal a path names, the content type (protobuf or JSON), gzip
//! (bounded: a small body may not inflate past `MAX_DECODED`), decoding into the OTLP messages,
//! and the answers (the `Export…Response` with a partial success, or a `google.rpc.Status`) in
//! the request's own encoding. Pure.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::io::Read;

/// Largest body once inflated.
pub(crate) const MAX_DECODED: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Protobuf,
    Json,
}

/// A decoded request.
#[derive(Debug)]
pub(crate) enum Request {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum DecodeError {
    #[error("unsupported content encoding {0:?} (gzip or none)")]
    Encoding(String),
    #[error("the body inflates past {MAX_DECODED} bytes")]
    TooLarge,
    #[error("the gzip stream is broken: {0}")]
    Gzip(String),
    #[error("undecodable {0}")]
    Body(String),
}

/// The encoding a `Content-Type` names, if OTLP has it.
pub(crate) fn encoding(content_type: &str) -> Option<Encoding> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media.to_ascii_lowercase().as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// The body as sent, inflated if it is gzip (`Content-Encoding`, or gRPC's compressed flag).
pub(crate) fn inflate(body: Bytes, content_encoding: Option<&str>) -> Result<Bytes, DecodeError> {
    match content_encoding.map(str::trim).filter(|e| !e.is_empty()) {
        None | Some("identity") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_DECODED));
            let mut reader = flate2::read::GzDecoder::new(&body[..]).take(MAX_DECODED as u64 + 1);
            reader
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::Gzip(e.to_string()))?;
            if out.len() > MAX_DECODED {
                return Err(DecodeError::TooLarge);
            }
            Ok(out.into())
        }
        Some(other) => Err(DecodeError::Encoding(other.to_string())),
    }
}

/// Decodes one request of `signal`.
pub(crate) fn decode(signal: Signal, body: &[u8], enc: Encoding) -> Result<Request, DecodeError> {
    let json_error = |e: String| DecodeError::Body(format!("JSON: {e}"));
    Ok(match (signal, enc) {
        (Signal::Traces, Encoding::Protobuf) => Request::Traces(protobuf(body)?),
        (Signal::Metrics, Encoding::Protobuf) => Request::Metrics(protobuf(body)?),
        (Signal::Logs, Encoding::Protobuf) => Request::Logs(protobuf(body)?),
        (Signal::Traces, Encoding::Json) => {
            Request::Traces(super::json::traces(body).map_err(json_error)?)
        }
        (Signal::Metrics, Encoding::Json) => {
            Request::Metrics(super::json::metrics(body).map_err(json_error)?)
        }
        (Signal::Logs, Encoding::Json) => {
            Request::Logs(super::json::logs(body).map_err(json_error)?)
        }
    })
}

fn protobuf<T: Message + Default>(body: &[u8]) -> Result<T, DecodeError> {
    T::decode(body).map_err(|e| DecodeError::Body(format!("protobuf: {e}")))
}

/// The success answer: the signal's `Export…Response`, with a partial success when some items
/// were refused.
pub(crate) fn success(signal: Signal, enc: Encoding, rejected: u64, message: &str) -> Vec<u8> {
    let count = i64::try_from(rejected).unwrap_or(i64::MAX);
    let partial = rejected > 0;
    if enc == Encoding::Json {
        if !partial {
            return b"{}".to_vec();
        }
        let field = match signal {
            Signal::Traces => "rejectedSpans",
            Signal::Metrics => "rejectedDataPoints",
            Signal::Logs => "rejectedLogRecords",
        };
        let mut p = serde_json::Map::new();
        p.insert(field.into(), count.to_string().into());
        p.insert("errorMessage".into(), message.into());
        return serde_json::json!({ "partialSuccess": p })
            .to_string()
            .into_bytes();
    }
    let message = message.to_string();
    match signal {
        Signal::Traces => ExportTraceServiceResponse {
            partial_success: partial.then_some(ExportTracePartialSuccess {
                rejected_spans: count,
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceResponse {
            partial_success: partial.then_some(ExportMetricsPartialSuccess {
                rejected_data_points: count,
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Signal::Logs => ExportLogsServiceResponse {
            partial_success: partial.then_some(ExportLogsPartialSuccess {
                rejected_log_records: count,
                error_message: message,
            }),
        }
        .encode_to_vec(),
    }
}

/// `google.rpc.Status`, the body of every OTLP/HTTP error answer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An error answer's body: `code` is the gRPC status code the problem corresponds to.
pub(crate) fn status(enc: Encoding, code: i32, message: &str) -> Vec<u8> {
    match enc {
        Encoding::Protobuf => RpcStatus {
            code,
            message: message.to_string(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_encodings() {
        assert_eq!(encoding("application/x-protobuf"), Some(Encoding::Protobuf));
        assert_eq!(
            encoding("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(encoding("text/plain"), None);
        assert!(matches!(
            inflate(Bytes::from_static(b"x"), Some("br")),
            Err(DecodeError::Encoding(_))
        ));
        assert!(matches!(
            inflate(Bytes::from_static(b"not gzip"), Some("gzip")),
            Err(DecodeError::Gzip(_))
        ));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_bound() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..(MAX_DECODED / zeros.len() + 1) {
            gz.write_all(&zeros).unwrap();
        }
        let small = gz.finish().unwrap();
        assert!(small.len() < 100_000);
        assert_eq!(
            inflate(small.into(), Some("gzip")),
            Err(DecodeError::TooLarge)
        );
    }

    #[test]
    fn truncated_protobuf_is_an_error_not_a_panic() {
        let full = ExportTraceServiceRequest {
            resource_spans: vec![Default::default()],
        }
        .encode_to_vec();
        let mut cut = full.clone();
        cut.push(0x0a);
        cut.push(0x7f);
        assert!(decode(Signal::Traces, &cut, Encoding::Protobuf).is_err());
        assert!(decode(Signal::Traces, &full, Encoding::Protobuf).is_ok());
        assert!(decode(Signal::Logs, b"{\"resourceLogs\": 3}", Encoding::Json).is_err());
    }
}

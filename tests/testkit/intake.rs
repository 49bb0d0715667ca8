//! A capture intake on loopback: records every request the agent sends (method, path,
//! headers, decompressed body, time) and answers as told — 202, another status, after a
//! delay, never, or by dropping the connection. Decoding of JSON is here; protobuf payloads are
//! decoded by the tests with the crate's own message types.

use hyper::StatusCode;
use prost::Message;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tandem::http::{self, Abort, ServerHandle};
use tokio::sync::Notify;

/// How the intake answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 202 Accepted.
    None,
    Status(u16),
    /// 202 after this long.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
    /// Never answer.
    Hang,
    /// 429 with `Retry-After` of this many seconds.
    Throttle(u32),
}

#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The body after undoing `Content-Encoding`.
    pub body: Vec<u8>,
    pub received_at: Instant,
    /// The status answered: `None` while pending, `Some(0)` when the connection ended
    /// without an answer (dropped by a fault, or the client gave up).
    pub answered: Option<u16>,
    pub answered_at: Option<Instant>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub fn accepted(&self) -> bool {
        self.answered.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A distant intake, as seen from Lambda: each request's answer waits one round trip plus its
/// bytes over the bandwidth; a new connection first pays two more round trips (TCP's handshake
/// and TLS 1.3's), charged before its first request is read; a connection idle for `idle_close`
/// is closed (an intake's or a NAT's idle timeout).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub rtt: Duration,
    pub bytes_per_s: f64,
    pub idle_close: Duration,
}

#[derive(Default)]
struct State {
    requests: Vec<Captured>,
    /// `HEAD` requests: connections the extension warmed.
    warmups: u64,
    faults: VecDeque<Fault>,
    default_fault: Option<Fault>,
    network: Option<Network>,
}

struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

pub struct CaptureIntake {
    shared: Arc<Shared>,
    server: ServerHandle,
    scheme: &'static str,
}

impl Drop for CaptureIntake {
    fn drop(&mut self) {
        self.server.stop();
    }
}

impl CaptureIntake {
    pub async fn start() -> std::io::Result<CaptureIntake> {
        Self::start_with(
            |stream| async move { Ok((stream, false)) },
            "http",
            http::HEADER_TIMEOUT,
        )
        .await
    }

    /// A plain-text intake that answers as if `network` away (see [`Network`]), over HTTP/2
    /// as Datadog's intakes (prior knowledge: `DD_HTTP_PROTOCOL=http2`, there being no TLS to
    /// negotiate it).
    pub async fn start_remote(network: Network) -> std::io::Result<CaptureIntake> {
        let intake = Self::start_with(
            move |stream| async move {
                tokio::time::sleep(network.rtt * 2).await;
                Ok((
                    crate::idle_close::IdleClose::new(stream, network.idle_close),
                    true,
                ))
            },
            "http",
            network.idle_close,
        )
        .await?;
        intake.state().network = Some(network);
        Ok(intake)
    }

    /// An HTTPS intake serving the PEM certificate chain and key at the given paths.
    pub async fn start_tls(
        cert_pem: &std::path::Path,
        key_pem: &std::path::Path,
    ) -> std::io::Result<CaptureIntake> {
        use tokio_rustls::rustls::{self, pki_types::pem::PemObject};
        let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(cert_pem)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key_pem)
            .map_err(|e| bad(e.to_string()))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
        let mut config = config;
        // As Datadog's intakes: HTTP/2 for a client that offers it, else HTTP/1.1.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start_with(
            move |stream| {
                let accepting = acceptor.clone().accept(stream);
                async move {
                    let tls = accepting.await?;
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    Ok((tls, h2))
                }
            },
            "https",
            http::HEADER_TIMEOUT,
        )
        .await
    }

    async fn start_with<U, UFut, S>(
        upgrade: U,
        scheme: &'static str,
        header_timeout: Duration,
    ) -> std::io::Result<CaptureIntake>
    where
        U: Fn(tokio::net::TcpStream) -> UFut + Send + Sync + 'static,
        UFut: std::future::Future<Output = std::io::Result<(S, bool)>> + Send + 'static,
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let handler_shared = shared.clone();
        let server = http::serve_negotiated(listener, upgrade, header_timeout, move |req| {
            let shared = handler_shared.clone();
            async move { capture(shared, req).await }
        })?;
        Ok(CaptureIntake {
            shared,
            server,
            scheme,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.server.addr)
    }

    /// Answer every request this way from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.state().default_fault = Some(fault);
    }

    /// Answer the next requests with these, in order, then as `set_fault` says.
    pub fn queue_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state().faults.extend(faults);
    }

    /// How many connection warm-ups (`HEAD` requests, never recorded) arrived.
    pub fn warmups(&self) -> u64 {
        lock(&self.shared).warmups
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.state().requests.clone()
    }

    /// Requests to `path` that were accepted.
    pub fn accepted(&self, path: &str) -> Vec<Captured> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path == path && r.accepted())
            .cloned()
            .collect()
    }

    /// Every log entry of accepted `/api/v2/logs` requests, in arrival order.
    pub fn log_entries(&self) -> Vec<Value> {
        self.accepted("/api/v2/logs")
            .iter()
            .filter_map(Captured::json)
            .flat_map(|v| match v {
                Value::Array(a) => a,
                _ => Vec::new(),
            })
            .collect()
    }

    /// Every series of accepted `/api/v2/series` requests, decoded from protobuf.
    pub fn series(&self) -> Vec<tandem::metrics::proto::MetricSeries> {
        self.decoded("/api/v2/series", |b| {
            tandem::metrics::proto::MetricPayload::decode(b).map(|p| p.series)
        })
    }

    /// Every sketch of accepted `/api/beta/sketches` requests, decoded from protobuf.
    pub fn sketches(&self) -> Vec<tandem::metrics::proto::SketchMsg> {
        self.decoded("/api/beta/sketches", |b| {
            tandem::metrics::proto::SketchPayload::decode(b).map(|p| p.sketches)
        })
    }

    /// Every tracer payload of accepted `/api/v0.2/traces` requests, decoded from protobuf.
    pub fn tracer_payloads(&self) -> Vec<tandem::traces::proto::TracerPayload> {
        self.decoded("/api/v0.2/traces", |b| {
            tandem::traces::proto::AgentPayload::decode(b).map(|p| p.tracer_payloads)
        })
    }

    /// Every span of accepted `/api/v0.2/traces` requests, decoded from protobuf.
    pub fn spans(&self) -> Vec<tandem::traces::proto::Span> {
        self.tracer_payloads()
            .into_iter()
            .flat_map(|t| t.chunks)
            .flat_map(|c| c.spans)
            .collect()
    }

    /// A body that does not decode is a test failure, not something to skip.
    fn decoded<T>(
        &self,
        path: &str,
        decode: impl Fn(&[u8]) -> Result<Vec<T>, prost::DecodeError>,
    ) -> Vec<T> {
        self.accepted(path)
            .iter()
            .flat_map(|r| match decode(&r.body) {
                Ok(items) => items,
                Err(e) => panic!("{path}: body does not decode: {e}"),
            })
            .collect()
    }

    /// Waits until `condition` holds over the recorded requests.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        condition: impl Fn(&[Captured]) -> bool,
    ) -> bool {
        super::wait_until(&self.shared.changed, timeout, || {
            condition(&self.state().requests)
        })
        .await
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    tandem::sync::lock(&shared.state)
}

async fn capture(
    shared: Arc<Shared>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<http::HttpResponse, Abort> {
    let (parts, body) = req.into_parts();
    if parts.method == hyper::Method::HEAD {
        // The extension warming a connection before a flush: no data, not a request to keep.
        lock(&shared).warmups += 1;
        return Ok(http::respond(hyper::StatusCode::NOT_FOUND, ""));
    }
    let headers: HashMap<String, String> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let raw = http::read_body(body, 64 << 20).await.unwrap_or_default();
    // A distant intake serves long replays: it keeps what a request was, not its body.
    let keep = lock(&shared).network.is_none();
    let encoding = headers
        .get("content-encoding")
        .map(String::as_str)
        .filter(|_| keep);
    let body = match encoding {
        Some("zstd") => {
            zstd::decode_all(&raw[..]).unwrap_or_else(|_| b"<undecodable zstd>".to_vec())
        }
        Some("gzip") => {
            use std::io::Read;
            let mut out = Vec::new();
            match flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out) {
                Ok(_) => out,
                Err(_) => b"<undecodable gzip>".to_vec(),
            }
        }
        _ if keep => raw.to_vec(),
        _ => Vec::new(),
    };
    let (idx, fault) = {
        let mut s = lock(&shared);
        let distance = s.network.map(|n| {
            let transfer = raw.len() as f64 / n.bytes_per_s.max(1.0);
            Fault::Delay(n.rtt + Duration::from_secs_f64(transfer.min(3600.0)))
        });
        let fault = s
            .faults
            .pop_front()
            .or(s.default_fault)
            .or(distance)
            .unwrap_or(Fault::None);
        s.requests.push(Captured {
            method: parts.method.to_string(),
            version: format!("{:?}", parts.version),
            path: parts.uri.path().to_string(),
            headers,
            body,
            received_at: Instant::now(),
            answered: None,
            answered_at: None,
        });
        (s.requests.len() - 1, fault)
    };
    shared.changed.notify_waiters();
    // Records "no answer" (status 0) if the client goes away first or the fault drops it.
    let mut unanswered = Unanswered {
        shared: shared.clone(),
        idx,
        armed: true,
    };
    let status = match fault {
        Fault::None => 202,
        Fault::Status(s) => s,
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            202
        }
        Fault::Drop => return Err(Abort),
        Fault::Hang => std::future::pending().await,
        Fault::Throttle(_) => 429,
    };
    unanswered.armed = false;
    record_answer(&shared, idx, status);
    let mut r = http::json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED),
        "{}",
    );
    if let Fault::Throttle(secs) = fault
        && let Ok(v) = hyper::header::HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert("Retry-After", v);
    }
    Ok(r)
}

fn record_answer(shared: &Shared, idx: usize, status: u16) {
    {
        let mut s = lock(shared);
        s.requests[idx].answered = Some(status);
        s.requests[idx].answered_at = Some(Instant::now());
    }
    shared.changed.notify_waiters();
}

struct Unanswered {
    shared: Arc<Shared>,
    idx: usize,
    armed: bool,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            record_answer(&self.shared, self.idx, 0);
        }
    }
}

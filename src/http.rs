//! The one HTTP server primitive over hyper, shared by every local listener (Telemetry API,
//! trace agent, lifecycle API, OTLP) and by the test platform: HTTP/1.1, or HTTP/2 without TLS
//! (`serve_h2c`, for gRPC) with the same accept loop. Owns accepting — at most
//! `MAX_CONNECTIONS` open at once, back-off on accept errors (`EMFILE` must not spin a core) —,
//! per-connection tasks with header and body read timeouts, bounded body reading, and stopping
//! with a drain of the requests in flight. Must not know routes.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{HeaderMap, Request, Response, StatusCode};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub type HttpResponse = Response<Body>;

/// A whole response body, and trailers after it (gRPC's status travels in them).
#[derive(Debug, Default)]
pub struct Body {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body {
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self {
            data: Some(data.into()).filter(|d| !d.is_empty()),
            trailers: None,
        }
    }

    pub fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = Some(trailers);
        self
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// Streams one HTTP/2 connection serves at once.
const H2_MAX_STREAMS: u32 = 64;

/// Connections open at once per server; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// A client must send a request's headers within this (slowloris) …
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// … and its body within this.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest pause after repeated accept errors.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A running server; dropping the handle does not stop it, [`ServerHandle::stop`] does.
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    connections: Arc<Semaphore>,
}

impl ServerHandle {
    /// Stops accepting connections and ends open ones at their next request boundary.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops, then waits until every open connection has answered its request in flight, or
    /// `until`. Returns whether all were drained.
    pub async fn drain(&self, until: Instant) -> bool {
        self.stop();
        let all = MAX_CONNECTIONS as u32;
        tokio::time::timeout_at(until.into(), self.connections.acquire_many(all))
            .await
            .is_ok()
    }
}

/// Returned by a handler to close the connection without answering (fault injection).
#[derive(Debug)]
pub struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection aborted by the handler")
    }
}

impl std::error::Error for Abort {}

/// Serves `handler` on an already-bound listener until stopped.
pub fn serve<F, Fut>(listener: TcpListener, handler: F) -> std::io::Result<ServerHandle>
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    serve_or_abort(listener, move |req| {
        let fut = handler(req);
        async move { Ok(fut.await) }
    })
}

/// Like [`serve`], for handlers that may drop the connection instead of answering.
pub fn serve_or_abort<F, Fut>(listener: TcpListener, handler: F) -> std::io::Result<ServerHandle>
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, Abort>> + Send + 'static,
{
    serve_streams(
        listener,
        |stream| async move { Ok(stream) },
        HEADER_TIMEOUT,
        handler,
    )
}

/// The accept loop behind every server: `upgrade` turns each accepted connection into the
/// stream HTTP is spoken over (the connection itself, or a TLS session in tests).
/// `header_timeout` bounds the wait for a request's headers — counted from the previous
/// answer on a kept-alive connection, so it is also how long an idle connection stays open
/// (HTTP/2: how long before an idle connection is pinged).
pub fn serve_streams<U, UFut, S, F, Fut>(
    listener: TcpListener,
    upgrade: U,
    header_timeout: Duration,
    handler: F,
) -> std::io::Result<ServerHandle>
where
    U: Fn(tokio::net::TcpStream) -> UFut + Send + Sync + 'static,
    UFut: Future<Output = std::io::Result<S>> + Send + 'static,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, Abort>> + Send + 'static,
{
    serve_negotiated(
        listener,
        move |stream| {
            let upgraded = upgrade(stream);
            async move { upgraded.await.map(|s| (s, false)) }
        },
        header_timeout,
        handler,
    )
}

/// Serves `handler` over HTTP/2 with prior knowledge (h2c: gRPC clients without TLS), with the
/// same connection cap and drain as every other server.
pub fn serve_h2c<F, Fut>(listener: TcpListener, handler: F) -> std::io::Result<ServerHandle>
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    serve_negotiated(
        listener,
        |stream| async move { Ok((stream, true)) },
        HEADER_TIMEOUT,
        move |req| {
            let fut = handler(req);
            async move { Ok(fut.await) }
        },
    )
}

/// Like [`serve_streams`], where `upgrade` also says whether the connection speaks HTTP/2
/// (a TLS session that negotiated `h2` by ALPN; the test kit's intake), else HTTP/1.1.
pub fn serve_negotiated<U, UFut, S, F, Fut>(
    listener: TcpListener,
    upgrade: U,
    header_timeout: Duration,
    handler: F,
) -> std::io::Result<ServerHandle>
where
    U: Fn(tokio::net::TcpStream) -> UFut + Send + Sync + 'static,
    UFut: Future<Output = std::io::Result<(S, bool)>> + Send + 'static,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, Abort>> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let handler = Arc::new(handler);
    let upgrade = Arc::new(upgrade);
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let slots = connections.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(1);
        loop {
            // A slot first: at the cap, new connections wait in the backlog (mini-redis).
            let slot = tokio::select! {
                s = slots.clone().acquire_owned() => s,
                _ = stopped.changed() => break,
            };
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => {
                    backoff = Duration::from_millis(1);
                    stream
                }
                Err(e) => {
                    // EMFILE and friends persist: pause instead of spinning on them.
                    crate::log_debug!("accept on {addr} failed: {e}; retrying in {backoff:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped.changed() => break,
                    }
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let upgrade = upgrade.clone();
            let mut conn_stop = stopped.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let Ok((stream, h2)) = upgrade(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    async move { handler(req).await }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if h2 {
                    let conn = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .timer(hyper_util::rt::TokioTimer::new())
                    .max_concurrent_streams(H2_MAX_STREAMS)
                    .keep_alive_interval(Some(header_timeout))
                    .serve_connection(io, service);
                    tokio::pin!(conn);
                    until_stopped(conn, &mut conn_stop, |c| c.graceful_shutdown()).await;
                } else {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        .serve_connection(io, service);
                    tokio::pin!(conn);
                    until_stopped(conn, &mut conn_stop, |c| c.graceful_shutdown()).await;
                }
            });
        }
    });
    Ok(ServerHandle {
        addr,
        stop,
        connections,
    })
}

/// Serves one connection until it ends; once the server stops, it finishes the request in
/// flight (`graceful`) and ends.
async fn until_stopped<C: Future>(
    mut conn: Pin<&mut C>,
    stop: &mut watch::Receiver<bool>,
    graceful: impl FnOnce(Pin<&mut C>),
) {
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            graceful(conn.as_mut());
            let _ = conn.await;
        }
    }
}

/// Reads a request body up to `limit` bytes; `None` if larger or broken.
pub async fn read_body(body: Incoming, limit: usize) -> Option<Bytes> {
    read_body_sized(body, limit, 0).await
}

/// Reads and drops a body (up to `limit` bytes, within `BODY_TIMEOUT`), holding one frame at a
/// time: a refused request is answered only once the client has finished sending it.
pub async fn discard_body(body: Incoming, limit: usize) {
    let drain = async {
        let mut body = Limited::new(body, limit);
        while let Some(Ok(_)) = body.frame().await {}
    };
    let _ = tokio::time::timeout(BODY_TIMEOUT, drain).await;
}

/// Like [`read_body`], into one buffer of `expected` bytes reserved up front (the declared
/// length, when known): the body is held once, never as chunks plus a copy. `None` also when
/// the client takes longer than `BODY_TIMEOUT`.
pub async fn read_body_sized(body: Incoming, limit: usize, expected: usize) -> Option<Bytes> {
    let read = async {
        let mut buf = bytes::BytesMut::with_capacity(expected.min(limit));
        let mut body = Limited::new(body, limit);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.ok()?.into_data() {
                buf.extend_from_slice(&data);
            }
        }
        Some(buf.freeze())
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

/// A request header as text, if present and valid.
pub fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn respond(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(Body::new(body));
    *r.status_mut() = status;
    r
}

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = respond(status, body);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests;

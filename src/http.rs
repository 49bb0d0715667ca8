//! A minimal HTTP/1.1 server loop over hyper, shared by every local listener (Telemetry API
//! listener now; DogStatsD-adjacent HTTP listeners later) and by the test platform. Owns
//! accepting, per-connection tasks, bounded body reading and stopping. Must not know routes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub type HttpResponse = Response<Full<Bytes>>;

/// A running server; dropping the handle does not stop it, [`ServerHandle::stop`] does.
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl ServerHandle {
    /// Stops accepting connections and ends open ones at their next request boundary.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
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
    serve_streams(listener, |stream| async move { Ok(stream) }, handler)
}

/// The accept loop behind every server: `upgrade` turns each accepted connection into the
/// stream HTTP is spoken over (the connection itself, or a TLS session in tests).
pub fn serve_streams<U, UFut, S, F, Fut>(
    listener: TcpListener,
    upgrade: U,
    handler: F,
) -> std::io::Result<ServerHandle>
where
    U: Fn(tokio::net::TcpStream) -> UFut + Send + Sync + 'static,
    UFut: Future<Output = std::io::Result<S>> + Send + 'static,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, Abort>> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let handler = Arc::new(handler);
    let upgrade = Arc::new(upgrade);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let upgrade = upgrade.clone();
            let mut conn_stop = stopped.clone();
            tokio::spawn(async move {
                let Ok(stream) = upgrade(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    async move { handler(req).await }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = conn_stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    });
    Ok(ServerHandle { addr, stop })
}

/// Reads a request body up to `limit` bytes; `None` if larger or broken.
pub async fn read_body(body: Incoming, limit: usize) -> Option<Bytes> {
    Limited::new(body, limit)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

/// A request header as text, if present and valid.
pub fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn respond(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(Full::new(body.into()));
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

//! The Telemetry API listener: an HTTP server that receives batches from Lambda, decodes them
//! and hands the events to a sink. Always answers 200 quickly — a batch Lambda would retry is
//! a batch it would also delay — and never lets one bad event spoil its batch.

use super::events::{Timed, parse_batch};
use crate::http::{self, ServerHandle};
use hyper::StatusCode;
use std::net::SocketAddr;
use std::sync::Arc;

/// Lambda batches are at most about 2 × maxBytes (we subscribe with 256 KiB); leave headroom.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Receives decoded events, in delivery order.
pub(crate) type Sink = Arc<dyn Fn(Vec<Timed>) + Send + Sync>;

/// Binds and starts the listener. Binding errors are returned for the caller to log.
pub(crate) async fn start(addr: SocketAddr, sink: Sink) -> std::io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    http::serve(listener, move |req| {
        let sink = sink.clone();
        async move {
            let Some(body) = http::read_body(req.into_body(), MAX_BATCH_BYTES).await else {
                crate::log_warn!(
                    "telemetry listener: a batch was larger than {MAX_BATCH_BYTES} bytes or broken; it was discarded"
                );
                metrics::counter!("tandem.telemetry.batches_rejected").increment(1);
                return http::respond(StatusCode::OK, "");
            };
            let batch = parse_batch(&body, crate::time::now_ms());
            if batch.rejected > 0 {
                metrics::counter!("tandem.telemetry.events_rejected")
                    .increment(batch.rejected as u64);
                crate::log_warn!(
                    "telemetry listener: skipped {} undecodable event(s) of a batch of {} bytes, kept {}: {}",
                    batch.rejected,
                    body.len(),
                    batch.events.len(),
                    batch.first_error.as_deref().unwrap_or("")
                );
            }
            if !batch.events.is_empty() {
                sink(batch.events);
            }
            crate::memory::trim_after(body.len());
            http::respond(StatusCode::OK, "")
        }
    })
}

//! Tandem: a drop-in, wire-compatible replacement for the Datadog Lambda Extension.
//!
//! This crate (`src/`) is the shared core: listeners → pipelines → encoders → intake. It knows
//! nothing of the mode it runs in; the controllers in `modes/` (the `tandem` binary's crate)
//! decide when to flush. The test kit (`tests/testkit/`) is a separate crate and is never
//! linked into the extension. See README "Architecture".

pub(crate) mod base64;
pub mod config;
pub mod core;
pub mod counters;
pub mod diag;
pub mod dogstatsd;
pub mod durable;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub(crate) mod intake;
pub(crate) mod invocations;
pub mod lambda;
pub mod level;
pub mod logs;
pub mod memory;
pub mod metrics;
pub mod otlp;
pub mod payload;
pub(crate) mod secret;
pub mod secrets;
pub mod sync;
pub mod tags;
pub mod time;
pub mod traces;

/// The async runtime the binary and `tandem-local` run on: two workers, so that a flush's
/// compression never stalls the Telemetry listener.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

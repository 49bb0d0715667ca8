//! Tandem: a drop-in, wire-compatible replacement for the Datadog Lambda Extension.
//!
//! `src/` is the shared core (sources → pipelines → intake); `modes/` holds the two
//! controllers that decide when to flush; `tests/support/` holds the Lambda platform
//! simulator and capture intake, compiled in as [`testkit`] so that `tandem local` can run
//! the real agent against them. See README "Architecture".

pub mod base64;
pub mod config;
pub mod core;
pub mod counters;
pub mod diag;
pub mod dogstatsd;
pub mod http;
pub mod intake;
pub mod invocations;
pub mod lambda;
pub mod local;
pub mod logs;
pub mod metrics;
pub mod secrets;
pub mod sync;
pub mod tags;
pub mod time;
pub mod traces;

#[path = "../modes/mod.rs"]
pub mod modes;

#[path = "../tests/support/mod.rs"]
pub mod testkit;

/// The async runtime the binary and `tandem local` run on: two workers, so that a flush's
/// compression never stalls the Telemetry listener.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

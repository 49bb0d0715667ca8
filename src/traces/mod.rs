//! Traces: the local trace agent (msgpack payloads from tracers), span processing, the
//! invocation span and inferred spans, and the trace intake encoding.

pub(crate) mod adopt;
pub(crate) mod capture;
pub(crate) mod cold_start;
pub(crate) mod context;
pub(crate) mod encode;
pub(crate) mod forward;
pub(crate) mod ids;
pub(crate) mod inferred;
pub(crate) mod invocation;
pub(crate) mod join;
pub(crate) mod lifecycle;
pub mod msgpack;
pub(crate) mod obfuscate;
pub mod pipeline;
pub mod process;
pub mod proto;
pub(crate) mod server;
pub(crate) mod size;
pub(crate) mod stats;

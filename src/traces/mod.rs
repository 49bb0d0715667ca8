//! Traces: the local trace agent (msgpack payloads from tracers), span processing, the
//! invocation span and inferred spans, and the trace intake encoding.

pub mod context;
pub mod encode;
pub mod forward;
pub mod inferred;
pub mod invocation;
pub mod lifecycle;
pub mod msgpack;
pub mod pipeline;
pub mod process;
pub mod proto;
pub mod server;
pub mod stats;

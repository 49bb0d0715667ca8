//! Traces: the local trace agent (msgpack payloads from tracers), span processing, the
//! invocation span and inferred spans, and the trace intake encoding.

pub mod encode;
pub mod msgpack;
pub mod pipeline;
pub mod process;
pub mod proto;
pub mod server;

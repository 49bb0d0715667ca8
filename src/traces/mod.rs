//! Traces: the local trace agent (msgpack payloads from tracers), span processing, the
//! invocation span and inferred spans, and the trace intake encoding.

pub mod msgpack;
pub mod process;
pub mod proto;

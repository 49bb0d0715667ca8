//! Protobuf messages of the trace intake (`/api/v0.2/traces`, PROTOCOLS.md §4), written by hand
//! with prost's derive. Field numbers are the wire contract.

use std::collections::HashMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentPayload {
    #[prost(string, tag = "1")]
    pub host_name: String,
    #[prost(string, tag = "2")]
    pub env: String,
    #[prost(message, repeated, tag = "5")]
    pub tracer_payloads: Vec<TracerPayload>,
    #[prost(map = "string, string", tag = "6")]
    pub tags: HashMap<String, String>,
    #[prost(string, tag = "7")]
    pub agent_version: String,
    #[prost(double, tag = "8")]
    pub target_tps: f64,
    #[prost(double, tag = "9")]
    pub error_tps: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TracerPayload {
    #[prost(string, tag = "1")]
    pub container_id: String,
    #[prost(string, tag = "2")]
    pub language_name: String,
    #[prost(string, tag = "3")]
    pub language_version: String,
    #[prost(string, tag = "4")]
    pub tracer_version: String,
    #[prost(string, tag = "5")]
    pub runtime_id: String,
    #[prost(message, repeated, tag = "6")]
    pub chunks: Vec<TraceChunk>,
    #[prost(map = "string, string", tag = "7")]
    pub tags: HashMap<String, String>,
    #[prost(string, tag = "8")]
    pub env: String,
    #[prost(string, tag = "9")]
    pub hostname: String,
    #[prost(string, tag = "10")]
    pub app_version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceChunk {
    #[prost(int32, tag = "1")]
    pub priority: i32,
    #[prost(string, tag = "2")]
    pub origin: String,
    #[prost(message, repeated, tag = "3")]
    pub spans: Vec<Span>,
    #[prost(map = "string, string", tag = "4")]
    pub tags: HashMap<String, String>,
    #[prost(bool, tag = "5")]
    pub dropped_trace: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    #[prost(string, tag = "1")]
    pub service: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub resource: String,
    #[prost(uint64, tag = "4")]
    pub trace_id: u64,
    #[prost(uint64, tag = "5")]
    pub span_id: u64,
    #[prost(uint64, tag = "6")]
    pub parent_id: u64,
    /// Nanoseconds since the epoch.
    #[prost(int64, tag = "7")]
    pub start: i64,
    /// Nanoseconds.
    #[prost(int64, tag = "8")]
    pub duration: i64,
    #[prost(int32, tag = "9")]
    pub error: i32,
    #[prost(map = "string, string", tag = "10")]
    pub meta: HashMap<String, String>,
    #[prost(map = "string, double", tag = "11")]
    pub metrics: HashMap<String, f64>,
    #[prost(string, tag = "12")]
    pub r#type: String,
    #[prost(map = "string, bytes", tag = "13")]
    pub meta_struct: HashMap<String, Vec<u8>>,
    #[prost(message, repeated, tag = "14")]
    pub span_links: Vec<SpanLink>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanLink {
    #[prost(uint64, tag = "1")]
    pub trace_id: u64,
    #[prost(uint64, tag = "2")]
    pub trace_id_high: u64,
    #[prost(uint64, tag = "3")]
    pub span_id: u64,
    #[prost(map = "string, string", tag = "4")]
    pub attributes: HashMap<String, String>,
    #[prost(string, tag = "5")]
    pub tracestate: String,
    #[prost(uint32, tag = "6")]
    pub flags: u32,
}

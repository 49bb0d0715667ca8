//! Metrics: aggregation, sketches, protobuf encodings and enhanced Lambda metrics. Must not
//! do I/O: the UDP source feeds it and the intake ships what it produces.

pub mod aggregator;
pub mod encode;
pub mod enhanced;
pub mod pipeline;
pub mod proto;
pub mod sketch;
pub mod usage;

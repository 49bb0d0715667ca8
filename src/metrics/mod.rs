//! Metrics: the DogStatsD grammar, aggregation, sketches, protobuf encoding and enhanced
//! Lambda metrics. Must not do I/O: the UDP listener feeds it and the intake ships the payloads
//! it encodes.

pub mod aggregator;
pub mod encode;
pub(crate) mod enhanced;
pub mod parse;
pub mod pipeline;
pub mod proto;
pub(crate) mod sketch;
pub mod usage;

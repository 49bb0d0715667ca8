//! Metrics: aggregation, sketches, encodings and enhanced Lambda metrics.
pub mod sketch;

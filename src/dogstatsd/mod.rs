//! The DogStatsD listener: the UDP server that hands datagrams to the metrics pipeline (which
//! parses them with `metrics::parse` and aggregates). Must not parse or aggregate itself.

pub mod server;

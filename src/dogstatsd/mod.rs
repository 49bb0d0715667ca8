//! DogStatsD source: the datagram grammar (pure, allocation-free parsing) and the UDP server
//! that feeds parsed metrics into the aggregator and events/service checks into their queue.
//! Must not aggregate: that is `metrics/`'s job.

pub mod parse;
pub mod server;

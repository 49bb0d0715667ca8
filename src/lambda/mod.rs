//! Lambda's APIs as the extension sees them: the Extensions API client, the Telemetry API
//! subscription and listener, and the serde types of both. Must not interpret events beyond
//! decoding them; pipelines and the invocation tracker do that.

pub mod client;
pub mod events;
pub(crate) mod listener;

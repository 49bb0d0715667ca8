//! Fuzzes the whole DogStatsD path: datagram → lines → parser → aggregator → flush →
//! protobuf payloads. Any panic is a bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run dogstatsd`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tandem::metrics::pipeline::MetricsPipeline;

static PIPELINE: OnceLock<MetricsPipeline> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let pipeline = PIPELINE.get_or_init(|| {
        let config = tandem::config::Config::load(&tandem::config::source::Source::default()).0;
        MetricsPipeline::new(&config, vec!["functionname:fuzz".into()])
    });
    pipeline.ingest_packet(data, 1_700_000_000);
    if pipeline.live_contexts() > 256 {
        let batch = pipeline.take();
        let _ = tandem::metrics::encode::payloads(batch);
    }
});

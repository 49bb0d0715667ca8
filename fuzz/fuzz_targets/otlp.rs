//! Fuzzes the OTLP receivers' path: body (protobuf or JSON, maybe gzip) → OTLP messages →
//! Datadog's mapping → the pipelines → intake encoding. Any panic is a bug.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run otlp`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tandem::fuzzing::otlp(data);
});

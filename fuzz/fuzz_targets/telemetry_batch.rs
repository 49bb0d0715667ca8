//! Fuzzes `tandem::fuzzing::telemetry_batch` (see that function for the path it drives). Any panic is a
//! bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run telemetry_batch corpus/telemetry_batch seeds/telemetry_batch`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tandem::fuzzing::telemetry_batch(data));

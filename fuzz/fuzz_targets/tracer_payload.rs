//! Fuzzes `tandem::fuzzing::tracer_payload` (see that function for the path it drives). Any panic is a
//! bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tracer_payload corpus/tracer_payload seeds/tracer_payload`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tandem::fuzzing::tracer_payload(data));

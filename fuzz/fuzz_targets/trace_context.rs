//! Fuzzes `tandem::fuzzing::trace_context` (see that function for the path it drives). Any panic is a
//! bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run trace_context corpus/trace_context seeds/trace_context`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tandem::fuzzing::trace_context(data));

//! Fuzzes `tandem::fuzzing::lifecycle_event` (see that function for the path it drives). Any panic is a
//! bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run lifecycle_event corpus/lifecycle_event seeds/lifecycle_event`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tandem::fuzzing::lifecycle_event(data));

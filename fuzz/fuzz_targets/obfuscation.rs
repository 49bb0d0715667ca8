//! Fuzzes `tandem::fuzzing::obfuscation` (see that function for the path it drives). Any panic is a
//! bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run obfuscation corpus/obfuscation seeds/obfuscation`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tandem::fuzzing::obfuscation(data));

//! `cargo fuzz run virtual_se crates/fuzzing/corpus/virtual_se`: see `provisio_fuzzing::virtual_se`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::virtual_se(data));

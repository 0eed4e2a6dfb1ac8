//! `cargo fuzz run jws crates/fuzzing/corpus/jws`: see `provisio_fuzzing::jws`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::jws(data));

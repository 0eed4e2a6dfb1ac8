//! `cargo fuzz run apdu crates/fuzzing/corpus/apdu`: see `provisio_fuzzing::apdu`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::apdu(data));

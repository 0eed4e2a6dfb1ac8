//! `cargo fuzz run request_json crates/fuzzing/corpus/request_json`: see `provisio_fuzzing::request_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::request_json(data));

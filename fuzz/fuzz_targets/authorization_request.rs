//! `cargo fuzz run authorization_request crates/fuzzing/corpus/authorization_request`: see `provisio_fuzzing::authorization_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::authorization_request(data));

//! `cargo fuzz run jwe crates/fuzzing/corpus/jwe`: see `provisio_fuzzing::jwe`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::jwe(data));

//! `cargo fuzz run scp03_unwrap crates/fuzzing/corpus/scp03_unwrap`: see `provisio_fuzzing::scp03_unwrap`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::scp03_unwrap(data));

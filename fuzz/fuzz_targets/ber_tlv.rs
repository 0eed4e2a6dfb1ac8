//! `cargo fuzz run ber_tlv crates/fuzzing/corpus/ber_tlv`: see `provisio_fuzzing::ber_tlv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisio_fuzzing::ber_tlv(data));

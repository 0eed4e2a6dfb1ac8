//! Every target on proptest-generated inputs, on stable and bounded: arbitrary bytes, and
//! mutations of the corpus's valid seeds (bit flips, truncations, insertions, deletions,
//! repeats), the mutations libFuzzer makes first. A target's panic fails the case, and
//! proptest shrinks it to a small input; add that input to the corpus (CONTRIBUTING.md,
//! "Fuzzing").
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases per target and strategy: together about 8,000 inputs, a few seconds.
const CASES: u32 = 512;

fn config() -> Config {
    Config {
        cases: CASES,
        // Failures are reported, not written into the shared source tree; a found input
        // belongs in the corpus, by hand.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// The valid seeds of `target`, the starting points of the mutations.
fn valid_seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus/{target}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("valid-")
        })
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "corpus/{target} has no valid seed");
    seeds.into_iter().map(|(_, b)| b).collect()
}

/// One edit, at a position taken modulo the input's length.
#[derive(Debug, Clone)]
enum Edit {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Repeat(usize, usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        2 => (any::<usize>(), prop_oneof![Just(0u8), Just(0xFF), Just(0x80), Just(b'.'), Just(b'"'), any::<u8>()])
            .prop_map(|(i, v)| Edit::SetByte(i, v)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<usize>(), 1usize..8, 2u8..6).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::FlipBit(i, b) => {
                if let Some(x) = data.get_mut(i % len) {
                    *x ^= 1 << b;
                }
            }
            Edit::SetByte(i, v) => {
                if let Some(x) = data.get_mut(i % len) {
                    *x = *v;
                }
            }
            Edit::Truncate(i) => data.truncate(i % len),
            Edit::Insert(i, v) => {
                let at = (i % len).min(data.len());
                data.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = (i % len).min(data.len());
                let end = (at + n).min(data.len());
                data.drain(at..end);
            }
            Edit::Repeat(i, n, k) => {
                let at = (i % len).min(data.len());
                let end = (at + n).min(data.len());
                let chunk = data[at..end].to_vec();
                for _ in 1..*k {
                    data.splice(end..end, chunk.iter().copied());
                }
            }
        }
    }
    data
}

macro_rules! target_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                proptest! {
                    #![proptest_config(config())]

                    #[test]
                    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
                        provisio_fuzzing::$name(&data);
                    }

                    #[test]
                    fn mutated_valid_seeds(
                        pick in any::<prop::sample::Index>(),
                        edits in proptest::collection::vec(edit(), 1..4),
                    ) {
                        let seeds = valid_seeds(stringify!($name));
                        let seed = pick.get(&seeds).clone();
                        provisio_fuzzing::$name(&apply(seed, &edits));
                    }
                }
            }
        )*
    };
}

target_tests!(
    apdu,
    ber_tlv,
    scp03_unwrap,
    virtual_se,
    jwe,
    jws,
    request_json,
    authorization_request,
);

/// The edits do what they say, so a mutation test cannot silently feed the seed unchanged.
#[test]
fn edits_change_the_input() {
    let seed = b"abcdef".to_vec();
    assert_eq!(apply(seed.clone(), &[Edit::FlipBit(0, 0)]), b"`bcdef");
    assert_eq!(apply(seed.clone(), &[Edit::Truncate(3)]), b"abc");
    assert_eq!(
        apply(seed.clone(), &[Edit::Insert(1, vec![b'X'])]),
        b"aXbcdef"
    );
    assert_eq!(apply(seed.clone(), &[Edit::Delete(1, 2)]), b"adef");
    assert_eq!(apply(seed, &[Edit::Repeat(0, 2, 3)]), b"abababcdef");
}

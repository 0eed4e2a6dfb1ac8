//! The checked-in corpus replayed on stable: every seed of `corpus/<target>/` through its
//! target, and the valid seeds checked to be accepted by the real parsers (so that the
//! mutations of them in `mutations.rs` and under libFuzzer reach past the first check).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use provisio_fuzzing::TARGETS;
use provisio_fuzzing::fixture::*;

/// At least this many seeds per target ("a few dozen").
const MIN_SEEDS: usize = 20;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The seeds of `target`, sorted by name. A missing or empty directory fails the test.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir().join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus/{target} is missing ({e}): every target has seeds"));
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(target).join(name))
        .unwrap_or_else(|e| panic!("corpus/{target}/{name}: {e}"))
}

#[test]
fn every_seed_passes_its_target() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (target, run) in TARGETS {
        let seeds = seeds(target);
        assert!(
            seeds.len() >= MIN_SEEDS,
            "corpus/{target} has {} seeds, fewer than {MIN_SEEDS}",
            seeds.len()
        );
        assert!(
            seeds.iter().any(|(name, _)| name.starts_with("valid-")),
            "corpus/{target} has no valid seed to mutate"
        );
        for (name, bytes) in &seeds {
            total += 1;
            if catch_unwind(AssertUnwindSafe(|| run(bytes))).is_err() {
                failures.push(format!("{target}/{name}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seeds that break an invariant: {failures:?}"
    );
    assert!(total >= MIN_SEEDS * TARGETS.len());
}

/// The corpus, the target list and `fuzz/fuzz_targets/` name the same targets, so a new
/// target cannot be added to one and forgotten in the others.
#[test]
fn corpus_targets_and_fuzz_targets_agree() {
    let names: BTreeSet<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    let dirs: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs, names, "corpus/ directories");
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let files: BTreeSet<String> = std::fs::read_dir(fuzz.join("fuzz_targets"))
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.trim_end_matches(".rs").to_owned()
        })
        .collect();
    assert_eq!(files, names, "fuzz/fuzz_targets/");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    for name in &names {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}

#[test]
fn valid_apdus_parse() {
    for (name, bytes) in seeds("apdu") {
        if name.starts_with("valid-response") {
            assert!(provisio_gp::Response::parse(&bytes).is_ok(), "{name}");
        } else if name.starts_with("valid-") {
            assert!(provisio_gp::Command::parse(&bytes).is_ok(), "{name}");
        }
    }
}

#[test]
fn valid_tlv_parses() {
    for (name, bytes) in seeds("ber_tlv") {
        if name.starts_with("valid-") && name != "valid-dgis" && !name.contains("initialize") {
            assert!(provisio_gp::tlv::Tlv::parse_all(&bytes).is_ok(), "{name}");
        }
    }
    let dgis = seed("ber_tlv", "valid-dgis");
    assert_eq!(
        provisio_gp::command::Dgi::parse_all(&dgis).unwrap().len(),
        2
    );
    let iu = seed("ber_tlv", "valid-initialize-update-response");
    let iu = provisio_gp::scp03::InitUpdateResponse::parse(&iu).unwrap();
    assert_eq!(iu.sequence_counter, Some(SCP03_COUNTER));
}

#[test]
fn valid_wrapped_commands_unwrap_on_the_fixed_session() {
    let mut n = 0;
    for (name, bytes) in seeds("scp03_unwrap") {
        if name.starts_with("valid-wrapped-") {
            let (_, mut card) = scp03_session();
            let cmd = provisio_gp::Command::parse(&bytes).unwrap();
            card.unwrap(cmd).unwrap_or_else(|e| panic!("{name}: {e}"));
            n += 1;
        }
    }
    assert!(n >= 10, "{n} wrapped commands");
    let (host, _) = scp03_session();
    let resp = provisio_gp::Response::parse(&seed("scp03_unwrap", "valid-response-wrapped"));
    assert_eq!(host.unwrap(resp.unwrap()).unwrap().data, vec![0x61; 20]);
}

#[test]
fn the_valid_session_seed_opens_a_session_on_the_element() {
    let bytes = seed("virtual_se", "valid-session");
    let level = provisio_gp::scp03::SecurityLevel::from_byte(0x03).unwrap();
    let mut se = provisio_se::VirtualSe::new(scp03_keys(), SCP03_DIVERSIFICATION, level);
    let mut rest = bytes.as_slice();
    let mut answers = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let (apdu, tail) = tail.split_at(usize::from(len));
        answers.push(se.transmit(apdu));
        rest = tail;
    }
    assert_eq!(answers.len(), 4);
    for (i, a) in answers.iter().enumerate() {
        assert!(a.ends_with(&[0x90, 0x00]), "answer {i}: {}", hex::encode(a));
    }
}

#[test]
fn the_valid_push_jwe_is_accepted_by_the_core() {
    let jwe = String::from_utf8(seed("jwe", "valid-push")).unwrap();
    let opened = provisio_tsp::open(crypto(), tsp_keys(), &jwe).unwrap();
    assert_eq!(opened.claimed_issuer(), ISSUER_ID);
    let accepted = opened
        .verify(crypto(), ISSUER_KID, issuer_key().public_key())
        .unwrap()
        .accept(&provisio_tsp::AcceptContext {
            tsp_id: TSP_ID,
            caller_trid: TRID,
            session_id: SESSION_ID,
            wallet_user_id: WALLET_USER_ID,
            device_id: DEVICE_ID,
            now: NOW,
            window_s: WINDOW_S,
        })
        .unwrap();
    assert_eq!(accepted.pan.expose(), PAN);
}

#[test]
fn the_valid_jws_verifies() {
    let jws = String::from_utf8(seed("jws", "valid-claims")).unwrap();
    let v = provisio_jose::verify_with_key(crypto(), &jws, issuer_key().public_key()).unwrap();
    assert_eq!(v.header.kid.as_deref(), Some(ISSUER_KID));
}

#[test]
fn the_valid_request_bodies_parse() {
    provisio_tsp::PushRequest::parse(&seed("request_json", "valid-push")).unwrap();
    provisio_tsp::WalletRequest::parse(&seed("request_json", "valid-wallet")).unwrap();
}

#[test]
fn the_valid_authorization_requests_parse() {
    for (name, bytes) in seeds("authorization_request") {
        if name.starts_with("valid-") && name != "valid-terminal-bytes" {
            let req: provisio_tsp::payment_wire::AuthorizationRequest =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            provisio_tsp::Authorization::parse(&req).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

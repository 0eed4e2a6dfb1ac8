//! Fuzz targets for every parser a peer's bytes reach, and the invariants that hold for any
//! input (issue 26, docs/protocol.md §4):
//!
//! - no panic;
//! - a refusal is the crate's typed error, told by its stable code where the crate has one,
//!   and it is never "our side failed" (`internal_error`, `JoseError::Internal`) for bytes
//!   the peer chose;
//! - whatever parses re-encodes to a value that parses back to itself, `parse(encode(x)) ==
//!   x`, where the parser has an encoder;
//! - no secret of the fixture (its PAN, a card-shaped digit run of the input, a token PAN, a
//!   cryptogram) reaches an error message or a `Debug` output.
//!
//! ```text
//!  libFuzzer (fuzz/, nightly) ─┐
//!  corpus replay (stable) ─────┼─► target(&[u8]) ─► real parser(s) ─► assert invariants
//!  proptest mutations ─────────┘
//! ```
//!
//! Each target is `pub fn name(data: &[u8])` and panics only when an invariant breaks. The
//! keys and identities the targets use are fixed ([`fixture`]), so the checked-in seeds under
//! `corpus/<target>/` stay valid across runs. See CONTRIBUTING.md, "Fuzzing".

// A target reports a broken invariant by panicking: that is what libFuzzer and the test
// harness catch. Only the targets' own assertions panic; the parsers under test must not.
#![allow(clippy::panic)]

mod apdu;
mod authorization;
mod ber_tlv;
pub mod fixture;
mod jwe;
mod jws;
mod request_json;
mod scp03;
mod secrets;
mod virtual_se;

pub use apdu::apdu;
pub use authorization::authorization_request;
pub use ber_tlv::ber_tlv;
pub use jwe::jwe;
pub use jws::jws;
pub use request_json::request_json;
pub use scp03::scp03_unwrap;
pub use virtual_se::virtual_se;

/// A target: bytes in, a panic if an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and `corpus/<name>/` name it.
pub const TARGETS: &[(&str, Target)] = &[
    ("apdu", apdu),
    ("ber_tlv", ber_tlv),
    ("scp03_unwrap", scp03_unwrap),
    ("virtual_se", virtual_se),
    ("jwe", jwe),
    ("jws", jws),
    ("request_json", request_json),
    ("authorization_request", authorization_request),
];

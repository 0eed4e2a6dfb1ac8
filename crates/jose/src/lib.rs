//! The JOSE subset Provisio speaks, and nothing more.
//!
//! - JWS compact serialization with ES256 (RFC 7515, RFC 7518 section 3.4);
//! - JWE compact serialization with `ECDH-ES+A256KW` or `ECDH-ES` key management and
//!   `A256GCM` content encryption (RFC 7516, RFC 7518 sections 4.6 and 5.3);
//! - JWK for EC P-256 public keys (RFC 7517, RFC 7518 section 6.2).
//!
//! The header policy is strict, as RFC 8725 (JWT best current practices) recommends: the
//! caller names the algorithms it accepts and anything else is refused before any
//! cryptography runs; `alg: none`, `zip`, any `crit` extension, `jku`/`jwk`/`x5u` key
//! references, duplicate header members and keys off the curve are all refused.
//!
//! ```text
//!  issuer app                       token service
//!  claims ─► JWS(ES256, issuer key) ─► JWE(ECDH-ES+A256KW/A256GCM, TSP enc key) ─► wallet ─►
//!            decrypt (kid picks TSP key) ─► verify (kid picks issuer key) ─► claims
//! ```

mod b64;
mod concat_kdf;
mod error;
mod header;
mod jwe;
mod jwk;
mod jws;

pub use b64::{b64_decode, b64_encode};
pub use concat_kdf::concat_kdf;
pub use error::JoseError;
pub use header::{Header, KeyManagement};
pub use jwe::{Decrypted, EncryptOptions, decrypt, encrypt};
pub use jwk::{Jwk, JwkSet, KeyUse};
pub use jws::{Verified, sign, verify, verify_with_key};

//! Cryptography for Provisio.
//!
//! Protocol cores never call a cryptographic library directly: they take a
//! [`CryptoProvider`] parameter, so the same core runs with the aws-lc-rs software provider
//! ([`AwsLcProvider`]), with an HSM-backed provider, or in the simulator.
//!
//! Key bytes live only in this crate. Private keys are [`EcKeyPair`] values that other crates
//! can use but not read; they leave this crate only sealed under a key-encryption key
//! ([`EcKeyPair::seal`]). Symmetric secrets travel as [`SecretBytes`], which zeroizes on drop
//! and prints as `SecretBytes([REDACTED; n])`.

mod aes_key;
mod aws_lc;
mod ct;
mod ec;
mod error;
mod provider;
mod secret;

pub use aes_key::{AES_BLOCK, AesKey};
pub use aws_lc::AwsLcProvider;
pub use ct::ct_eq;
pub use ec::{EcKeyPair, EcPublicKey, P256_COORDINATE_LEN};
pub use error::CryptoError;
pub use provider::CryptoProvider;
pub use secret::SecretBytes;

//! The interface protocol cores use for every cryptographic operation.

use crate::{CryptoError, EcKeyPair, EcPublicKey, SecretBytes};

/// Every cryptographic operation a Provisio core needs, and nothing else.
///
/// Algorithms are fixed by the protocol (docs/protocol.md §13.1): EC P-256 for ECDH and
/// ECDSA (ES256, RFC 7518 section 3.4), AES-256-GCM, AES key wrap (RFC 3394), SHA-256 and
/// HMAC-SHA-256. Implementations must be usable from many threads at once.
pub trait CryptoProvider: Send + Sync {
    /// Fills `out` from a cryptographically secure random source.
    fn fill_random(&self, out: &mut [u8]) -> Result<(), CryptoError>;

    /// Generates a new P-256 private key.
    fn generate_ec_key(&self) -> Result<EcKeyPair, CryptoError>;

    /// ECDH: the shared secret `Z` (the x coordinate, 32 bytes) of `key` and `peer`.
    fn ecdh(&self, key: &EcKeyPair, peer: &EcPublicKey) -> Result<SecretBytes, CryptoError>;

    /// ECDH with a fresh ephemeral key: returns the ephemeral public key and `Z`.
    fn ecdh_ephemeral(&self, peer: &EcPublicKey)
    -> Result<(EcPublicKey, SecretBytes), CryptoError>;

    /// ES256: an ECDSA P-256 SHA-256 signature as `r || s`, 64 bytes (RFC 7518 section 3.4).
    fn sign_es256(&self, key: &EcKeyPair, message: &[u8]) -> Result<[u8; 64], CryptoError>;

    /// Verifies an ES256 signature (`r || s`, 64 bytes) over `message`.
    fn verify_es256(
        &self,
        key: &EcPublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError>;

    /// AES-256-GCM encryption; returns the ciphertext and the 16-byte tag separately.
    fn aes256_gcm_seal(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, [u8; 16]), CryptoError>;

    /// AES-256-GCM decryption; fails with [`CryptoError::AuthenticationFailed`] on any
    /// tampering.
    fn aes256_gcm_open(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes, CryptoError>;

    /// AES key wrap (RFC 3394) of `key` under the 256-bit `kek`.
    fn aes_kw_wrap(&self, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// AES key unwrap (RFC 3394); fails on a wrong KEK or any tampering.
    fn aes_kw_unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError>;

    /// SHA-256 over the concatenation of `parts`.
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32];

    /// HMAC-SHA-256 (RFC 2104) of `data` under `key`.
    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32];
}

//! Random identifiers.

use provisio_crypto::{CryptoError, CryptoProvider};

/// `prefix` followed by 128 random bits in base64url: unguessable, URL-safe ids.
pub fn random_id(crypto: &dyn CryptoProvider, prefix: &str) -> Result<String, CryptoError> {
    let mut bytes = [0u8; 16];
    crypto.fill_random(&mut bytes)?;
    Ok(format!("{prefix}{}", provisio_jose::b64_encode(&bytes)))
}

//! Secrets sealed under a TSM's master key (AES-256-GCM, the row's identity as associated
//! data, so a sealed value cannot be moved to another row): nonce ‖ ciphertext ‖ tag.

use provisio_crypto::{CryptoProvider, SecretBytes};
use provisio_gp::scp03::StaticKeys;

use crate::ApiError;

/// Seals `plain`.
pub(crate) fn seal(
    crypto: &dyn CryptoProvider,
    master: &SecretBytes,
    plain: &[u8],
    aad: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut nonce = [0u8; 12];
    crypto
        .fill_random(&mut nonce)
        .map_err(|e| ApiError::internal(&e))?;
    let (ct, tag) = crypto
        .aes256_gcm_seal(master.expose(), &nonce, aad.as_bytes(), plain)
        .map_err(|e| ApiError::internal(&e))?;
    Ok([nonce.as_slice(), &ct, &tag].concat())
}

/// Opens [`seal`].
pub(crate) fn open(
    crypto: &dyn CryptoProvider,
    master: &SecretBytes,
    sealed: &[u8],
    aad: &str,
) -> Result<SecretBytes, ApiError> {
    let corrupt = || ApiError::internal(&"sealed value is malformed");
    let (nonce, rest) = sealed.split_at_checked(12).ok_or_else(corrupt)?;
    let (ct, tag) = rest
        .split_at_checked(rest.len().saturating_sub(16))
        .ok_or_else(corrupt)?;
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
    crypto
        .aes256_gcm_open(master.expose(), &nonce, aad.as_bytes(), ct, tag)
        .map_err(|e| ApiError::internal(&e))
}

/// Seals a key set: KVN ‖ K-ENC ‖ K-MAC ‖ K-DEK.
pub(crate) fn seal_keys(
    crypto: &dyn CryptoProvider,
    master: &SecretBytes,
    keys: &StaticKeys,
    aad: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut plain = zeroize::Zeroizing::new(vec![keys.kvn]);
    for k in [&keys.enc, &keys.mac, &keys.dek] {
        plain.extend_from_slice(k.export().expose());
    }
    seal(crypto, master, &plain, aad)
}

/// Opens [`seal_keys`].
pub(crate) fn open_keys(
    crypto: &dyn CryptoProvider,
    master: &SecretBytes,
    sealed: &[u8],
    aad: &str,
) -> Result<StaticKeys, ApiError> {
    let plain = open(crypto, master, sealed, aad)?;
    let (kvn, keys) = plain
        .expose()
        .split_first()
        .ok_or_else(|| ApiError::internal(&"sealed key set is empty"))?;
    let n = keys.len() / 3;
    let (enc, rest) = keys.split_at(n);
    let (mac, dek) = rest.split_at(n);
    StaticKeys::from_bytes(*kvn, enc, mac, dek).map_err(|e| ApiError::internal(&e))
}

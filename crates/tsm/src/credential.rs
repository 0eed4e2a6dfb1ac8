//! The token credential the token service hands to the issuer's TSM for personalisation: a
//! JWE (ECDH-ES+A256KW, A256GCM) to the SP-TSM's key, so only the SP-TSM (and, after STORE
//! DATA under its domain's DEK, the element) ever sees it.

use std::fmt;

use provisio_crypto::{CryptoProvider, EcKeyPair, EcPublicKey};
use provisio_jose::{EncryptOptions, KeyManagement};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::TsmError;

/// `cty` of the credential JWE.
pub const CREDENTIAL_CTY: &str = "provisio-token-credential+json";

/// A token and its device-bound cryptogram key.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credential {
    /// The token PAN.
    pub token_pan: String,
    /// Expiry year (four digits).
    pub exp_year: u16,
    /// Expiry month.
    pub exp_month: u8,
    /// The AES-128 cryptogram key, base64url.
    pub cryptogram_key: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential").finish_non_exhaustive()
    }
}

/// Seals `credential` for the SP-TSM's key.
pub fn seal_credential(
    crypto: &dyn CryptoProvider,
    recipient: &EcPublicKey,
    credential: &Credential,
) -> Result<String, TsmError> {
    let json = Zeroizing::new(serde_json::to_vec(credential).map_err(|_| TsmError::Handover)?);
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEsA256Kw,
        kid: None,
        cty: Some(CREDENTIAL_CTY),
    };
    provisio_jose::encrypt(crypto, recipient, &options, &json).map_err(|_| TsmError::Handover)
}

/// Opens a credential with the SP-TSM's key.
pub fn open_credential(
    crypto: &dyn CryptoProvider,
    key: &EcKeyPair,
    jwe: &str,
) -> Result<Credential, TsmError> {
    let opened = provisio_jose::decrypt(crypto, jwe, &[KeyManagement::EcdhEsA256Kw], |_| Some(key))
        .map_err(|_| TsmError::Handover)?;
    serde_json::from_slice(opened.plaintext.expose()).map_err(|_| TsmError::Handover)
}

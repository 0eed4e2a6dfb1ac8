//! What the SEI-TSM's handlers share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use provisio_crypto::{AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_gp::scp03::StaticKeys;
use provisio_store::TsmStore;
use provisio_tsm::AdminSession;

use crate::{ApiError, Clock};

/// The SEI-TSM's state.
#[derive(Clone)]
pub struct SeiState {
    pub(crate) store: Arc<dyn TsmStore>,
    pub(crate) crypto: Arc<AwsLcProvider>,
    master: Arc<SecretBytes>,
    pub(crate) admin_hash: [u8; 32],
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sessions: Arc<Mutex<HashMap<String, LiveSession>>>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

/// A running admin session and what it serves.
pub(crate) struct LiveSession {
    pub(crate) sp_id: String,
    pub(crate) request_id: String,
    pub(crate) se_id: String,
    pub(crate) session: AdminSession,
}

impl SeiState {
    /// State over `store`; `master` (32 bytes) seals the stored keys; `admin_key` is the
    /// operator's API key.
    pub fn new(
        store: Arc<dyn TsmStore>,
        master: SecretBytes,
        admin_key: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let crypto = Arc::new(AwsLcProvider::new());
        let admin_hash = crate::hash_api_key(crypto.as_ref(), admin_key);
        Self {
            store,
            crypto,
            master: Arc::new(master),
            admin_hash,
            clock,
            sessions: Arc::new(Mutex::new(HashMap::new())),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Seals a key set under the master key: nonce ‖ ciphertext ‖ tag, bound to `aad`.
    pub(crate) fn seal_keys(&self, keys: &StaticKeys, aad: &str) -> Result<Vec<u8>, ApiError> {
        let mut plain = zeroize::Zeroizing::new(vec![keys.kvn]);
        for k in [&keys.enc, &keys.mac, &keys.dek] {
            plain.extend_from_slice(k.export().expose());
        }
        let mut nonce = [0u8; 12];
        self.crypto
            .fill_random(&mut nonce)
            .map_err(|e| ApiError::internal(&e))?;
        let (ct, tag) = self
            .crypto
            .aes256_gcm_seal(self.master.expose(), &nonce, aad.as_bytes(), &plain)
            .map_err(|e| ApiError::internal(&e))?;
        Ok([nonce.as_slice(), &ct, &tag].concat())
    }

    /// Opens [`SeiState::seal_keys`].
    pub(crate) fn open_keys(&self, sealed: &[u8], aad: &str) -> Result<StaticKeys, ApiError> {
        let corrupt = || ApiError::internal(&"sealed key set is malformed");
        let (nonce, rest) = sealed.split_at_checked(12).ok_or_else(corrupt)?;
        let (ct, tag) = rest
            .split_at_checked(rest.len().saturating_sub(16))
            .ok_or_else(corrupt)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        let plain = self
            .crypto
            .aes256_gcm_open(self.master.expose(), &nonce, aad.as_bytes(), ct, tag)
            .map_err(|e| ApiError::internal(&e))?;
        let (kvn, keys) = plain.expose().split_first().ok_or_else(corrupt)?;
        let n = keys.len() / 3;
        let (enc, rest) = keys.split_at(n);
        let (mac, dek) = rest.split_at(n);
        StaticKeys::from_bytes(*kvn, enc, mac, dek).map_err(|e| ApiError::internal(&e))
    }
}

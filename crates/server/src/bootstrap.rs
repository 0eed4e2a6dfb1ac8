//! Starting a server instance: the key set (made on first start, shared by every instance on
//! the same database) and the admin API key.

use std::sync::Arc;

use provisio_crypto::{CryptoProvider, SecretBytes};
use provisio_store::{Store, StoreError};
use provisio_tsp::{TspConfig, TspKeys};

use crate::{AppState, Clock};

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The stored keys do not open under this master key.
    #[error(
        "the stored keys cannot be unsealed with this master key (PROVISIO_MASTER_KEY differs from the one that sealed them)"
    )]
    WrongMasterKey,
    /// The crypto provider failed.
    #[error("key generation failed")]
    Crypto,
}

/// Loads (or on first start creates) the key set, registers the admin key, and returns the
/// state for [`crate::router`].
pub async fn bootstrap(
    store: Arc<dyn Store>,
    master_key: &SecretBytes,
    admin_api_key: &str,
    config: TspConfig,
    clock: Arc<dyn Clock>,
) -> Result<AppState, BootstrapError> {
    let crypto = provisio_crypto::AwsLcProvider::new();
    let now = clock.now();
    let mut stored = store.load_keys().await?;
    if stored.is_empty() {
        let (_, fresh) =
            TspKeys::generate(&crypto, master_key, now).map_err(|_| BootstrapError::Crypto)?;
        // Another instance may win the race; `init_keys` returns whichever set is stored.
        stored = store.init_keys(&fresh).await?;
        tracing::info!("generated the token service key set");
    }
    let keys = TspKeys::from_stored(&crypto, master_key, &stored)
        .map_err(|_| BootstrapError::WrongMasterKey)?;
    store
        .ensure_admin_key(&hash_api_key(&crypto, admin_api_key), now)
        .await?;
    Ok(AppState::new(store, keys, config, clock))
}

/// A new API key: `pvk_` and 256 random bits, base64url.
pub fn new_api_key(crypto: &dyn CryptoProvider) -> Result<String, provisio_crypto::CryptoError> {
    let mut bytes = [0u8; 32];
    crypto.fill_random(&mut bytes)?;
    Ok(format!("pvk_{}", provisio_jose::b64_encode(&bytes)))
}

/// The stored form of an API key: SHA-256.
pub fn hash_api_key(crypto: &dyn CryptoProvider, key: &str) -> [u8; 32] {
    crypto.sha256(&[key.as_bytes()])
}

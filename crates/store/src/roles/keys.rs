//! The store's keys role.

use async_trait::async_trait;
use provisio_tsp::StoredKey;

use crate::StoreError;

/// The token service's own keys and the operator's key.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Succeeds once the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Every stored key of the token service.
    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Stores `keys` as the initial key set unless one exists (another instance may have
    /// made it first), and returns the key set that is stored.
    async fn init_keys(&self, keys: &[StoredKey]) -> Result<Vec<StoredKey>, StoreError>;

    /// Registers an admin API key (its hash) unless it is registered already.
    async fn ensure_admin_key(&self, key_hash: &[u8; 32], now: i64) -> Result<(), StoreError>;
}

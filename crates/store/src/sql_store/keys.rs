//! [`crate::KeyStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_tsp::StoredKey;

use super::SqlStore;
use crate::db::participants;
use crate::{KeyStore, StoreError};

#[async_trait]
impl KeyStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.batch("SELECT 1")?)).await
    }

    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        self.read(participants::load_keys).await
    }

    async fn init_keys(&self, keys: &[StoredKey]) -> Result<Vec<StoredKey>, StoreError> {
        let keys = keys.to_vec();
        self.write(move |c| participants::init_keys(c, &keys))
            .await?;
        self.load_keys().await
    }

    async fn ensure_admin_key(&self, key_hash: &[u8; 32], now: i64) -> Result<(), StoreError> {
        let hash = *key_hash;
        self.write(move |c| participants::ensure_admin_key(c, &hash, now))
            .await
    }
}

//! [`crate::PaymentStore`] on [`SqlStore`]. An authorisation is one write of the group commit
//! on both databases: its token is read, the core decides and the outcome is recorded in the
//! batch's transaction, so a request crosses to the store once; a batch's records are one
//! insert, sorted by token and ATC so that writers never deadlock on each other's keys.

use async_trait::async_trait;

use super::SqlStore;
use crate::db::payments;
use crate::{Decide, Decided, IdempotencyRecord, NetworkRecord, PaymentStore, StoreError};

#[async_trait]
impl PaymentStore for SqlStore {
    async fn create_network(
        &self,
        network: &NetworkRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let (network, hash, idem) = (network.clone(), *api_key_hash, idempotency.cloned());
        self.write(move |c| payments::create_network(c, &network, &hash, idem.as_ref()))
            .await
    }

    async fn authorize(
        &self,
        token_pan_hash: &[u8; 32],
        decide: Decide,
    ) -> Result<Decided, StoreError> {
        self.writer.authorize(*token_pan_hash, decide).await
    }
}

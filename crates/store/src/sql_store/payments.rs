//! [`crate::PaymentStore`] on [`SqlStore`]: each method one job on a store thread.
//! Authorisations go through the group commit on both databases: a batch's approvals are one
//! insert, sorted by token and ATC so that writers never deadlock on each other's keys.

use async_trait::async_trait;
use provisio_tsp::Recorded;
use provisio_tsp::{NewAuthorization, PayingToken};

use super::SqlStore;
use crate::db::payments;
use crate::{IdempotencyRecord, NetworkRecord, PaymentStore, StoreError};

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

    async fn paying_token(
        &self,
        token_pan_hash: &[u8; 32],
    ) -> Result<Option<PayingToken>, StoreError> {
        let hash = *token_pan_hash;
        self.read(move |c| payments::paying_token(c, &hash)).await
    }

    async fn record_authorization(
        &self,
        authorization: &NewAuthorization,
    ) -> Result<Recorded, StoreError> {
        let a = authorization.clone();
        self.writer.commit_authorization(a).await
    }
}

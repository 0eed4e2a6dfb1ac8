//! [`crate::ProvisioningStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_risk::Signals;
use provisio_tsp::records::NewProvisioning;

use super::SqlStore;
use crate::db::{facts, provisioning, risk, tokens};
use crate::{
    IdempotencyRecord, ProvisioningStore, PushFacts, PushFactsQuery, SignalQuery, StoreError,
    TokenRecord,
};

#[async_trait]
impl ProvisioningStore for SqlStore {
    async fn load_push_facts(&self, q: &PushFactsQuery) -> Result<PushFacts, StoreError> {
        let q = q.clone();
        self.read(move |c| facts::push(c, &q)).await
    }

    async fn commit_provisioning(
        &self,
        provisioning: &NewProvisioning,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.writer
            .commit_provisioning(provisioning.clone(), idempotency.cloned())
            .await
    }

    async fn import_provisionings(&self, batch: &[NewProvisioning]) -> Result<(), StoreError> {
        let batch = batch.to_vec();
        self.write(move |c| {
            let items: Vec<_> = batch.iter().map(|p| (p, None)).collect();
            provisioning::insert_many(c, &items)
        })
        .await
    }

    async fn token(&self, token_ref_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let id = str::to_owned(token_ref_id);
        self.read(move |c| tokens::token(c, &id)).await
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        self.read(provisioning::count_tokens).await
    }

    async fn count_tokens_by_pan_hash(&self, pan_hash: &[u8; 32]) -> Result<u64, StoreError> {
        let hash = *pan_hash;
        self.read(move |c| provisioning::count_tokens_by_pan_hash(c, &hash))
            .await
    }

    async fn risk_signals(&self, q: &SignalQuery) -> Result<Signals, StoreError> {
        let q = q.clone();
        self.read(move |c| risk::signals(c, &q)).await
    }
}

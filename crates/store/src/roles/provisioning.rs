//! The store's provisioning role.

use async_trait::async_trait;
use provisio_risk::Signals;
use provisio_tsp::records::NewProvisioning;

use crate::{IdempotencyRecord, PushFacts, PushFactsQuery, SignalQuery, StoreError, TokenRecord};

/// Push provisionings and their tokens.
#[async_trait]
pub trait ProvisioningStore: Send + Sync + 'static {
    /// Everything the push core needs for one request, read in one go (docs/architecture.md
    /// §4): the idempotent answer, the issuer, the hosted account, the risk signals, the
    /// issuer's TSM.
    async fn load_push_facts(&self, q: &PushFactsQuery) -> Result<PushFacts, StoreError>;

    /// Commits a processed push request, its token and the idempotent answer, atomically.
    /// A reused session id, `jti`, token PAN or idempotency key is a
    /// [`StoreError::Conflict`] and nothing is written.
    async fn commit_provisioning(
        &self,
        provisioning: &NewProvisioning,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// Loads many already-processed provisionings at once (a vault moved from another system,
    /// or `provisio bench push --preload`): one transaction, so a conflict anywhere writes
    /// nothing and is returned as that [`StoreError::Conflict`].
    async fn import_provisionings(&self, batch: &[NewProvisioning]) -> Result<(), StoreError>;

    /// A token by reference id.
    async fn token(&self, token_ref_id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// How many tokens the vault holds.
    async fn count_tokens(&self) -> Result<u64, StoreError>;

    /// How many tokens exist for a funding PAN (by its lookup hash).
    async fn count_tokens_by_pan_hash(&self, pan_hash: &[u8; 32]) -> Result<u64, StoreError>;

    /// The service's risk signals for a request (everything but `trusted_push`).
    async fn risk_signals(&self, q: &SignalQuery) -> Result<Signals, StoreError>;
}

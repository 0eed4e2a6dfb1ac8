//! The store's payments role (docs/protocol.md §16).

use async_trait::async_trait;
use provisio_tsp::Recorded;
use provisio_tsp::{NewAuthorization, PayingToken};

use crate::{IdempotencyRecord, NetworkRecord, StoreError};

/// Payment networks and the authorisations they ask for.
#[async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    /// Registers a payment network with its API key hash, and the idempotent answer if any.
    async fn create_network(
        &self,
        network: &NetworkRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// The token with this token PAN hash (any status), with the highest ATC used for it.
    async fn paying_token(
        &self,
        token_pan_hash: &[u8; 32],
    ) -> Result<Option<PayingToken>, StoreError>;

    /// Records an authorisation, durably, and says how: an attempt that uses up a (token, ATC)
    /// used before (by any instance) is recorded `DECLINED` as `atc_replayed`.
    async fn record_authorization(
        &self,
        authorization: &NewAuthorization,
    ) -> Result<Recorded, StoreError>;
}

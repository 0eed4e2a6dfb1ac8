//! The store's payments role (docs/protocol.md §16).

use async_trait::async_trait;
use provisio_tsp::{Authorized, PayingToken, PaymentError, Recorded};

use crate::{IdempotencyRecord, NetworkRecord, StoreError};

/// The core's decision on the token a token PAN names (none when no token has it), run by the
/// store in the transaction that records it.
pub type Decide = Box<dyn FnOnce(Option<PayingToken>) -> Result<Authorized, PaymentError> + Send>;

/// What an authorisation came to: the core's refusal (its stored data did not open), or its
/// decision with how the store recorded it.
pub type Decided = Result<(Authorized, Recorded), PaymentError>;

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

    /// One authorisation in one transaction: reads the token with this token PAN hash (any
    /// status, with the highest ATC used for it), runs `decide` on it, and records the
    /// outcome durably before returning. An attempt that uses up a (token, ATC) used before
    /// (by any instance) is recorded `DECLINED` as `atc_replayed` ([`Recorded::Replayed`]).
    async fn authorize(
        &self,
        token_pan_hash: &[u8; 32],
        decide: Decide,
    ) -> Result<Decided, StoreError>;
}

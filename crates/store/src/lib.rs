//! Persistence for Provisio.
//!
//! The [`Store`] trait is everything the server needs from a database; [`SqliteStore`] is the
//! embedded default. Each method that writes is one transaction: it commits everything it was
//! given or nothing. Rules that must hold across concurrent requests and server instances
//! (one-time session ids and `jti`s, unique token PANs, idempotency keys) are unique
//! constraints, reported as [`StoreError::Conflict`] naming which one.
//!
//! The store never sees a secret in plaintext: PANs, token PANs and keys arrive sealed, API
//! keys arrive hashed.

mod error;
mod migrate;
mod records;
mod sqlite;

use async_trait::async_trait;
use provisio_tsp::records::NewProvisioning;
use provisio_tsp::StoredKey;

pub use error::{Conflict, StoreError};
pub use migrate::SCHEMA_VERSION;
pub use records::{
    IdempotencyRecord, IssuerRecord, Principal, Role, TokenRecord, TokenRequestorRecord,
};
pub use sqlite::SqliteStore;

/// What the server stores and reads. Implementations must be safe to share between tasks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds once the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Every stored key of the token service.
    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Stores `keys` as the initial key set unless one exists (another instance may have
    /// made it first), and returns the key set that is stored.
    async fn init_keys(&self, keys: &[StoredKey]) -> Result<Vec<StoredKey>, StoreError>;

    /// Registers an admin API key (its hash) unless it is registered already.
    async fn ensure_admin_key(&self, key_hash: &[u8; 32], now: i64) -> Result<(), StoreError>;

    /// Who holds the API key with this hash.
    async fn principal(&self, key_hash: &[u8; 32]) -> Result<Option<Principal>, StoreError>;

    /// Registers an issuer with its API key hash, and the idempotent answer if any.
    async fn create_issuer(
        &self,
        issuer: &IssuerRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// An issuer by id.
    async fn issuer(&self, issuer_id: &str) -> Result<Option<IssuerRecord>, StoreError>;

    /// Registers a token requestor with its API key hash, and the idempotent answer if any.
    async fn create_token_requestor(
        &self,
        requestor: &TokenRequestorRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// The stored answer for an idempotency key of a principal.
    async fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Commits a processed push request, its token and the idempotent answer, atomically.
    /// A reused session id, `jti`, token PAN or idempotency key is a
    /// [`StoreError::Conflict`] and nothing is written.
    async fn commit_provisioning(
        &self,
        provisioning: &NewProvisioning,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// A token by reference id.
    async fn token(&self, token_ref_id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// How many tokens exist for a funding PAN (by its lookup hash).
    async fn count_tokens_by_pan_hash(&self, pan_hash: &[u8; 32]) -> Result<u64, StoreError>;
}

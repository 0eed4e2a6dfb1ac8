//! The store's participants role.

use async_trait::async_trait;

use crate::{
    Decisioning, IdempotencyRecord, IssuerRecord, KbaSourceRecord, ListKind, ListName, Principal,
    SpTsmRecord, StoreError, TokenRequestorRecord,
};

/// Participants: who holds which API key, issuers, token requestors, their settings, and the
/// idempotent answers of their requests.
#[async_trait]
pub trait ParticipantStore: Send + Sync + 'static {
    /// Who holds the API key with this hash.
    async fn principal(&self, key_hash: &[u8; 32]) -> Result<Option<Principal>, StoreError>;

    /// Registers an issuer with its API key hash, and the idempotent answer if any.
    async fn create_issuer(
        &self,
        issuer: &IssuerRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// An issuer by id, with its card ranges.
    async fn issuer(&self, issuer_id: &str) -> Result<Option<IssuerRecord>, StoreError>;

    /// The issuer whose card range is the longest prefix of `pan` (docs/protocol.md §17.1).
    async fn issuer_of_pan(&self, pan: &str) -> Result<Option<IssuerRecord>, StoreError>;

    /// Replaces an issuer's card ranges; `false` when it is not registered. A prefix another
    /// issuer holds is [`crate::Conflict::BinRange`], and nothing changes.
    async fn set_bin_ranges(
        &self,
        issuer_id: &str,
        prefixes: &[String],
    ) -> Result<bool, StoreError>;

    /// Sets whether an issuer's pushes still step up; `false` when it is not registered.
    async fn set_push_step_up(
        &self,
        issuer_id: &str,
        push_step_up: bool,
    ) -> Result<bool, StoreError>;

    /// Sets an issuer's decisioning endpoint; `false` when it is not registered.
    async fn set_decisioning(
        &self,
        issuer_id: &str,
        decisioning: &Decisioning,
    ) -> Result<bool, StoreError>;

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

    /// Adds an allow or block list entry (idempotent).
    async fn add_list_entry(
        &self,
        list: ListName,
        kind: ListKind,
        value: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Registers (or replaces) an issuer's TSM.
    async fn set_sp_tsm(&self, tsm: &SpTsmRecord, now: i64) -> Result<(), StoreError>;

    /// An issuer's TSM, if it has one.
    async fn sp_tsm(&self, issuer_id: &str) -> Result<Option<SpTsmRecord>, StoreError>;

    /// Sets where an issuer's questions come from.
    async fn set_kba_source(
        &self,
        issuer_id: &str,
        source: &KbaSourceRecord,
        now: i64,
    ) -> Result<(), StoreError>;

    /// An issuer's question source (none: the bank).
    async fn kba_source(&self, issuer_id: &str) -> Result<Option<KbaSourceRecord>, StoreError>;
}

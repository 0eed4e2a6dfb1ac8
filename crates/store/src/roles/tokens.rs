//! The store's token-life role (docs/protocol.md §15).

use async_trait::async_trait;
use provisio_tsp::token_records::{DeadEvent, TokenChange, TokenFacts, TokenSearch, TokenView};

use crate::{IdempotencyRecord, Role, StoreError};

/// Tokens once minted: reads, searches, changes and their events.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// A token with its history and who hears of its changes (deleted ones too).
    async fn token_facts(&self, token_ref_id: &str) -> Result<Option<TokenFacts>, StoreError>;

    /// An issuer's live tokens of a card (by the PAN's keyed hash), for a card-level change.
    async fn card_token_facts(
        &self,
        issuer_id: &str,
        pan_hash: &[u8; 32],
    ) -> Result<Vec<TokenFacts>, StoreError>;

    /// The live tokens a search names, oldest first.
    async fn search_tokens(&self, q: &TokenSearch) -> Result<Vec<TokenView>, StoreError>;

    /// Commits changes of tokens (each with its history entry and events) and the idempotent
    /// answer in one transaction. A token no longer at the status and sequence it was read at
    /// is [`crate::Conflict::TokenVersion`], and nothing is written.
    async fn commit_token_changes(
        &self,
        changes: &[TokenChange],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// The ids of up to `limit` tokens still `INACTIVE` that were created before `before`,
    /// oldest first.
    async fn pending_tokens(&self, before: i64, limit: u32) -> Result<Vec<String>, StoreError>;

    /// Sets (or, `None`, removes) the notification URL of an issuer or token requestor; `false`
    /// if there is no such participant.
    async fn set_notification_url(
        &self,
        role: Role,
        participant_id: &str,
        url: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// The notification URL of an issuer or token requestor, if it has one.
    async fn notification_url(
        &self,
        role: Role,
        participant_id: &str,
    ) -> Result<Option<String>, StoreError>;

    /// The dead-lettered events, oldest first, at most `limit`.
    async fn dead_events(&self, limit: u32) -> Result<Vec<DeadEvent>, StoreError>;

    /// How many events are dead-lettered.
    async fn count_dead_events(&self) -> Result<u64, StoreError>;

    /// Gives a dead-lettered event a fresh set of attempts, due at `now`; `false` if no
    /// dead-lettered event has this id.
    async fn redrive_event(&self, message_id: &str, now: i64) -> Result<bool, StoreError>;
}

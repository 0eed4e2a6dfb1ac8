//! [`crate::TokenStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_tsp::token_records::{DeadEvent, TokenChange, TokenFacts, TokenSearch, TokenView};

use super::SqlStore;
use crate::db::participants::insert_idempotency;
use crate::db::{outbox, tokens};
use crate::{IdempotencyRecord, Role, StoreError, TokenStore};

#[async_trait]
impl TokenStore for SqlStore {
    async fn token_facts(&self, token_ref_id: &str) -> Result<Option<TokenFacts>, StoreError> {
        let id = token_ref_id.to_owned();
        self.read(move |c| tokens::facts(c, &id)).await
    }

    async fn card_token_facts(
        &self,
        issuer_id: &str,
        pan_hash: &[u8; 32],
    ) -> Result<Vec<TokenFacts>, StoreError> {
        let (issuer_id, pan_hash) = (issuer_id.to_owned(), *pan_hash);
        self.read(move |c| tokens::card_facts_of(c, &issuer_id, &pan_hash))
            .await
    }

    async fn search_tokens(&self, q: &TokenSearch) -> Result<Vec<TokenView>, StoreError> {
        let q = q.clone();
        self.read(move |c| tokens::search(c, &q)).await
    }

    async fn commit_token_changes(
        &self,
        changes: &[TokenChange],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        let idempotency = idempotency.cloned();
        self.write(move |c| {
            if let Some(r) = &idempotency {
                insert_idempotency(c, r)?;
            }
            changes.iter().try_for_each(|t| tokens::change(c, t))
        })
        .await
    }

    async fn pending_tokens(&self, before: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        self.read(move |c| tokens::pending_before(c, before, limit))
            .await
    }

    async fn set_notification_url(
        &self,
        role: Role,
        participant_id: &str,
        url: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (id, url) = (participant_id.to_owned(), url.map(str::to_owned));
        self.write(move |c| tokens::set_notification_url(c, role, &id, url.as_deref()))
            .await
    }

    async fn notification_url(
        &self,
        role: Role,
        participant_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = participant_id.to_owned();
        self.read(move |c| tokens::notification_url(c, role, &id))
            .await
    }

    async fn dead_events(&self, limit: u32) -> Result<Vec<DeadEvent>, StoreError> {
        self.read(move |c| outbox::dead(c, limit)).await
    }

    async fn count_dead_events(&self) -> Result<u64, StoreError> {
        self.read(outbox::count_dead).await
    }

    async fn redrive_event(&self, message_id: &str, now: i64) -> Result<bool, StoreError> {
        let id = message_id.to_owned();
        self.write(move |c| outbox::redrive(c, &id, now)).await
    }
}

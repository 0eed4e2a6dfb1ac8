//! The store's accounts role.

use async_trait::async_trait;
use provisio_accounts::{KbaChange, KbaFacts, Transition};

use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, EnrolmentRecord,
    IdempotencyRecord, NewAccount, QuestionRecord, StoreError,
};

/// Hosted wallet accounts and their knowledge-based verification. A request loads its facts
/// with one method (`account_facts`, `account`, `kba_facts`) and commits with one
/// (`create_account`, `commit_kba`, `load_enrolment`).
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// What a new account is decided from: the stored answer for the idempotency key, the
    /// issuer and its question source, and what the security level is decided from.
    async fn account_facts(&self, q: &AccountFactsQuery) -> Result<AccountFacts, StoreError>;

    /// Creates an account in `PENDING_ACTIVATION` with its first audit record and the
    /// idempotent answer. A wallet user with an account that is not expired is
    /// [`crate::Conflict::WalletAccount`].
    async fn create_account(
        &self,
        account: &NewAccount,
        created: &Transition,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// An account with its last transition's reason and its open attempt (with the attempt's
    /// sealed questions).
    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// What a verification step of an account is decided from: the account, its issuer's
    /// question source and, with `draw` (a step that may start an attempt), the question ids
    /// asked of it and the bank's questions never drawn for it.
    async fn kba_facts(&self, account_id: &str, draw: bool)
    -> Result<Option<KbaFacts>, StoreError>;

    /// The wallet user's account that is not expired, if any.
    async fn live_account(
        &self,
        token_requestor_id: &str,
        wallet_user_id: &str,
    ) -> Result<Option<AccountGate>, StoreError>;

    /// Applies a verification change and its audit record if the account is still at the
    /// change's version ([`crate::Conflict::AccountVersion`] otherwise). A question asked of
    /// the account before is [`crate::Conflict::QuestionRepeated`]; nothing is written then.
    async fn commit_kba(&self, change: &KbaChange) -> Result<(), StoreError>;

    /// Ids of every question drawn for an account.
    async fn asked_questions(&self, account_id: &str) -> Result<Vec<String>, StoreError>;

    /// Stores a customer's enrolment and replaces their bank questions.
    async fn load_enrolment(
        &self,
        enrolment: &EnrolmentRecord,
        questions: &[QuestionRecord],
    ) -> Result<(), StoreError>;

    /// An account's audit trail, oldest first.
    async fn account_events(&self, account_id: &str) -> Result<Vec<Transition>, StoreError>;
}

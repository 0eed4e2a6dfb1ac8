//! The store's accounts role.

use async_trait::async_trait;
use provisio_accounts::{KbaChange, Transition};

use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, EnrolmentRecord,
    IdempotencyRecord, NewAccount, QuestionRecord, StoreError,
};

/// Hosted wallet accounts and their knowledge-based verification.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// What the security level of a new account is decided from.
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

    /// An account with its open attempt.
    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError>;

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

    /// A question drawn for an account.
    async fn served_question(
        &self,
        account_id: &str,
        question_id: &str,
    ) -> Result<Option<QuestionRecord>, StoreError>;

    /// The bank's questions for a customer that were never drawn for the account.
    async fn bank_questions(
        &self,
        issuer_id: &str,
        customer_ref: &str,
        account_id: &str,
    ) -> Result<Vec<QuestionRecord>, StoreError>;

    /// Stores a customer's enrolment and replaces their bank questions.
    async fn load_enrolment(
        &self,
        enrolment: &EnrolmentRecord,
        questions: &[QuestionRecord],
    ) -> Result<(), StoreError>;

    /// An account's audit trail, oldest first.
    async fn account_events(&self, account_id: &str) -> Result<Vec<Transition>, StoreError>;
}

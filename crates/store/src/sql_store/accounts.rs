//! [`crate::AccountStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_accounts::{KbaChange, KbaFacts, Transition};

use super::SqlStore;
use crate::db::accounts;
use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, AccountStore, EnrolmentRecord,
    IdempotencyRecord, NewAccount, QuestionRecord, StoreError,
};

#[async_trait]
impl AccountStore for SqlStore {
    async fn account_facts(&self, q: &AccountFactsQuery) -> Result<AccountFacts, StoreError> {
        let q = q.clone();
        self.read(move |c| accounts::account_facts(c, &q)).await
    }

    async fn create_account(
        &self,
        account: &NewAccount,
        created: &Transition,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let account = account.clone();
        let created = created.clone();
        let idempotency = idempotency.cloned();
        self.write(move |c| accounts::create_account(c, &account, &created, idempotency.as_ref()))
            .await
    }

    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let account_id = account_id.to_owned();
        self.read(move |c| accounts::account(c, &account_id)).await
    }

    async fn kba_facts(
        &self,
        account_id: &str,
        draw: bool,
    ) -> Result<Option<KbaFacts>, StoreError> {
        let account_id = account_id.to_owned();
        self.read(move |c| accounts::kba_facts(c, &account_id, draw))
            .await
    }

    async fn live_account(
        &self,
        token_requestor_id: &str,
        wallet_user_id: &str,
    ) -> Result<Option<AccountGate>, StoreError> {
        let token_requestor_id = token_requestor_id.to_owned();
        let wallet_user_id = wallet_user_id.to_owned();
        self.read(move |c| accounts::live_account(c, &token_requestor_id, &wallet_user_id))
            .await
    }

    async fn commit_kba(&self, change: &KbaChange) -> Result<(), StoreError> {
        let change = change.clone();
        self.write(move |c| accounts::commit_kba(c, &change)).await
    }

    async fn asked_questions(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        let account_id = account_id.to_owned();
        self.read(move |c| accounts::asked_questions(c, &account_id))
            .await
    }

    async fn load_enrolment(
        &self,
        enrolment: &EnrolmentRecord,
        questions: &[QuestionRecord],
    ) -> Result<(), StoreError> {
        let enrolment = enrolment.clone();
        let questions = questions.to_vec();
        self.write(move |c| accounts::load_enrolment(c, &enrolment, &questions))
            .await
    }

    async fn account_events(&self, account_id: &str) -> Result<Vec<Transition>, StoreError> {
        let account_id = account_id.to_owned();
        self.read(move |c| accounts::account_events(c, &account_id))
            .await
    }
}

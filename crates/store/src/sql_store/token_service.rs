//! The token service's roles on [`SqlStore`]: each method one job on a store thread, its
//! arguments moved into it.

use async_trait::async_trait;
use provisio_accounts::{KbaChange, Transition};
use provisio_tsp::{
    IssuedOtp, OtpRecord, OutboxMessage, Script, StepUpChange, StepUpState, TsmHandoff,
};

use super::SqlStore;
use crate::db::{accounts, outbox, scripts, step_up};
use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, AccountStore, EnrolmentRecord,
    IdempotencyRecord, NewAccount, OutboxStore, QuestionRecord, ScriptRecord, ScriptStore,
    StepUpStore, StoreError,
};

#[async_trait]
impl StepUpStore for SqlStore {
    async fn step_up(&self, provisioning_id: &str) -> Result<Option<StepUpState>, StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        self.read(move |c| step_up::step_up(c, &provisioning_id))
            .await
    }

    async fn otp(&self, otp_id: &str) -> Result<Option<OtpRecord>, StoreError> {
        let otp_id = otp_id.to_owned();
        self.read(move |c| step_up::otp(c, &otp_id)).await
    }

    async fn commit_otp_issue(&self, issued: &IssuedOtp) -> Result<(), StoreError> {
        let issued = issued.clone();
        self.write(move |c| step_up::commit_otp_issue(c, &issued))
            .await
    }

    async fn commit_step_up_change(
        &self,
        change: &StepUpChange,
        token_ref_id: &str,
        script: Option<&Script>,
        handoff: Option<&TsmHandoff>,
        now: i64,
    ) -> Result<(), StoreError> {
        let change = change.clone();
        let token_ref_id = token_ref_id.to_owned();
        let script = script.cloned();
        let handoff = handoff.cloned();
        self.write(move |c| {
            step_up::commit_step_up_change(
                c,
                &change,
                &token_ref_id,
                script.as_ref(),
                handoff.as_ref(),
                now,
            )
        })
        .await
    }
}

#[async_trait]
impl ScriptStore for SqlStore {
    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        self.read(move |c| scripts::script(c, &provisioning_id))
            .await
    }

    async fn complete_script(&self, provisioning_id: &str, now: i64) -> Result<(), StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        self.write(move |c| scripts::complete_script(c, &provisioning_id, now))
            .await
    }

    async fn fail_script(
        &self,
        provisioning_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        let reason = reason.to_owned();
        self.write(move |c| scripts::fail_script(c, &provisioning_id, &reason, now))
            .await
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn claim_outbox(
        &self,
        now: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.write(move |c| outbox::claim(c, now, lease_s, limit))
            .await
    }

    async fn outbox_delivered(&self, message_id: &str, now: i64) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        self.write(move |c| outbox::delivered(c, &message_id, now))
            .await
    }

    async fn outbox_failed(
        &self,
        message_id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        let error = error.to_owned();
        self.write(move |c| outbox::failed(c, &message_id, retry_at, &error))
            .await
    }
}

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

    async fn served_question(
        &self,
        account_id: &str,
        question_id: &str,
    ) -> Result<Option<QuestionRecord>, StoreError> {
        let account_id = account_id.to_owned();
        let question_id = question_id.to_owned();
        self.read(move |c| accounts::served_question(c, &account_id, &question_id))
            .await
    }

    async fn bank_questions(
        &self,
        issuer_id: &str,
        customer_ref: &str,
        account_id: &str,
    ) -> Result<Vec<QuestionRecord>, StoreError> {
        let issuer_id = issuer_id.to_owned();
        let customer_ref = customer_ref.to_owned();
        let account_id = account_id.to_owned();
        self.read(move |c| accounts::bank_questions(c, &issuer_id, &customer_ref, &account_id))
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

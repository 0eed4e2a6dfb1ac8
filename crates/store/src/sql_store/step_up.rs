//! [`crate::StepUpStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_tsp::{IssuedOtp, StepUpChange};

use super::SqlStore;
use crate::db::step_up;
use crate::{StepUpFacts, StepUpFactsQuery, StepUpStore, StoreError};

#[async_trait]
impl StepUpStore for SqlStore {
    async fn load_step_up_facts(&self, q: &StepUpFactsQuery) -> Result<StepUpFacts, StoreError> {
        let q = q.clone();
        self.read(move |c| step_up::facts(c, &q)).await
    }

    async fn commit_otp_issue(&self, issued: &IssuedOtp) -> Result<(), StoreError> {
        let issued = issued.clone();
        self.write(move |c| step_up::commit_otp_issue(c, &issued))
            .await
    }

    async fn commit_step_up_change(&self, change: &StepUpChange) -> Result<(), StoreError> {
        let change = change.clone();
        self.write(move |c| step_up::commit_step_up_change(c, &change))
            .await
    }
}

//! [`crate::StepUpStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_tsp::{IssuedOtp, OtpRecord, Script, StepUpChange, StepUpState, TsmHandoff};

use super::SqlStore;
use crate::db::step_up;
use crate::{StepUpStore, StoreError};

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

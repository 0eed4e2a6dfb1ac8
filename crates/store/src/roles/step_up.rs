//! The store's step up role.

use async_trait::async_trait;
use provisio_tsp::{IssuedOtp, OtpRecord, Script, StepUpChange, StepUpState, TsmHandoff};

use crate::StoreError;

/// Step-up by one-time code.
#[async_trait]
pub trait StepUpStore: Send + Sync + 'static {
    /// The step-up of a provisioning, with its methods.
    async fn step_up(&self, provisioning_id: &str) -> Result<Option<StepUpState>, StoreError>;

    /// A sent code.
    async fn otp(&self, otp_id: &str) -> Result<Option<OtpRecord>, StoreError>;

    /// Stores a sent code and its outbox message, if the step-up is still at the version the
    /// code was issued from ([`crate::Conflict::StepUpVersion`] otherwise).
    async fn commit_otp_issue(&self, issued: &IssuedOtp) -> Result<(), StoreError>;

    /// Applies a verification's change if the step-up is still at its version. When it passed,
    /// the token becomes `ACTIVE` and `script` is recorded (with the issuer TSM's job in the
    /// outbox, for a secure element), in the same transaction.
    async fn commit_step_up_change(
        &self,
        change: &StepUpChange,
        token_ref_id: &str,
        script: Option<&Script>,
        handoff: Option<&TsmHandoff>,
        now: i64,
    ) -> Result<(), StoreError>;
}

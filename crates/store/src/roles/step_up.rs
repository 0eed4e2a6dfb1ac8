//! The store's step up role.

use async_trait::async_trait;
use provisio_tsp::{IssuedOtp, StepUpChange};

use crate::{StepUpFacts, StepUpFactsQuery, StoreError};

/// Step-up by one-time code.
#[async_trait]
pub trait StepUpStore: Send + Sync + 'static {
    /// Everything a step-up request's core needs, in one job on one connection: the step-up
    /// with its methods, the code, the hosted account, and for a verification the token with
    /// its issuer's TSM.
    async fn load_step_up_facts(&self, q: &StepUpFactsQuery) -> Result<StepUpFacts, StoreError>;

    /// Stores a sent code and its outbox message, if the step-up is still at the version the
    /// code was issued from ([`crate::Conflict::StepUpVersion`] otherwise).
    async fn commit_otp_issue(&self, issued: &IssuedOtp) -> Result<(), StoreError>;

    /// Applies a verification's change if the step-up is still at its version
    /// ([`crate::Conflict::StepUpVersion`] otherwise). With its activation (it passed), the
    /// token becomes `ACTIVE` and the script is recorded (with the issuer TSM's job in the
    /// outbox, for a secure element), in the same transaction.
    async fn commit_step_up_change(&self, change: &StepUpChange) -> Result<(), StoreError>;
}

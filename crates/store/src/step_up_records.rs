//! What the step-up and script-report requests read before their cores run, each in one job on
//! one store connection (docs/architecture.md §4: one load, one core call, one commit).

use provisio_tsp::{OtpRecord, StepUpState};

use crate::{AccountGate, ScriptRecord, SpTsmRecord, TokenRecord};

/// What a step-up request reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpFactsQuery {
    /// The provisioning whose step-up it is.
    pub provisioning_id: String,
    /// The code a verification names.
    pub otp_id: Option<String>,
    /// The token requestor and wallet user, when the wallet's accounts are hosted here.
    pub hosted_account: Option<(String, String)>,
    /// For a verification: the step-up's token, and its issuer's TSM for a secure element.
    pub token: bool,
}

/// What [`StepUpFactsQuery`] found.
#[derive(Debug, Clone)]
pub struct StepUpFacts {
    /// The step-up, with its methods.
    pub step_up: Option<StepUpState>,
    /// The code.
    pub otp: Option<OtpRecord>,
    /// The wallet user's live account.
    pub account: Option<AccountGate>,
    /// The step-up's token.
    pub token: Option<TokenRecord>,
    /// The token's issuer's TSM, for a token bound for a secure element.
    pub sp_tsm: Option<SpTsmRecord>,
}

/// What a device's script report reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFactsQuery {
    /// The provisioning whose script it is.
    pub provisioning_id: String,
    /// The token requestor and wallet user, when the wallet's accounts are hosted here.
    pub hosted_account: Option<(String, String)>,
}

/// What [`ScriptFactsQuery`] found.
#[derive(Debug, Clone)]
pub struct ScriptFacts {
    /// The script sent, with its owner.
    pub script: Option<ScriptRecord>,
    /// The wallet user's live account.
    pub account: Option<AccountGate>,
}

//! Activation by the issuer's call centre (docs/protocol.md §17.5), as functions of their
//! inputs: the cardholder calls the bank, an agent activates the token through the issuer's
//! API ([`CallCenterActivation`]); the token becomes `ACTIVE` with the agent in its history,
//! and the answer a right code would have given the wallet is kept for it to collect
//! ([`CallCenterCollect`]).

use crate::step_up_process::{held, pass};
use crate::wire::{CallCenterActivationRequest, CallCenterCollectRequest};
use crate::{
    CheckedOtp, MethodType, Proof, StepUpChange, StepUpContext, StepUpError, StepUpFacts,
    StepUpStatus, WalletCaller,
};

/// The longest agent id.
const MAX_AGENT: usize = 64;

/// `POST /v1/tokens/{token_ref_id}/activate` by an issuer, parsed.
#[derive(Debug, Clone)]
pub struct CallCenterActivation {
    /// The token.
    pub token_ref_id: String,
    /// The calling issuer.
    pub issuer_id: String,
    /// The agent who took the call.
    pub agent_id: String,
}

impl CallCenterActivation {
    /// The request of `issuer_id`; an agent id is 1 to 64 printable ASCII characters.
    pub fn new(
        token_ref_id: &str,
        issuer_id: &str,
        body: CallCenterActivationRequest,
    ) -> Result<Self, StepUpError> {
        let a = &body.agent_id;
        if a.is_empty() || a.len() > MAX_AGENT || !a.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StepUpError::Malformed(
                "agent_id must be 1 to 64 printable ASCII characters".into(),
            ));
        }
        Ok(Self {
            token_ref_id: token_ref_id.to_owned(),
            issuer_id: issuer_id.to_owned(),
            agent_id: body.agent_id,
        })
    }

    /// The token is the caller's (404 otherwise), its step-up offers `CALL_CENTER` and is
    /// pending; then the token is activated and the answer for the wallet kept.
    pub fn process(
        &self,
        ctx: &StepUpContext<'_>,
        facts: &StepUpFacts,
    ) -> Result<CheckedOtp, StepUpError> {
        let token = facts
            .token
            .as_ref()
            .filter(|t| t.token_ref_id == self.token_ref_id && t.issuer_id == self.issuer_id)
            .ok_or(StepUpError::UnknownToken)?;
        let step = facts
            .step_up
            .as_ref()
            .filter(|s| s.token_ref_id == token.token_ref_id)
            .ok_or(StepUpError::NotPending)?;
        if !step
            .methods
            .iter()
            .any(|m| m.method_type == MethodType::CallCenter)
        {
            return Err(StepUpError::UnknownMethod);
        }
        step.check_pending()?;
        let change = StepUpChange {
            provisioning_id: step.provisioning_id.clone(),
            expected_version: step.version,
            status: StepUpStatus::Passed,
            consecutive_failures: 0,
            proof: Proof::CallCenter {
                agent_id: self.agent_id.clone(),
            },
            at: ctx.now,
            activation: None,
            released: None,
        };
        let mut checked = pass(ctx, step, facts, change, Some(&self.agent_id))?;
        let answer = checked.answer.as_ref().map_err(Clone::clone)?;
        checked.change.released =
            Some(serde_json::to_string(answer).map_err(|_| StepUpError::Internal)?);
        Ok(checked)
    }
}

/// `POST /v1/provisionings/{id}/step-up/call-center` by the wallet, parsed.
#[derive(Debug, Clone)]
pub struct CallCenterCollect {
    /// The provisioning.
    pub provisioning_id: String,
    /// Who asks.
    pub caller: WalletCaller,
    /// The `CALL_CENTER` method.
    pub method_id: String,
}

impl CallCenterCollect {
    /// The request for `provisioning_id` by the token requestor `token_requestor_id`.
    pub fn new(
        provisioning_id: &str,
        token_requestor_id: &str,
        body: CallCenterCollectRequest,
    ) -> Self {
        Self {
            provisioning_id: provisioning_id.to_owned(),
            caller: WalletCaller::parse(token_requestor_id, &body.wallet_user_id, &body.device_id),
            method_id: body.method_id,
        }
    }

    /// The account gate, the step-up and its owner, the method; then the kept answer (JSON)
    /// once the call centre activated the token, 409 `activation_pending` before.
    pub fn process(
        &self,
        ctx: &StepUpContext<'_>,
        facts: &StepUpFacts,
    ) -> Result<String, StepUpError> {
        let step = held(&self.caller, facts, ctx.now)?;
        if !step
            .methods
            .iter()
            .any(|m| m.method_id == self.method_id && m.method_type == MethodType::CallCenter)
        {
            return Err(StepUpError::UnknownMethod);
        }
        match (step.status, &step.released) {
            (StepUpStatus::Passed, Some(released)) => Ok(released.clone()),
            (StepUpStatus::Pending, _) => Err(StepUpError::ActivationPending),
            (StepUpStatus::Locked, _) => Err(StepUpError::Locked),
            (StepUpStatus::Passed, None) => Err(StepUpError::NotPending),
        }
    }
}

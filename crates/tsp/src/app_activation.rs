//! Activation by the issuer's app (docs/protocol.md §17.4) as a function of its inputs: the
//! wallet opens the issuer's app with the token reference; the app authenticates the
//! cardholder and signs activation data over the token, the device and a nonce; the wallet
//! submits it. The server parses the body ([`AppActivation::new`]), loads the step-up facts
//! and the issuer's key, and calls [`AppActivation::process`] once; the nonce is used once per
//! issuer by the store, on commit.

use crate::records::TokenStatus;
use crate::step_up_process::{held, pass};
use crate::wire::{ActivationClaims, IssuerAppActivationRequest};
use crate::{
    CheckedOtp, IssuerKey, MethodType, Proof, PushError, StepUpChange, StepUpContext, StepUpError,
    StepUpFacts, StepUpStatus, WalletCaller,
};

/// The shortest and longest nonce (base64url of at least 128 bits).
const NONCE_CHARS: std::ops::RangeInclusive<usize> = 22..=128;

/// `POST /v1/provisionings/{id}/step-up/issuer-app`, parsed.
#[derive(Debug, Clone)]
pub struct AppActivation {
    /// The provisioning.
    pub provisioning_id: String,
    /// Who asks.
    pub caller: WalletCaller,
    /// The `ISSUER_APP` method.
    pub method_id: String,
    /// The issuer app's JWS.
    activation_data: String,
}

impl AppActivation {
    /// The request for `provisioning_id` by the token requestor `token_requestor_id`.
    pub fn new(
        provisioning_id: &str,
        token_requestor_id: &str,
        body: IssuerAppActivationRequest,
    ) -> Self {
        Self {
            provisioning_id: provisioning_id.to_owned(),
            caller: WalletCaller::parse(token_requestor_id, &body.wallet_user_id, &body.device_id),
            method_id: body.method_id,
            activation_data: body.activation_data,
        }
    }

    /// The account gate, the step-up and its owner, the method, the signature under the
    /// issuer's registered key (`issuer`, the issuer of the step-up's token), the bindings to
    /// the token and the device, the nonce and the freshness (`window_s`); then, as a right
    /// code does, the release of the access data and the script. `Err` is a refusal with
    /// nothing to commit.
    pub fn process(
        &self,
        ctx: &StepUpContext<'_>,
        facts: &StepUpFacts,
        issuer: Option<&(String, IssuerKey)>,
        window_s: i64,
    ) -> Result<CheckedOtp, StepUpError> {
        let step = held(&self.caller, facts, ctx.now)?;
        let method = step
            .methods
            .iter()
            .find(|m| m.method_id == self.method_id)
            .ok_or(StepUpError::UnknownMethod)?;
        if method.method_type != MethodType::IssuerApp {
            return Err(StepUpError::UnknownMethod);
        }
        step.check_pending()?;
        if facts
            .token
            .as_ref()
            .is_none_or(|t| t.status != TokenStatus::Inactive)
        {
            return Err(StepUpError::NotPending);
        }
        let (issuer_id, key) = issuer.ok_or(StepUpError::Inconsistent(
            "the step-up's token names no registered issuer",
        ))?;
        let refused = |e: PushError| StepUpError::Push(e);
        let verified = provisio_jose::verify(ctx.crypto, &self.activation_data, |h| {
            if h.kid.as_deref() == Some(key.kid.as_str()) {
                Ok(key.key.clone())
            } else {
                Err(provisio_jose::JoseError::UnknownKey)
            }
        })
        .map_err(|_| refused(PushError::SignatureInvalid))?;
        let claims: ActivationClaims = serde_json::from_slice(&verified.payload).map_err(|_| {
            StepUpError::Malformed(
                "the activation data lacks a documented claim or has one of the wrong type".into(),
            )
        })?;
        if claims.token_ref_id != step.token_ref_id {
            return Err(refused(PushError::BindingMismatch("token")));
        }
        if claims.device_id != step.device_id {
            return Err(refused(PushError::BindingMismatch("device")));
        }
        if !NONCE_CHARS.contains(&claims.nonce.len())
            || !claims
                .nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(StepUpError::Malformed(
                "the activation data's nonce must be 22 to 128 base64url characters (at least 128 bits)"
                    .into(),
            ));
        }
        if ctx.now.abs_diff(claims.iat) > window_s.unsigned_abs() {
            return Err(refused(PushError::StaleTimestamp));
        }
        let change = StepUpChange {
            provisioning_id: step.provisioning_id.clone(),
            expected_version: step.version,
            status: StepUpStatus::Passed,
            consecutive_failures: 0,
            proof: Proof::IssuerApp {
                issuer_id: issuer_id.clone(),
                nonce: claims.nonce,
            },
            at: ctx.now,
            activation: None,
            released: None,
        };
        pass(ctx, step, facts, change, None)
    }
}

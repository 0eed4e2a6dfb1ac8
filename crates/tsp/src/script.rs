//! Provisioning scripts (US 10,140,615: on approval the token service "provisions by sending
//! the scripts the device executes"): the ordered, versioned steps that install a credential.
//!
//! ```text
//!  HCE wallet:  1 STORE_TOKEN ─► 2 STORE_KEYS ─► 3 SET_DEFAULT ─► report ─► payment-ready
//!  SE phone:    1 TSM_CREATE_SECURITY_DOMAIN(ref) ─► 2 TSM_PERSONALIZE(ref) ─► report
//! ```
//!
//! The token is usable for payments ("converted into a payment device") only after the
//! completion report names every step, in order, as done.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::random_id;
use provisio_crypto::CryptoProvider;
use provisio_types::{Code, Fault, Refusal};

/// The script format version this service writes and the SDK cores execute.
pub const SCRIPT_VERSION: u32 = 1;

/// Where the credential is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScriptTarget {
    /// Host card emulation: the wallet app's own keystore.
    Hce,
    /// The phone's secure element, through the TSMs (the steps name their service requests).
    SecureElement,
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepOp {
    /// Store the token (PAN, expiry, reference id) from the access data.
    StoreToken,
    /// Store the device-bound cryptogram key from the access data.
    StoreKeys,
    /// Make the card the wallet's default.
    SetDefault,
    /// The carrier's TSM creates the issuer's security domain (delivered over the air).
    TsmCreateSecurityDomain,
    /// The issuer's TSM personalises the payment applet (delivered over the air).
    TsmPersonalize,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptStep {
    /// 1-based position; steps run in this order.
    pub seq: u32,
    /// What to do.
    pub op: StepOp,
    /// The token the step is about.
    pub token_ref_id: String,
    /// For TSM steps: the service request that delivers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_request_id: Option<String>,
}

/// A provisioning script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Id, quoted in the completion report.
    pub script_id: String,
    /// Format version ([`SCRIPT_VERSION`]).
    pub version: u32,
    /// Where it installs.
    pub target: ScriptTarget,
    /// The steps, in order.
    pub steps: Vec<ScriptStep>,
}

/// How a step went on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepResult {
    /// Done.
    Ok,
    /// Failed.
    Failed,
}

/// One step's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    /// The step.
    pub seq: u32,
    /// How it went.
    pub result: StepResult,
}

/// Why a completion report does not complete the script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The report names another script.
    #[error("the report names another script than the one sent")]
    WrongScript,
    /// A step is missing, out of order, or failed.
    #[error("step {0} is missing, out of order or failed; the credential is not installed")]
    Incomplete(u32),
}

impl Refusal for ScriptError {
    fn code(&self) -> Code {
        match self {
            Self::WrongScript => Code::ScriptMismatch,
            Self::Incomplete(_) => Code::ScriptIncomplete,
        }
    }

    fn fault(&self) -> Fault {
        Fault::Peer
    }
}

impl Script {
    /// The script that installs `token_ref_id`: HCE steps, or on a secure-element phone the
    /// TSM steps with fresh service request ids.
    pub fn for_token(
        crypto: &dyn CryptoProvider,
        token_ref_id: &str,
        secure_element: bool,
    ) -> Result<Self, provisio_crypto::CryptoError> {
        let step = |seq, op, service_request_id| ScriptStep {
            seq,
            op,
            token_ref_id: token_ref_id.to_owned(),
            service_request_id,
        };
        let (target, steps) = if secure_element {
            (
                ScriptTarget::SecureElement,
                vec![
                    step(
                        1,
                        StepOp::TsmCreateSecurityDomain,
                        Some(random_id(crypto, "sr_")?),
                    ),
                    step(2, StepOp::TsmPersonalize, Some(random_id(crypto, "sr_")?)),
                ],
            )
        } else {
            (
                ScriptTarget::Hce,
                vec![
                    step(1, StepOp::StoreToken, None),
                    step(2, StepOp::StoreKeys, None),
                    step(3, StepOp::SetDefault, None),
                ],
            )
        };
        Ok(Self {
            // One script per token, so its id is the token's with another prefix: as
            // unguessable, and ordered like it (`ordered_id`).
            script_id: format!(
                "sc_{}",
                token_ref_id.strip_prefix("tr_").unwrap_or(token_ref_id)
            ),
            version: SCRIPT_VERSION,
            target,
            steps,
        })
    }

    /// Accepts a report only if it names this script and every step, in order, as done.
    pub fn check_report(&self, script_id: &str, steps: &[StepReport]) -> Result<(), ScriptError> {
        if script_id != self.script_id {
            return Err(ScriptError::WrongScript);
        }
        for (i, step) in self.steps.iter().enumerate() {
            match steps.get(i) {
                Some(r) if r.seq == step.seq && r.result == StepResult::Ok => {}
                _ => return Err(ScriptError::Incomplete(step.seq)),
            }
        }
        if steps.len() != self.steps.len() {
            let extra = steps.get(self.steps.len()).map_or(0, |r| r.seq);
            return Err(ScriptError::Incomplete(extra));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    fn ok(seq: u32) -> StepReport {
        StepReport {
            seq,
            result: StepResult::Ok,
        }
    }

    #[test]
    fn reports_must_name_every_step_in_order() {
        let s = Script::for_token(&AwsLcProvider::new(), "tr_x", false).unwrap();
        assert_eq!(s.target, ScriptTarget::Hce);
        let ops: Vec<StepOp> = s.steps.iter().map(|x| x.op).collect();
        assert_eq!(
            ops,
            [StepOp::StoreToken, StepOp::StoreKeys, StepOp::SetDefault]
        );
        assert_eq!(s.check_report(&s.script_id, &[ok(1), ok(2), ok(3)]), Ok(()));
        assert_eq!(
            s.check_report("sc_other", &[ok(1), ok(2), ok(3)]),
            Err(ScriptError::WrongScript)
        );
        assert_eq!(
            s.check_report(&s.script_id, &[ok(1), ok(3), ok(2)]),
            Err(ScriptError::Incomplete(2))
        );
        assert_eq!(
            s.check_report(&s.script_id, &[ok(1), ok(2)]),
            Err(ScriptError::Incomplete(3))
        );
        let failed = [
            ok(1),
            StepReport {
                seq: 2,
                result: StepResult::Failed,
            },
            ok(3),
        ];
        assert_eq!(
            s.check_report(&s.script_id, &failed),
            Err(ScriptError::Incomplete(2))
        );
        assert!(
            s.check_report(&s.script_id, &[ok(1), ok(2), ok(3), ok(4)])
                .is_err()
        );

        let se = Script::for_token(&AwsLcProvider::new(), "tr_x", true).unwrap();
        assert_eq!(se.target, ScriptTarget::SecureElement);
        assert!(se.steps.iter().all(|x| x.service_request_id.is_some()));
    }
}

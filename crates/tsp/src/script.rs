//! Provisioning scripts (US 10,140,615: on approval the token service "provisions by sending
//! the scripts the device executes"): the ordered, versioned steps that install a credential.
//!
//! ```text
//!  HCE wallet:  1 STORE_TOKEN ─► 2 STORE_KEYS ─► 3 SET_DEFAULT ─► report ─► payment-ready
//!  SE phone:    1 TSM_CREATE_SECURITY_DOMAIN(ref) ─► 2 TSM_PERSONALIZE(ref) ─► report
//! ```
//!
//! The token is usable for payments ("converted into a payment device") only after the
//! completion report names every step, in order, as done: the device's [`ScriptReport`] for
//! HCE, the issuer TSM's [`TsmReport`] for a secure element. Each is one core call on the
//! [`SentScript`] the store holds, and returns the [`ScriptEnd`] to commit (once) with the
//! answer (docs/architecture.md §4).
//!
//! ```text
//!  SentScript (PENDING) ──ScriptReport / TsmReport DONE──► INSTALLED (payment-ready)
//!             └────────────────TsmReport FAILED─────────► FAILED (with the TSM's reason)
//! ```

use crate::script_format::{
    SCRIPT_VERSION, Script, ScriptStep, ScriptTarget, StepOp, StepReport, StepResult,
};
use crate::wire::{Installation, InstallationState, ScriptReportRequest, ScriptReportResponse};
use crate::{
    HostedAccount, PushError, VaultKeys, WalletCaller, gate, random_id, report_token_hash,
};
use provisio_crypto::{CryptoProvider, ct_eq};
use provisio_tsm::JobState;
use provisio_tsm::wire::JobStatus;
use provisio_types::{Code, Fault, Refusal, UnixSeconds};

/// The longest failure reason kept from a TSM (docs/protocol.md §10.4).
pub const MAX_REASON: usize = 200;

/// A sent script as stored, with its provisioning's owner and where its installation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentScript {
    /// The provisioning's wallet provider.
    pub token_requestor_id: String,
    /// Its wallet user.
    pub wallet_user_id: String,
    /// Its device.
    pub device_id: String,
    /// The token.
    pub token_ref_id: String,
    /// The [`Script`] as sent, JSON.
    pub body: String,
    /// When it was completed.
    pub completed_at: Option<UnixSeconds>,
    /// For a secure-element script: the keyed hash of the token its TSM reports with.
    pub report_token_hash: Option<Vec<u8>>,
    /// Why the TSM could not install it, if it failed.
    pub failure: Option<String>,
}

/// How a script's installation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// Installed: the token can pay.
    Installed,
    /// The issuer's TSM could not install it.
    Failed {
        /// Its reason, at most [`MAX_REASON`] characters.
        reason: String,
    },
}

/// What a report commits: the end of a script that had none, recorded once (the store refuses
/// a second end with `Conflict::ScriptCompleted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptEnd {
    /// The provisioning (the TSM's job id).
    pub provisioning_id: String,
    /// How it ended.
    pub outcome: ScriptOutcome,
    /// When.
    pub at: UnixSeconds,
}

/// What the store knew when a device's report arrived.
#[derive(Debug, Clone, Default)]
pub struct ScriptFacts {
    /// The script sent for the provisioning, if any.
    pub script: Option<SentScript>,
    /// For a wallet whose accounts are hosted here: the user's live account, if any (`None`
    /// for wallets with their own accounts).
    pub account: Option<Option<HostedAccount>>,
}

/// `POST /v1/provisionings/{id}/script-report`, parsed (docs/protocol.md §7.4).
#[derive(Debug, Clone)]
pub struct ScriptReport {
    /// The provisioning.
    pub provisioning_id: String,
    /// Who reports.
    pub caller: WalletCaller,
    /// The script it ran.
    pub script_id: String,
    /// How each step went.
    pub steps: Vec<StepReport>,
}

/// A device's report accepted: the end to commit (none if the script was completed before),
/// and the answer, the same for a repeated report.
#[derive(Debug, Clone)]
pub struct ReportedScript {
    /// What to commit.
    pub end: Option<ScriptEnd>,
    /// The 200 answer.
    pub answer: ScriptReportResponse,
}

/// `POST /v1/tsm/jobs/{job_id}/report` as it arrived (docs/protocol.md §10.4): the body is
/// parsed only once the bearer is the job's report token.
#[derive(Debug, Clone, Copy)]
pub struct TsmReport<'a> {
    /// The path's job id (the provisioning id).
    pub job_id: &'a str,
    /// The bearer token.
    pub report_token: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// A TSM's report accepted: the end to commit (none if the job ended before), and the
/// installation as it stands once committed.
#[derive(Debug, Clone)]
pub struct TsmReported {
    /// What to commit.
    pub end: Option<ScriptEnd>,
    /// The 200 answer.
    pub answer: Installation,
}

/// Why a report or an installation query is refused. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    // The caller's fault.
    /// The body or a field is not as documented.
    #[error("{0}")]
    Malformed(String),
    /// Not the job's report token, or no such job.
    #[error("a valid API key is required (Authorization: Bearer <api_key>)")]
    Unauthorized,
    /// No script was sent for the provisioning (or not to this wallet provider).
    #[error("no script was sent for this provisioning")]
    NoScript,
    /// The provisioning belongs to another wallet user, device or wallet: answered exactly as
    /// one with no script (404), so its existence is not told.
    #[error("no script was sent for this provisioning")]
    NotYours,
    /// The hosted-account gate refused (docs/protocol.md §8.10).
    #[error(transparent)]
    Account(PushError),
    /// A device reported a secure-element script.
    #[error(
        "this credential goes to the secure element: the issuer's TSM reports its installation"
    )]
    ReportedByTsm,
    /// The report names another script.
    #[error("the report names another script than the one sent")]
    WrongScript,
    /// A step is missing, out of order, or failed.
    #[error("step {0} is missing, out of order or failed; the credential is not installed")]
    Incomplete(u32),
    /// A TSM's report contradicts the outcome recorded for the job.
    #[error("the job is already recorded as {}", .0.as_str())]
    ReportConflict(InstallationState),
    // Ours.
    /// The stored script does not parse.
    #[error("the stored script does not parse: {0}")]
    Unreadable(String),
}

impl Refusal for ScriptError {
    fn code(&self) -> Code {
        match self {
            Self::Malformed(_) => Code::MalformedRequest,
            Self::Unauthorized => Code::Unauthorized,
            Self::NoScript => Code::NotFound,
            Self::NotYours => Code::NotFound,
            Self::Account(e) => e.code(),
            Self::ReportedByTsm => Code::ReportedByTsm,
            Self::WrongScript => Code::ScriptMismatch,
            Self::Incomplete(_) => Code::ScriptIncomplete,
            Self::ReportConflict(_) => Code::ReportConflict,
            Self::Unreadable(_) => Code::InternalError,
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Account(e) => e.fault(),
            Self::Unreadable(_) => Fault::Internal,
            _ => Fault::Peer,
        }
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

impl SentScript {
    /// The script as sent.
    pub fn script(&self) -> Result<Script, ScriptError> {
        serde_json::from_str(&self.body).map_err(|e| ScriptError::Unreadable(e.to_string()))
    }

    /// Where its installation stands once `end`, if any, is committed (docs/protocol.md §7.5).
    fn installation(&self, script: Script, end: Option<&ScriptEnd>) -> Installation {
        let (installed, failure) = match end.map(|e| &e.outcome) {
            Some(ScriptOutcome::Installed) => (true, None),
            Some(ScriptOutcome::Failed { reason }) => (false, Some(reason.clone())),
            None => (self.completed_at.is_some(), self.failure.clone()),
        };
        let state = match (installed, &failure) {
            (true, _) => InstallationState::Installed,
            (false, Some(_)) => InstallationState::Failed,
            (false, None) => InstallationState::Pending,
        };
        Installation {
            token_ref_id: self.token_ref_id.clone(),
            script_id: script.script_id,
            target: script.target,
            state,
            payment_ready: installed,
            failure,
        }
    }

    /// Whether its installation ended (completed, or failed by the TSM).
    fn ended(&self) -> bool {
        self.completed_at.is_some() || self.failure.is_some()
    }
}

/// `GET /v1/provisionings/{id}/installation` (docs/protocol.md §7.5): where the script sent
/// for it stands, as the wallet provider `token_requestor_id` may see it (another's is
/// answered like none, docs/protocol.md §1.2).
pub fn installation_of(
    sent: Option<&SentScript>,
    token_requestor_id: &str,
) -> Result<Installation, ScriptError> {
    let sent = sent
        .filter(|s| s.token_requestor_id == token_requestor_id)
        .ok_or(ScriptError::NoScript)?;
    Ok(sent.installation(sent.script()?, None))
}

impl ScriptReport {
    /// The report for `provisioning_id` by the token requestor `token_requestor_id`.
    pub fn new(provisioning_id: &str, token_requestor_id: &str, body: ScriptReportRequest) -> Self {
        Self {
            provisioning_id: provisioning_id.to_owned(),
            caller: WalletCaller::parse(token_requestor_id, &body.wallet_user_id, &body.device_id),
            script_id: body.script_id,
            steps: body.steps,
        }
    }

    /// The checks of docs/protocol.md §7.4 in order: a script was sent, it is the caller's,
    /// the account gate, an HCE script, the report names it and every step as done.
    pub fn process(
        &self,
        facts: &ScriptFacts,
        now: UnixSeconds,
    ) -> Result<ReportedScript, ScriptError> {
        let sent = facts.script.as_ref().ok_or(ScriptError::NoScript)?;
        if !self.caller.owns(
            &sent.token_requestor_id,
            &sent.wallet_user_id,
            &sent.device_id,
        ) {
            return Err(ScriptError::NotYours);
        }
        if let Some(account) = &facts.account {
            // `owns` matched it with the provisioning's device id, which parsed at the push.
            let Ok(device_id) = &self.caller.device_id else {
                return Err(ScriptError::NotYours);
            };
            gate(account.as_ref(), device_id, now, None).map_err(ScriptError::Account)?;
        }
        if sent.report_token_hash.is_some() {
            return Err(ScriptError::ReportedByTsm);
        }
        sent.script()?.check_report(&self.script_id, &self.steps)?;
        Ok(ReportedScript {
            end: sent.completed_at.is_none().then(|| ScriptEnd {
                provisioning_id: self.provisioning_id.clone(),
                outcome: ScriptOutcome::Installed,
                at: now,
            }),
            answer: ScriptReportResponse {
                token_ref_id: sent.token_ref_id.clone(),
                status: "ACTIVE".into(),
                payment_ready: true,
            },
        })
    }
}

impl TsmReport<'_> {
    /// The checks of docs/protocol.md §10.4 in order: the bearer is the job's report token
    /// (compared in constant time), the body is a report of this job saying `DONE` or
    /// `FAILED`; then the job ends unless it ended before, and the report must agree with
    /// the outcome that stands (a repeated report gets the same answer).
    pub fn process(
        &self,
        crypto: &dyn CryptoProvider,
        vault: &VaultKeys,
        sent: Option<&SentScript>,
        now: UnixSeconds,
    ) -> Result<TsmReported, ScriptError> {
        let hash = report_token_hash(crypto, vault, self.report_token);
        let sent = sent
            .filter(|s| {
                s.report_token_hash
                    .as_deref()
                    .is_some_and(|h| ct_eq(h, &hash))
            })
            .ok_or(ScriptError::Unauthorized)?;
        let report: JobStatus = serde_json::from_slice(self.body)
            .map_err(|e| ScriptError::Malformed(crate::wire::json_error_detail(&e)))?;
        if report.job_id != self.job_id {
            return Err(ScriptError::Malformed(
                "job_id differs from the path".into(),
            ));
        }
        let (outcome, reported) = match report.state {
            JobState::Done => (ScriptOutcome::Installed, InstallationState::Installed),
            JobState::Failed { reason } => (
                ScriptOutcome::Failed {
                    reason: reason.chars().take(MAX_REASON).collect(),
                },
                InstallationState::Failed,
            ),
            _ => {
                return Err(ScriptError::Malformed(
                    "a report says DONE or FAILED".into(),
                ));
            }
        };
        let end = (!sent.ended()).then(|| ScriptEnd {
            provisioning_id: self.job_id.to_owned(),
            outcome,
            at: now,
        });
        let answer = sent.installation(sent.script()?, end.as_ref());
        if answer.state != reported {
            return Err(ScriptError::ReportConflict(answer.state));
        }
        Ok(TsmReported { end, answer })
    }
}

#[cfg(test)]
mod tests {
    use provisio_accounts::AccountState;
    use provisio_crypto::{AwsLcProvider, SecretBytes};

    use super::*;
    use crate::TspKeys;

    const NOW: UnixSeconds = 1_700_000_000;
    const TRID: &str = "40000000001";

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

    /// The script sent for `pv_1`: HCE, or for a secure element with the keyed hash of
    /// `report_token`.
    fn sent(report_token: Option<(&AwsLcProvider, &TspKeys, &str)>) -> SentScript {
        let p = AwsLcProvider::new();
        let script = Script::for_token(&p, "tr_1", report_token.is_some()).unwrap();
        SentScript {
            token_requestor_id: TRID.into(),
            wallet_user_id: "user-1".into(),
            device_id: "device-1".into(),
            token_ref_id: "tr_1".into(),
            body: serde_json::to_string(&script).unwrap(),
            completed_at: None,
            report_token_hash: report_token
                .map(|(c, keys, token)| report_token_hash(c, keys.vault(), token).to_vec()),
            failure: None,
        }
    }

    fn device_report(sent: &SentScript, device_id: &str) -> ScriptReport {
        let script = sent.script().unwrap();
        ScriptReport::new(
            "pv_1",
            TRID,
            ScriptReportRequest {
                script_id: script.script_id.clone(),
                wallet_user_id: "user-1".into(),
                device_id: device_id.into(),
                steps: script.steps.iter().map(|s| ok(s.seq)).collect(),
            },
        )
    }

    #[test]
    fn a_device_report_is_checked_in_the_documented_order_and_ends_the_script_once() {
        let hce = sent(None);
        let report = device_report(&hce, "device-1");
        let facts = |script: Option<SentScript>, account: Option<Option<HostedAccount>>| {
            ScriptFacts { script, account }
        };
        let refused = |r: &ScriptReport, f: &ScriptFacts| r.process(f, NOW).unwrap_err();
        assert_eq!(
            refused(&report, &facts(None, Some(None))),
            ScriptError::NoScript
        );
        // Another device's (an id that does not parse is nobody's), before the gate.
        assert_eq!(
            refused(
                &device_report(&hce, "device 1"),
                &facts(Some(hce.clone()), Some(None))
            ),
            ScriptError::NotYours
        );
        let other = SentScript {
            token_requestor_id: "40000000002".into(),
            ..hce.clone()
        };
        assert_eq!(
            refused(&report, &facts(Some(other), None)),
            ScriptError::NotYours
        );
        assert_eq!(
            refused(&report, &facts(Some(hce.clone()), Some(None))),
            ScriptError::Account(PushError::AccountNotActive("does not exist".into()))
        );
        let crypto = AwsLcProvider::new();
        let (keys, _) = TspKeys::generate(&crypto, &SecretBytes::new(vec![7; 32]), 1).unwrap();
        let se = sent(Some((&crypto, &keys, "rt")));
        assert_eq!(
            refused(
                &device_report(&se, "device-1"),
                &facts(Some(se.clone()), None)
            ),
            ScriptError::ReportedByTsm
        );
        let mut wrong = device_report(&hce, "device-1");
        wrong.script_id = "sc_other".into();
        assert_eq!(
            refused(&wrong, &facts(Some(hce.clone()), None)),
            ScriptError::WrongScript
        );

        let account = HostedAccount {
            state: AccountState::Active,
            device_id: "device-1".into(),
            expires_at: NOW,
            binding_key: crypto.generate_ec_key().unwrap().public_key().clone(),
        };
        let done = report
            .process(&facts(Some(hce.clone()), Some(Some(account))), NOW)
            .unwrap();
        assert_eq!(
            done.end,
            Some(ScriptEnd {
                provisioning_id: "pv_1".into(),
                outcome: ScriptOutcome::Installed,
                at: NOW,
            })
        );
        assert_eq!(
            (
                done.answer.token_ref_id.as_str(),
                done.answer.status.as_str(),
                done.answer.payment_ready
            ),
            ("tr_1", "ACTIVE", true)
        );
        // Reported again once complete: the same answer, nothing to commit.
        let installed = SentScript {
            completed_at: Some(NOW),
            ..hce
        };
        let again = report
            .process(&facts(Some(installed), None), NOW + 1)
            .unwrap();
        assert_eq!(
            (again.end, again.answer.token_ref_id),
            (None, done.answer.token_ref_id)
        );
    }

    #[test]
    fn the_installation_is_shown_only_to_its_wallet_provider() {
        let hce = sent(None);
        assert_eq!(
            installation_of(Some(&hce), "40000000002").unwrap_err(),
            ScriptError::NoScript
        );
        assert_eq!(
            installation_of(None, TRID).unwrap_err(),
            ScriptError::NoScript
        );
        let pending = installation_of(Some(&hce), TRID).unwrap();
        assert_eq!(
            (pending.state, pending.payment_ready, pending.target),
            (InstallationState::Pending, false, ScriptTarget::Hce)
        );
        assert_eq!(pending.script_id, hce.script().unwrap().script_id);
        let failed = SentScript {
            failure: Some("no room".into()),
            ..hce.clone()
        };
        let view = installation_of(Some(&failed), TRID).unwrap();
        assert_eq!(
            (view.state, view.failure.as_deref()),
            (InstallationState::Failed, Some("no room"))
        );
        let broken = SentScript {
            body: "{".into(),
            ..hce
        };
        assert!(matches!(
            installation_of(Some(&broken), TRID).unwrap_err(),
            ScriptError::Unreadable(_)
        ));
    }

    #[test]
    fn a_tsm_report_needs_the_jobs_token_then_ends_the_job_once() {
        let crypto = AwsLcProvider::new();
        let (keys, _) = TspKeys::generate(&crypto, &SecretBytes::new(vec![7; 32]), 1).unwrap();
        let se = sent(Some((&crypto, &keys, "rt-1")));
        let run = |token: &str, body: &str, script: Option<&SentScript>| {
            TsmReport {
                job_id: "pv_1",
                report_token: token,
                body: body.as_bytes(),
            }
            .process(&crypto, keys.vault(), script, NOW)
        };
        let done = r#"{"job_id": "pv_1", "state": "DONE"}"#;
        for (token, script) in [
            ("rt-1", None),
            ("rt-2", Some(&se)),
            ("rt-1", Some(&sent(None))),
        ] {
            assert_eq!(
                run(token, done, script).unwrap_err(),
                ScriptError::Unauthorized
            );
        }
        // The body is read only for the job's own token.
        assert_eq!(
            run("rt-2", "{", Some(&se)).unwrap_err(),
            ScriptError::Unauthorized
        );
        for (body, why) in [
            ("{", "the body is not the documented JSON"),
            (
                r#"{"job_id": "pv_2", "state": "DONE"}"#,
                "job_id differs from the path",
            ),
            (
                r#"{"job_id": "pv_1", "state": "RECEIVED"}"#,
                "a report says DONE or FAILED",
            ),
        ] {
            assert!(
                matches!(run("rt-1", body, Some(&se)).unwrap_err(), ScriptError::Malformed(m) if m.starts_with(why)),
                "{body}"
            );
        }

        let installed = run("rt-1", done, Some(&se)).unwrap();
        assert_eq!(
            installed.end.as_ref().map(|e| &e.outcome),
            Some(&ScriptOutcome::Installed)
        );
        assert_eq!(
            (
                installed.answer.state,
                installed.answer.payment_ready,
                installed.answer.target
            ),
            (
                InstallationState::Installed,
                true,
                ScriptTarget::SecureElement
            )
        );
        let long = "x".repeat(MAX_REASON + 50);
        let failed_body = format!(r#"{{"job_id": "pv_1", "state": "FAILED", "reason": "{long}"}}"#);
        let failed = run("rt-1", &failed_body, Some(&se)).unwrap();
        let Some(ScriptOutcome::Failed { reason }) = failed.end.map(|e| e.outcome) else {
            panic!("a failure to commit");
        };
        assert_eq!(reason.chars().count(), MAX_REASON);
        assert_eq!(failed.answer.failure.as_deref(), Some(reason.as_str()));
        assert!(!failed.answer.payment_ready);

        // Once ended: a repeat gets the same answer with nothing to commit; the other outcome
        // is refused with what stands.
        let completed = SentScript {
            completed_at: Some(NOW - 1),
            ..se.clone()
        };
        let again = run("rt-1", done, Some(&completed)).unwrap();
        assert_eq!(
            (again.end, again.answer.state),
            (None, InstallationState::Installed)
        );
        assert_eq!(
            run("rt-1", &failed_body, Some(&completed)).unwrap_err(),
            ScriptError::ReportConflict(InstallationState::Installed)
        );
        let gave_up = SentScript {
            failure: Some("no room".into()),
            ..se
        };
        let e = run("rt-1", done, Some(&gave_up)).unwrap_err();
        assert_eq!(e, ScriptError::ReportConflict(InstallationState::Failed));
        assert_eq!(e.to_string(), "the job is already recorded as FAILED");
    }
}

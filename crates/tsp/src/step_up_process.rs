//! The two step-up requests as functions of their inputs (docs/architecture.md §4,
//! docs/protocol.md §6): the server authenticates, parses the body into an [`OtpSend`] or an
//! [`OtpVerify`], loads the [`StepUpFacts`] in one store call, calls `process` once, and commits
//! what comes back in one transaction. A commit that lost a race with a concurrent change (the
//! state's `version` moved) is computed again from fresh facts.
//!
//! ```text
//!  body ─► OtpSend   ── facts ─process─► SentOtp     (IssuedOtp + the 201 answer)
//!  body ─► OtpVerify ── facts ─process─► CheckedOtp  (StepUpChange + the answer), or refused
//!                                         └─ right code: the change carries the Activation
//! ```

use std::fmt;

use provisio_crypto::CryptoProvider;
use provisio_types::{DeviceId, IdError, UnixSeconds, WalletUserId};

use crate::lifecycle::{Action, Actor, Reason, Standing};
use crate::records::TokenStatus;
use crate::token_records::TokenChange;
use crate::tokens::{ChangeContext, events};
use crate::wire::{OtpSendRequest, OtpSent, OtpVerifyRequest, StepUpPassed, TokenInfo};
use crate::{
    Activation, HostedAccount, IssuedOtp, OtpRecord, SpTsmTarget, StepUpChange, StepUpConfig,
    StepUpError, StepUpState, StoredToken, TspKeys, Verification, gate, release_access_data,
};

/// Who signs the code messages (docs/protocol.md §6.1).
pub const CODE_SENDER: &str = "Card verification";

/// A wallet provider acting for one of its users on one device, as a step-up request or a
/// script report names them (docs/protocol.md §6, §7.4). An id that does not parse is kept as
/// its error: it cannot be a provisioning's (their ids were parsed at the push), so it is told
/// where the check it fails comes in the documented order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletCaller {
    /// The authenticated wallet provider.
    pub token_requestor_id: String,
    /// `wallet_user_id`.
    pub wallet_user_id: Result<WalletUserId, IdError>,
    /// `device_id`.
    pub device_id: Result<DeviceId, IdError>,
}

/// Everything a step-up request needs but its body and its facts.
#[derive(Clone, Copy)]
pub struct StepUpContext<'a> {
    /// Cryptography.
    pub crypto: &'a dyn CryptoProvider,
    /// The service's keys.
    pub keys: &'a TspKeys,
    /// The step-up limits.
    pub config: &'a StepUpConfig,
    /// When the request arrived.
    pub now: UnixSeconds,
}

/// What the store knew when a step-up request arrived.
#[derive(Debug, Clone, Default)]
pub struct StepUpFacts {
    /// For a wallet whose accounts are hosted here: the user's live account, if any (`None`
    /// for wallets with their own accounts).
    pub account: Option<Option<HostedAccount>>,
    /// The provisioning's step-up, if it has one.
    pub step_up: Option<StepUpState>,
    /// The code the verification names, if it exists.
    pub otp: Option<OtpRecord>,
    /// For a verification: the inactive token the step-up would activate.
    pub token: Option<StoredToken>,
    /// For a verification of a secure-element token: its issuer's TSM, if registered.
    pub sp_tsm: Option<SpTsmTarget>,
}

/// `POST /v1/provisionings/{id}/step-up/otp`, parsed (docs/protocol.md §6.2).
#[derive(Debug, Clone)]
pub struct OtpSend {
    /// The provisioning.
    pub provisioning_id: String,
    /// Who asks.
    pub caller: WalletCaller,
    /// The method to send the code by.
    pub method_id: String,
}

/// What a send commits, and the 201 answer once it is committed.
#[derive(Debug, Clone)]
pub struct SentOtp {
    /// The code, its message and the state's new send count.
    pub record: IssuedOtp,
    /// The answer.
    pub answer: OtpSent,
}

/// `POST /v1/provisionings/{id}/step-up/verify`, parsed (docs/protocol.md §6.3). `Debug` hides
/// the code.
#[derive(Clone)]
pub struct OtpVerify {
    /// The provisioning.
    pub provisioning_id: String,
    /// Who asks.
    pub caller: WalletCaller,
    /// The code's id.
    pub otp_id: String,
    /// The digits tried.
    code: String,
}

/// A verification that changes the step-up: the change to commit, then the answer (a wrong
/// code is counted first and refused after the commit).
#[derive(Debug)]
pub struct CheckedOtp {
    /// What to commit; for a right code it carries the [`Activation`].
    pub change: StepUpChange,
    /// The 200 answer, or the refusal of a wrong code.
    pub answer: Result<StepUpPassed, StepUpError>,
}

impl WalletCaller {
    /// The caller `token_requestor_id` acting for the ids the body names.
    pub fn parse(token_requestor_id: &str, wallet_user_id: &str, device_id: &str) -> Self {
        Self {
            token_requestor_id: token_requestor_id.to_owned(),
            wallet_user_id: WalletUserId::parse(wallet_user_id),
            device_id: DeviceId::parse(device_id),
        }
    }

    /// Whether the caller is the provisioning's wallet provider, user and device.
    pub fn owns(&self, token_requestor_id: &str, wallet_user_id: &str, device_id: &str) -> bool {
        self.token_requestor_id == token_requestor_id
            && self
                .wallet_user_id
                .as_ref()
                .is_ok_and(|u| u.as_str() == wallet_user_id)
            && self
                .device_id
                .as_ref()
                .is_ok_and(|d| d.as_str() == device_id)
    }

    /// The wallet user whose hosted account the gate reads, if the id parsed (no account has
    /// an id that does not: they are parsed when the account is made).
    pub fn hosted_user(&self) -> Option<&WalletUserId> {
        self.wallet_user_id.as_ref().ok()
    }
}

impl OtpSend {
    /// The request for `provisioning_id` by the token requestor `token_requestor_id`.
    pub fn new(provisioning_id: &str, token_requestor_id: &str, body: OtpSendRequest) -> Self {
        Self {
            provisioning_id: provisioning_id.to_owned(),
            caller: WalletCaller::parse(token_requestor_id, &body.wallet_user_id, &body.device_id),
            method_id: body.method_id,
        }
    }

    /// The account gate, the step-up and its owner, then the code, in the order of
    /// docs/protocol.md §6.2. Callable again with fresh facts after a lost race.
    pub fn process(
        &self,
        ctx: &StepUpContext<'_>,
        facts: &StepUpFacts,
    ) -> Result<SentOtp, StepUpError> {
        let step = held(&self.caller, facts, ctx.now)?;
        let record = step.issue(
            ctx.crypto,
            ctx.keys.vault(),
            &self.method_id,
            CODE_SENDER,
            ctx.now,
            ctx.config,
        )?;
        let answer = OtpSent {
            otp_id: record.otp.otp_id.clone(),
            destination: record.destination.clone(),
            expires_at: record.otp.expires_at,
            resends_left: record.resends_left,
        };
        Ok(SentOtp { record, answer })
    }
}

impl OtpVerify {
    /// The request for `provisioning_id` by the token requestor `token_requestor_id`.
    pub fn new(provisioning_id: &str, token_requestor_id: &str, body: OtpVerifyRequest) -> Self {
        Self {
            provisioning_id: provisioning_id.to_owned(),
            caller: WalletCaller::parse(token_requestor_id, &body.wallet_user_id, &body.device_id),
            otp_id: body.otp_id,
            code: body.code,
        }
    }

    /// The account gate, the step-up and its owner, the code's checks and, for a right code,
    /// the release of the access data and the script (with the issuer TSM's job for a secure
    /// element), in the order of docs/protocol.md §6.3. `Err` is a refusal with nothing to
    /// commit. Callable again with fresh facts after a lost race.
    pub fn process(
        &self,
        ctx: &StepUpContext<'_>,
        facts: &StepUpFacts,
    ) -> Result<CheckedOtp, StepUpError> {
        let step = held(&self.caller, facts, ctx.now)?;
        let otp = facts.otp.as_ref().ok_or(StepUpError::UnknownOtp)?;
        // A token deleted meanwhile (by its issuer, or as an expired pending token) is not
        // activated, and the code is not spent on it (docs/protocol.md §15.4).
        if facts
            .token
            .as_ref()
            .is_some_and(|t| t.status == TokenStatus::Deleted)
        {
            return Err(StepUpError::NotPending);
        }
        let verification = step.verify(
            ctx.crypto,
            ctx.keys.vault(),
            otp,
            &self.code,
            ctx.now,
            ctx.config,
        );
        let change = match verification {
            Verification::Refused(e) => return Err(e),
            Verification::Failed(change, e) => {
                return Ok(CheckedOtp {
                    change,
                    answer: Err(e),
                });
            }
            Verification::Passed(change) => change,
        };
        pass(ctx, step, facts, change, None)
    }
}

/// A passed step-up: the change carries the token's activation (its events, its script and,
/// for a secure element, the issuer TSM's job), and the answer the released access data.
/// `agent`: the issuer's call-centre agent who activated it (the token's history names them);
/// `None` when the wallet presented the proof.
pub(crate) fn pass(
    ctx: &StepUpContext<'_>,
    step: &StepUpState,
    facts: &StepUpFacts,
    mut change: StepUpChange,
    agent: Option<&str>,
) -> Result<CheckedOtp, StepUpError> {
    let token = facts
        .token
        .as_ref()
        .ok_or(StepUpError::Inconsistent("a step-up without its token"))?;
    let released = release_access_data(
        ctx.crypto,
        ctx.keys,
        token,
        &step.provisioning_id,
        facts.sp_tsm.as_ref(),
    )
    .map_err(StepUpError::Push)?;
    let answer = StepUpPassed {
        provisioning_id: step.provisioning_id.clone(),
        token: TokenInfo {
            token_ref_id: token.token_ref_id.clone(),
            last4: token.token_last4.clone(),
            exp_month: token.exp_month,
            exp_year: token.exp_year,
            status: TokenStatus::Active.as_str().into(),
            account_ref: token.account_ref.clone(),
        },
        access_data: released.access_data,
        script: released.script.clone(),
    };
    let actor = if agent.is_some() {
        Actor::Issuer
    } else {
        Actor::System
    };
    let activated = Standing::of(token.status)
        .apply(Action::Activate, actor, Reason::Other)
        .map_err(|_| StepUpError::NotPending)?;
    let change_ctx = ChangeContext {
        crypto: ctx.crypto,
        vault: ctx.keys.vault(),
        now: ctx.now,
    };
    let sequence = token.event_seq + 1;
    change.activation = Some(Activation {
        change: TokenChange {
            token_ref_id: token.token_ref_id.clone(),
            event_seq: token.event_seq,
            events: events(&change_ctx, &token.parties(), &activated, sequence)
                .map_err(|_| StepUpError::Internal)?,
            change: activated,
            agent_id: agent.map(str::to_owned),
            at: ctx.now,
            relink: None,
        },
        script: released.script,
        handoff: released.handoff,
    });
    Ok(CheckedOtp {
        change,
        answer: Ok(answer),
    })
}

/// The checks every step-up request begins with (docs/protocol.md §6.2, §6.3, §17.4): a
/// hosted wallet's account gate (§8.10: its device id must parse), a step-up exists, it is
/// the caller's.
pub(crate) fn held<'f>(
    caller: &WalletCaller,
    facts: &'f StepUpFacts,
    now: UnixSeconds,
) -> Result<&'f StepUpState, StepUpError> {
    if let Some(account) = &facts.account {
        let device_id = caller
            .device_id
            .as_ref()
            .map_err(|e| StepUpError::Malformed(e.to_string()))?;
        gate(account.as_ref(), device_id, now, None).map_err(StepUpError::Push)?;
    }
    let step = facts.step_up.as_ref().ok_or(StepUpError::NoStepUp)?;
    if caller.owns(
        &step.token_requestor_id,
        &step.wallet_user_id,
        &step.device_id,
    ) {
        Ok(step)
    } else {
        Err(StepUpError::NotYours)
    }
}

impl fmt::Debug for OtpVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpVerify")
            .field("provisioning_id", &self.provisioning_id)
            .field("caller", &self.caller)
            .field("otp_id", &self.otp_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use provisio_accounts::AccountState;
    use provisio_crypto::{AwsLcProvider, SecretBytes};
    use provisio_jose::Jwk;

    use super::*;
    use crate::{Contact, PushError, ScriptTarget, StepUpStatus, offer_methods, open_notification};

    const NOW: UnixSeconds = 1_700_000_000;
    const TRID: &str = "40000000001";

    struct World {
        crypto: AwsLcProvider,
        keys: TspKeys,
        config: StepUpConfig,
        device_key: provisio_crypto::EcKeyPair,
    }

    impl World {
        fn new() -> Self {
            let crypto = AwsLcProvider::new();
            let (keys, _) = TspKeys::generate(&crypto, &SecretBytes::new(vec![7; 32]), 1).unwrap();
            let device_key = crypto.generate_ec_key().unwrap();
            Self {
                crypto,
                keys,
                config: StepUpConfig::default(),
                device_key,
            }
        }

        fn ctx(&self) -> StepUpContext<'_> {
            StepUpContext {
                crypto: &self.crypto,
                keys: &self.keys,
                config: &self.config,
                now: NOW,
            }
        }

        fn step_up(&self) -> StepUpState {
            let contact = Contact {
                phone: Some("+15550000001".into()),
                email: Some("holder@example.com".into()),
            };
            StepUpState {
                provisioning_id: "pv_1".into(),
                token_ref_id: "tr_1".into(),
                token_requestor_id: TRID.into(),
                wallet_user_id: "user-1".into(),
                device_id: "device-1".into(),
                status: StepUpStatus::Pending,
                consecutive_failures: 0,
                sends: 0,
                version: 4,
                methods: offer_methods(&self.crypto, self.keys.vault(), &contact).unwrap(),
                released: None,
            }
        }

        /// The held token `tr_1`, sealed as the mint seals it.
        fn token(&self, secure_element_id: Option<&str>) -> StoredToken {
            let vault = self.keys.vault();
            let seal = |value: &[u8], field: &str| {
                vault
                    .seal(
                        &self.crypto,
                        value,
                        format!("token:tr_1:{field}").as_bytes(),
                    )
                    .unwrap()
            };
            let check = provisio_types::luhn_check_digit("489537001234567").unwrap();
            let token_pan = format!("489537001234567{check}");
            StoredToken {
                token_ref_id: "tr_1".into(),
                token_pan: seal(token_pan.as_bytes(), "token_pan"),
                cryptogram_key: seal(&[9; 16], "cryptogram_key"),
                binding_jwk: serde_json::to_string(&Jwk::from_public_key(
                    self.device_key.public_key(),
                ))
                .unwrap(),
                token_last4: token_pan.get(12..).unwrap().into(),
                exp_month: 12,
                exp_year: 2030,
                secure_element_id: secure_element_id.map(str::to_owned),
                status: TokenStatus::Inactive,
                event_seq: 1,
                account_ref: "ar_1".into(),
                issuer_id: "iss".into(),
                token_requestor_id: "40000000001".into(),
                issuer_notified: true,
                token_requestor_notified: false,
            }
        }

        fn sp_tsm(&self) -> SpTsmTarget {
            SpTsmTarget {
                issuer_id: "iss".into(),
                key: self.crypto.generate_ec_key().unwrap().public_key().clone(),
                aid_prefix: vec![0xa0, 0, 0, 0, 0x01],
                report_base: "https://tsp.example".into(),
            }
        }

        fn account(&self, state: AccountState, device_id: &str) -> HostedAccount {
            HostedAccount {
                state,
                device_id: device_id.into(),
                expires_at: NOW + 600,
                binding_key: self.device_key.public_key().clone(),
            }
        }

        /// A code sent for `pv_1` from `step`, and its digits.
        fn sent(&self, step: &StepUpState) -> (OtpRecord, String) {
            let sent = send(step.methods[0].method_id.as_str(), "device-1")
                .process(&self.ctx(), &facts(Some(step.clone())))
                .unwrap();
            let message = &sent.record.message;
            let note = open_notification(
                &self.crypto,
                self.keys.vault(),
                &message.message_id,
                &message.payload,
            )
            .unwrap();
            let code = note
                .text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .unwrap()
                .to_owned();
            (sent.record.otp, code)
        }
    }

    fn facts(step_up: Option<StepUpState>) -> StepUpFacts {
        StepUpFacts {
            step_up,
            ..StepUpFacts::default()
        }
    }

    fn send(method_id: &str, device_id: &str) -> OtpSend {
        OtpSend::new(
            "pv_1",
            TRID,
            OtpSendRequest {
                method_id: method_id.into(),
                wallet_user_id: "user-1".into(),
                device_id: device_id.into(),
            },
        )
    }

    fn verify(otp_id: &str, code: &str) -> OtpVerify {
        OtpVerify::new(
            "pv_1",
            TRID,
            OtpVerifyRequest {
                otp_id: otp_id.into(),
                code: code.into(),
                wallet_user_id: "user-1".into(),
                device_id: "device-1".into(),
            },
        )
    }

    #[test]
    fn an_id_that_does_not_parse_is_nobodys() {
        let c = WalletCaller::parse(TRID, "user-1", "device-1");
        assert!(c.owns(TRID, "user-1", "device-1"));
        assert!(!c.owns("40000000002", "user-1", "device-1"));
        assert!(!c.owns(TRID, "user-2", "device-1"));
        assert!(!c.owns(TRID, "user-1", "device-2"));
        let bad = WalletCaller::parse(TRID, "user 1", "");
        assert!(bad.wallet_user_id.is_err() && bad.device_id.is_err());
        assert!(!bad.owns(TRID, "user 1", ""));
        assert_eq!(bad.hosted_user(), None);
        assert_eq!(c.hosted_user().map(WalletUserId::as_str), Some("user-1"));
    }

    #[test]
    fn a_send_issues_a_code_and_answers_with_its_destination() {
        let w = World::new();
        let step = w.step_up();
        let sent = send(&step.methods[1].method_id, "device-1")
            .process(&w.ctx(), &facts(Some(step.clone())))
            .unwrap();
        assert_eq!(sent.answer.otp_id, sent.record.otp.otp_id);
        assert_eq!(sent.answer.destination, step.methods[1].masked);
        assert_eq!(sent.answer.expires_at, NOW + 600);
        assert_eq!(sent.answer.resends_left, 3);
        assert_eq!((sent.record.expected_version, sent.record.sends), (4, 1));
        let note = open_notification(
            &w.crypto,
            w.keys.vault(),
            &sent.record.message.message_id,
            &sent.record.message.payload,
        )
        .unwrap();
        assert_eq!(
            (note.channel.as_str(), note.to.as_str()),
            ("email", "holder@example.com")
        );
        assert!(
            note.text.starts_with("Card verification: your code"),
            "{}",
            note.text
        );
    }

    #[test]
    fn the_gate_comes_first_then_the_step_up_then_its_owner() {
        let w = World::new();
        let step = w.step_up();
        let m = step.methods[0].method_id.clone();
        let run =
            |req: &OtpSend, f: &StepUpFacts| req.process(&w.ctx(), f).map(|_| ()).unwrap_err();
        // A hosted wallet: a device id that does not parse, then the account, before the
        // step-up is looked at.
        let hosted = |account: Option<HostedAccount>, step_up: Option<StepUpState>| StepUpFacts {
            account: Some(account),
            step_up,
            ..StepUpFacts::default()
        };
        assert!(matches!(
            run(&send(&m, "device 1"), &hosted(None, None)),
            StepUpError::Malformed(why) if why.contains("device_id")
        ));
        assert_eq!(
            run(&send(&m, "device-1"), &hosted(None, None)),
            StepUpError::Push(PushError::AccountNotActive("does not exist".into()))
        );
        let elsewhere = w.account(AccountState::Active, "device-2");
        assert_eq!(
            run(
                &send(&m, "device-1"),
                &hosted(Some(elsewhere), Some(step.clone()))
            ),
            StepUpError::Push(PushError::AccountNotActive("is on another device".into()))
        );
        let active = w.account(AccountState::Active, "device-1");
        assert_eq!(
            run(&send(&m, "device-1"), &hosted(Some(active.clone()), None)),
            StepUpError::NoStepUp
        );
        assert!(
            send(&m, "device-1")
                .process(&w.ctx(), &hosted(Some(active), Some(step.clone())))
                .is_ok()
        );
        // A wallet with its own accounts: no gate, so a device id that does not parse is
        // simply not the provisioning's.
        assert_eq!(
            run(&send(&m, "device 1"), &facts(None)),
            StepUpError::NoStepUp
        );
        assert_eq!(
            run(&send(&m, "device 1"), &facts(Some(step.clone()))),
            StepUpError::NotYours
        );
        assert_eq!(
            run(&send("sm_other", "device-1"), &facts(Some(step))),
            StepUpError::UnknownMethod
        );
    }

    #[test]
    fn a_wrong_code_is_a_change_to_commit_and_then_a_refusal() {
        let w = World::new();
        let step = w.step_up();
        let (otp, code) = w.sent(&step);
        let f = StepUpFacts {
            otp: Some(otp.clone()),
            token: Some(w.token(None)),
            ..facts(Some(step.clone()))
        };
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        let checked = verify(&otp.otp_id, &wrong).process(&w.ctx(), &f).unwrap();
        assert_eq!(
            checked.answer.unwrap_err(),
            StepUpError::OtpInvalid { tries_left: 2 }
        );
        let c = checked.change;
        assert_eq!(
            (c.status, c.consecutive_failures, c.expected_version, c.at),
            (StepUpStatus::Pending, 1, 4, NOW)
        );
        assert_eq!(
            c.proof,
            crate::Proof::Otp {
                otp_id: otp.otp_id.clone(),
                wrong_tries: 1,
                consumed_at: None
            }
        );
        assert!(c.activation.is_none());
        // An unknown code, or one used before: refused, nothing to commit.
        let no_code = StepUpFacts {
            otp: None,
            ..f.clone()
        };
        assert_eq!(
            verify("otp_x", &code)
                .process(&w.ctx(), &no_code)
                .unwrap_err(),
            StepUpError::UnknownOtp
        );
        let used = StepUpFacts {
            otp: Some(OtpRecord {
                consumed_at: Some(NOW),
                ..otp.clone()
            }),
            ..f
        };
        assert_eq!(
            verify(&otp.otp_id, &code)
                .process(&w.ctx(), &used)
                .unwrap_err(),
            StepUpError::OtpUsed
        );
    }

    #[test]
    fn a_right_code_activates_the_token_and_releases_its_access_data_and_script() {
        let w = World::new();
        let step = w.step_up();
        let (otp, code) = w.sent(&step);
        let f = StepUpFacts {
            otp: Some(otp.clone()),
            token: Some(w.token(None)),
            ..facts(Some(step))
        };
        let checked = verify(&otp.otp_id, &code).process(&w.ctx(), &f).unwrap();
        let passed = checked.answer.unwrap();
        assert_eq!(passed.provisioning_id, "pv_1");
        assert_eq!(
            (
                passed.token.token_ref_id.as_str(),
                passed.token.last4.as_str(),
                passed.token.status.as_str()
            ),
            (
                "tr_1",
                f.token.as_ref().unwrap().token_last4.as_str(),
                "ACTIVE"
            )
        );
        assert_eq!(passed.script.target, ScriptTarget::Hce);
        assert_eq!(passed.access_data.split('.').count(), 5, "a compact JWE");
        let c = checked.change;
        assert_eq!(c.status, StepUpStatus::Passed);
        assert!(matches!(
            c.proof,
            crate::Proof::Otp {
                consumed_at: Some(NOW),
                ..
            }
        ));
        let a = c.activation.unwrap();
        assert_eq!(
            (a.change.token_ref_id.as_str(), &a.script),
            ("tr_1", &passed.script)
        );
        assert!(a.handoff.is_none());
        // Activation is the token's change number 2, told to the issuer (it has a URL).
        assert_eq!(a.change.event_seq, 1);
        assert_eq!(a.change.change.to.status, TokenStatus::Active);
        assert_eq!(a.change.events.len(), 1);
        assert_eq!(a.change.events[0].sequence, 2);
        assert_eq!(passed.token.account_ref, "ar_1");
    }

    #[test]
    fn a_token_deleted_meanwhile_is_not_activated_and_the_code_is_not_spent() {
        let w = World::new();
        let step = w.step_up();
        let (otp, code) = w.sent(&step);
        let f = StepUpFacts {
            otp: Some(otp.clone()),
            token: Some(StoredToken {
                status: TokenStatus::Deleted,
                ..w.token(None)
            }),
            ..facts(Some(step))
        };
        assert_eq!(
            verify(&otp.otp_id, &code)
                .process(&w.ctx(), &f)
                .unwrap_err(),
            StepUpError::NotPending
        );
    }

    #[test]
    fn a_secure_element_token_needs_its_issuers_tsm_still_registered() {
        let w = World::new();
        let step = w.step_up();
        let (otp, code) = w.sent(&step);
        let f = StepUpFacts {
            otp: Some(otp.clone()),
            token: Some(w.token(Some("se-1"))),
            ..facts(Some(step))
        };
        assert!(matches!(
            verify(&otp.otp_id, &code)
                .process(&w.ctx(), &f)
                .unwrap_err(),
            StepUpError::Push(PushError::Config(_))
        ));
        let with_tsm = StepUpFacts {
            sp_tsm: Some(w.sp_tsm()),
            ..f.clone()
        };
        let checked = verify(&otp.otp_id, &code)
            .process(&w.ctx(), &with_tsm)
            .unwrap();
        assert_eq!(
            checked.answer.unwrap().script.target,
            ScriptTarget::SecureElement
        );
        assert!(checked.change.activation.unwrap().handoff.is_some());
        // A step-up whose token is gone: our records are broken.
        let no_token = StepUpFacts { token: None, ..f };
        assert!(matches!(
            verify(&otp.otp_id, &code)
                .process(&w.ctx(), &no_token)
                .unwrap_err(),
            StepUpError::Inconsistent(_)
        ));
    }

    #[test]
    fn a_verification_does_not_show_its_code() {
        let v = verify("otp_1", "123456");
        assert!(!format!("{v:?}").contains("123456"));
    }
}

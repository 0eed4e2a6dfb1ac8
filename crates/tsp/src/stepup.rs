//! Step-up authentication of a provisioning the risk decision held back (US 10,140,615:
//! "not provisioned without further authentication"): one-time codes by SMS or e-mail.
//!
//! Rules (NIST SP 800-63B 5.1.3 and 5.2.2, limits as configuration): 6 digits from the CSPRNG,
//! stored only as a keyed hash, valid 10 minutes, accepted once, at most 3 wrong tries per
//! code, locked after 10 consecutive failures across codes, at most 3 resends.
//!
//! ```text
//!  PENDING ──send──► code issued (outbox: sealed message) ──verify ok──► PASSED (token ACTIVE)
//!     └──────────────── 10 consecutive wrong codes ──────────────────► LOCKED
//! ```
//!
//! The core reads a [`StepUpState`] and returns the change to commit. The store applies a
//! change only if the state's `version` is unchanged, so two concurrent verifications of one
//! code cannot both pass.

use std::fmt;

use provisio_crypto::{CryptoProvider, ct_eq};
use provisio_types::{Code, Fault, Refusal, UnixSeconds};
use serde::{Deserialize, Serialize};

use crate::contact::{Contact, mask_email, mask_phone};
use crate::{PushError, Script, Sealed, TsmHandoff, VaultKeys, random_id};

/// The step-up limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepUpConfig {
    /// How long a code is valid (default 600 s).
    pub otp_ttl_s: i64,
    /// Wrong tries per code (default 3).
    pub max_tries_per_code: u32,
    /// Consecutive wrong tries across codes before the step-up locks (default 10).
    pub lockout_after: u32,
    /// Codes sent after the first (default 3).
    pub max_resends: u32,
}

impl Default for StepUpConfig {
    fn default() -> Self {
        Self {
            otp_ttl_s: 600,
            max_tries_per_code: 3,
            lockout_after: 10,
            max_resends: 3,
        }
    }
}

/// A way to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MethodType {
    /// A code by SMS.
    OtpSms,
    /// A code by e-mail.
    OtpEmail,
    /// The issuer's app authenticates the cardholder and signs activation data
    /// (docs/protocol.md §17.4).
    IssuerApp,
    /// The cardholder calls the issuer; an agent activates the token (docs/protocol.md §17.5).
    CallCenter,
}

impl MethodType {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtpSms => "OTP_SMS",
            Self::OtpEmail => "OTP_EMAIL",
            Self::IssuerApp => "ISSUER_APP",
            Self::CallCenter => "CALL_CENTER",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::OtpSms,
            Self::OtpEmail,
            Self::IssuerApp,
            Self::CallCenter,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    /// The channel a code goes by; `None` for a method without codes.
    fn channel(self) -> Option<&'static str> {
        match self {
            Self::OtpSms => Some("sms"),
            Self::OtpEmail => Some("email"),
            Self::IssuerApp | Self::CallCenter => None,
        }
    }
}

/// Where the step-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUpStatus {
    /// Waiting for a code.
    Pending,
    /// Authenticated; the token is active.
    Passed,
    /// Too many wrong codes; the token stays inactive.
    Locked,
}

impl StepUpStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Passed => "PASSED",
            Self::Locked => "LOCKED",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Passed, Self::Locked]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// One offered method, as stored: the destination sealed, the masked form shown.
#[derive(Debug, Clone)]
pub struct MethodRecord {
    /// Id the wallet chooses it by.
    pub method_id: String,
    /// Its type.
    pub method_type: MethodType,
    /// The masked destination (for `ISSUER_APP`: the issuer's id, whose app to open).
    pub masked: String,
    /// The destination, sealed (AAD `step_up_method:<id>`); none for `ISSUER_APP`.
    pub destination: Option<Sealed>,
}

/// The step-up of one provisioning, as stored.
#[derive(Debug, Clone)]
pub struct StepUpState {
    /// The provisioning.
    pub provisioning_id: String,
    /// The inactive token it would activate.
    pub token_ref_id: String,
    /// Whose it is.
    pub token_requestor_id: String,
    /// Whose it is.
    pub wallet_user_id: String,
    /// Whose it is.
    pub device_id: String,
    /// Where it stands.
    pub status: StepUpStatus,
    /// Wrong codes in a row, across codes.
    pub consecutive_failures: u32,
    /// Codes sent so far.
    pub sends: u32,
    /// Optimistic concurrency: changes apply only to this version.
    pub version: i64,
    /// The offered methods.
    pub methods: Vec<MethodRecord>,
    /// Passed by the issuer's call centre: the answer the wallet collects (JSON of
    /// [`crate::wire::StepUpPassed`]).
    pub released: Option<String>,
}

/// A sent code, as stored (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpRecord {
    /// Id.
    pub otp_id: String,
    /// The provisioning.
    pub provisioning_id: String,
    /// The method it went by.
    pub method_id: String,
    /// HMAC of the id and the code under the vault's hash key.
    pub code_hash: [u8; 32],
    /// Unix seconds.
    pub created_at: UnixSeconds,
    /// Unix seconds.
    pub expires_at: UnixSeconds,
    /// Wrong tries on this code.
    pub wrong_tries: u32,
    /// When it was accepted, if it was.
    pub consumed_at: Option<UnixSeconds>,
}

/// A notification waiting in the outbox; the payload is sealed (AAD `outbox:<id>`).
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Id.
    pub message_id: String,
    /// `sms` or `email` (a [`Notification`]), or `sp_tsm` (a [`crate::SpTsmDelivery`]).
    pub channel: String,
    /// The sealed JSON.
    pub payload: Sealed,
    /// Unix seconds.
    pub created_at: UnixSeconds,
    /// Delivery attempts before this one.
    pub attempts: u32,
}

/// A notification in the clear, only while it is being delivered. `Debug` hides it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Notification {
    /// Id (for the gateway's de-duplication).
    pub message_id: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone number or e-mail address.
    pub to: String,
    /// The message.
    pub text: String,
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("message_id", &self.message_id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// What a send commits: the code's record, the message, and the state's new send count.
#[derive(Debug, Clone)]
pub struct IssuedOtp {
    /// The code's record.
    pub otp: OtpRecord,
    /// The message to deliver.
    pub message: OutboxMessage,
    /// The provisioning.
    pub provisioning_id: String,
    /// The version the change applies to.
    pub expected_version: i64,
    /// Sends after this one.
    pub sends: u32,
    /// Resends still allowed.
    pub resends_left: u32,
    /// The masked destination.
    pub destination: String,
}

/// What a verification commits, in one transaction.
#[derive(Debug, Clone)]
pub struct StepUpChange {
    /// The provisioning.
    pub provisioning_id: String,
    /// The version the change applies to.
    pub expected_version: i64,
    /// New status.
    pub status: StepUpStatus,
    /// New count.
    pub consecutive_failures: u32,
    /// What the wallet presented, and what becomes of it.
    pub proof: Proof,
    /// When the change was made.
    pub at: UnixSeconds,
    /// For a right code: what passing releases (set by [`crate::OtpVerify::process`]).
    pub activation: Option<Activation>,
    /// Passed by the call centre: the answer kept for the wallet to collect.
    pub released: Option<String>,
}

/// What the wallet presented for a step-up, as the change records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A one-time code (docs/protocol.md §6.3).
    Otp {
        /// The code tried.
        otp_id: String,
        /// Its new wrong-try count.
        wrong_tries: u32,
        /// Set when the code was accepted.
        consumed_at: Option<UnixSeconds>,
    },
    /// Activation data the issuer's app signed (docs/protocol.md §17.4): its nonce is used
    /// once per issuer, forever.
    IssuerApp {
        /// The issuer that signed it.
        issuer_id: String,
        /// Its nonce.
        nonce: String,
    },
    /// The issuer's call centre (docs/protocol.md §17.5): the agent who activated the token.
    CallCenter {
        /// The agent's id, in the token's history.
        agent_id: String,
    },
}

/// What a passed step-up commits besides its own change: the token becomes `ACTIVE`, its
/// installation script is recorded and, for a secure element, the job for the issuer's TSM goes
/// to the outbox (docs/protocol.md §6.3, §10.1).
#[derive(Debug, Clone)]
pub struct Activation {
    /// The token's change to `ACTIVE`, with its history entry and events.
    pub change: crate::token_records::TokenChange,
    /// Its installation script, as released.
    pub script: Script,
    /// The issuer TSM's job, for a secure element.
    pub handoff: Option<TsmHandoff>,
}

/// The result of a verification: a change to commit, and the answer.
#[derive(Debug)]
pub enum Verification {
    /// The code was right: commit, activate the token, release the access data.
    Passed(StepUpChange),
    /// The code was wrong: commit the count, then refuse with the error.
    Failed(StepUpChange, StepUpError),
    /// Refused without a change (expired, used, locked, not yours).
    Refused(StepUpError),
}

/// Why a step-up request was refused. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepUpError {
    // The caller's fault.
    /// A field of the request is not as documented (docs/protocol.md §1.7).
    #[error("{0}")]
    Malformed(String),
    /// No step-up exists for the provisioning (approved, declined, or none at all).
    #[error("no step-up exists for this provisioning")]
    NoStepUp,
    /// The provisioning belongs to another wallet user, device or wallet: answered exactly as
    /// one without a step-up (404), so its existence is not told.
    #[error("no step-up exists for this provisioning")]
    NotYours,
    /// No step-up is pending for it (approved, declined, or passed already).
    #[error("no step-up is pending for this provisioning")]
    NotPending,
    /// The method id is not one offered.
    #[error("the method id is not one offered for this provisioning")]
    UnknownMethod,
    /// The method sends no codes (the issuer's app or call centre activates the token).
    #[error("this method sends no codes: the issuer's app or call centre activates the token")]
    NoCodes,
    /// No such token, or not the caller's.
    #[error("no such token")]
    UnknownToken,
    /// The call centre has not activated the token yet.
    #[error("the issuer's call centre has not activated the token yet")]
    ActivationPending,
    /// The code id is not one sent for this provisioning.
    #[error("no such code was sent for this provisioning")]
    UnknownOtp,
    /// The code is wrong.
    #[error("the code is wrong; {tries_left} tries left for this code")]
    OtpInvalid {
        /// Tries left on this code.
        tries_left: u32,
    },
    /// The code has expired.
    #[error("the code has expired; request a new one")]
    OtpExpired,
    /// The code was accepted before.
    #[error("the code was already used")]
    OtpUsed,
    /// The code had too many wrong tries.
    #[error("the code had too many wrong tries; request a new one")]
    OtpTriesExhausted,
    /// No more codes may be sent.
    #[error("no more codes can be sent for this provisioning")]
    ResendLimit,
    /// Locked after too many wrong codes.
    #[error("step-up is locked after too many wrong codes; contact the issuer")]
    Locked,
    /// A concurrent request changed the step-up; retry.
    #[error("the step-up changed concurrently; retry")]
    Conflict,
    /// Refused as a push would be: the hosted-account gate (docs/protocol.md §8.10); or, on
    /// our side, the release of the access data failed.
    #[error(transparent)]
    Push(PushError),
    // Ours.
    /// A cryptographic operation of ours failed.
    #[error("internal failure")]
    Internal,
    /// Our records disagree (a step-up without its token).
    #[error("inconsistent records: {0}")]
    Inconsistent(&'static str),
}

impl Refusal for StepUpError {
    fn code(&self) -> Code {
        match self {
            Self::Malformed(_) => Code::MalformedRequest,
            Self::NoStepUp => Code::NotFound,
            Self::NotYours => Code::NotFound,
            Self::NotPending => Code::StepUpNotPending,
            Self::UnknownMethod | Self::NoCodes => Code::UnknownMethod,
            Self::UnknownToken => Code::UnknownToken,
            Self::ActivationPending => Code::ActivationPending,
            Self::UnknownOtp => Code::NotFound,
            Self::OtpInvalid { .. } => Code::OtpInvalid,
            Self::OtpExpired => Code::OtpExpired,
            Self::OtpUsed => Code::OtpUsed,
            Self::OtpTriesExhausted => Code::OtpTriesExhausted,
            Self::ResendLimit => Code::OtpResendLimit,
            Self::Locked => Code::StepUpLocked,
            Self::Conflict => Code::StepUpConflict,
            Self::Push(e) => e.code(),
            Self::Internal | Self::Inconsistent(_) => Code::InternalError,
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Push(e) => e.fault(),
            Self::Internal | Self::Inconsistent(_) => Fault::Internal,
            _ => Fault::Peer,
        }
    }
}

/// The methods offered for a contact, with their destinations sealed.
pub fn offer_methods(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    contact: &Contact,
) -> Result<Vec<MethodRecord>, StepUpError> {
    let mut methods = Vec::new();
    let candidates = [
        (
            MethodType::OtpSms,
            contact.phone.as_deref().map(|p| (p, mask_phone(p))),
        ),
        (
            MethodType::OtpEmail,
            contact.email.as_deref().map(|e| (e, mask_email(e))),
        ),
    ];
    for (method_type, dest) in candidates {
        let Some((dest, masked)) = dest else { continue };
        let method_id = random_id(crypto, "sm_").map_err(|_| StepUpError::Internal)?;
        let destination = vault
            .seal(crypto, dest.as_bytes(), &method_aad(&method_id))
            .map_err(|_| StepUpError::Internal)?;
        methods.push(MethodRecord {
            method_id,
            method_type,
            masked,
            destination: Some(destination),
        });
    }
    Ok(methods)
}

/// An `ISSUER_APP` or `CALL_CENTER` method (docs/protocol.md §17.4, §17.5): no destination;
/// its masked form names the issuer whose app to open or whose bank to call.
pub fn issuer_method(
    crypto: &dyn CryptoProvider,
    method_type: MethodType,
    issuer_id: &str,
) -> Result<MethodRecord, StepUpError> {
    Ok(MethodRecord {
        method_id: random_id(crypto, "sm_").map_err(|_| StepUpError::Internal)?,
        method_type,
        masked: issuer_id.to_owned(),
        destination: None,
    })
}

fn method_aad(method_id: &str) -> Vec<u8> {
    format!("step_up_method:{method_id}").into_bytes()
}

pub(crate) fn outbox_aad(message_id: &str) -> Vec<u8> {
    format!("outbox:{message_id}").into_bytes()
}

fn code_hash(crypto: &dyn CryptoProvider, vault: &VaultKeys, otp_id: &str, code: &str) -> [u8; 32] {
    vault.lookup_hash(crypto, "otp", &format!("{otp_id}:{code}"))
}

/// Six uniformly random digits.
fn six_digits(crypto: &dyn CryptoProvider) -> Result<String, StepUpError> {
    loop {
        let mut b = [0u8; 4];
        crypto
            .fill_random(&mut b)
            .map_err(|_| StepUpError::Internal)?;
        let n = u32::from_be_bytes(b);
        // Rejection sampling: 4,294,000,000 is the largest multiple of 10^6 below 2^32.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// Opens an outbox message for delivery.
pub fn open_notification(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    message_id: &str,
    payload: &Sealed,
) -> Result<Notification, StepUpError> {
    let plain = vault
        .open(crypto, payload, &outbox_aad(message_id))
        .map_err(|_| StepUpError::Internal)?;
    serde_json::from_slice(plain.expose()).map_err(|_| StepUpError::Internal)
}

impl StepUpState {
    pub(crate) fn check_pending(&self) -> Result<(), StepUpError> {
        match self.status {
            StepUpStatus::Pending => Ok(()),
            StepUpStatus::Locked => Err(StepUpError::Locked),
            StepUpStatus::Passed => Err(StepUpError::NotPending),
        }
    }

    /// Issues a code by `method_id`: the record to store and the message for the outbox.
    pub fn issue(
        &self,
        crypto: &dyn CryptoProvider,
        vault: &VaultKeys,
        method_id: &str,
        sender: &str,
        now: UnixSeconds,
        config: &StepUpConfig,
    ) -> Result<IssuedOtp, StepUpError> {
        self.check_pending()?;
        let method = self
            .methods
            .iter()
            .find(|m| m.method_id == method_id)
            .ok_or(StepUpError::UnknownMethod)?;
        let (Some(channel), Some(destination)) =
            (method.method_type.channel(), method.destination.as_ref())
        else {
            return Err(StepUpError::NoCodes);
        };
        if self.sends > config.max_resends {
            return Err(StepUpError::ResendLimit);
        }
        let internal = |_| StepUpError::Internal;
        let otp_id = random_id(crypto, "otp_").map_err(internal)?;
        let code = zeroize::Zeroizing::new(six_digits(crypto)?);
        let to = vault
            .open(crypto, destination, &method_aad(&method.method_id))
            .map_err(internal)?;
        let message_id = random_id(crypto, "msg_").map_err(internal)?;
        let minutes = config.otp_ttl_s / 60;
        let notification = Notification {
            message_id: message_id.clone(),
            channel: channel.into(),
            to: String::from_utf8(to.expose().to_vec()).map_err(|_| StepUpError::Internal)?,
            text: format!(
                "{sender}: your code to add your card to your wallet is {}. It expires in {minutes} minutes. Never share it.",
                code.as_str()
            ),
        };
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(&notification).map_err(|_| StepUpError::Internal)?,
        );
        let payload = vault
            .seal(crypto, &plain, &outbox_aad(&message_id))
            .map_err(internal)?;
        let sends = self.sends + 1;
        Ok(IssuedOtp {
            otp: OtpRecord {
                code_hash: code_hash(crypto, vault, &otp_id, &code),
                otp_id,
                provisioning_id: self.provisioning_id.clone(),
                method_id: method.method_id.clone(),
                created_at: now,
                expires_at: now + config.otp_ttl_s,
                wrong_tries: 0,
                consumed_at: None,
            },
            message: OutboxMessage {
                attempts: 0,
                message_id,
                channel: notification.channel.clone(),
                payload,
                created_at: now,
            },
            provisioning_id: self.provisioning_id.clone(),
            expected_version: self.version,
            sends,
            resends_left: (config.max_resends + 1).saturating_sub(sends),
            destination: method.masked.clone(),
        })
    }

    /// Checks `code` against the code `otp` (which the caller loaded for this provisioning).
    pub fn verify(
        &self,
        crypto: &dyn CryptoProvider,
        vault: &VaultKeys,
        otp: &OtpRecord,
        code: &str,
        now: UnixSeconds,
        config: &StepUpConfig,
    ) -> Verification {
        if otp.provisioning_id != self.provisioning_id {
            return Verification::Refused(StepUpError::UnknownOtp);
        }
        if otp.consumed_at.is_some() {
            return Verification::Refused(StepUpError::OtpUsed);
        }
        if let Err(e) = self.check_pending() {
            return Verification::Refused(e);
        }
        if now >= otp.expires_at {
            return Verification::Refused(StepUpError::OtpExpired);
        }
        if otp.wrong_tries >= config.max_tries_per_code {
            return Verification::Refused(StepUpError::OtpTriesExhausted);
        }
        let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        let right =
            well_formed && ct_eq(&code_hash(crypto, vault, &otp.otp_id, code), &otp.code_hash);
        let mut change = StepUpChange {
            provisioning_id: self.provisioning_id.clone(),
            expected_version: self.version,
            status: StepUpStatus::Passed,
            consecutive_failures: 0,
            proof: Proof::Otp {
                otp_id: otp.otp_id.clone(),
                wrong_tries: otp.wrong_tries,
                consumed_at: Some(now),
            },
            at: now,
            activation: None,
            released: None,
        };
        if right {
            return Verification::Passed(change);
        }
        let wrong_tries = otp.wrong_tries + 1;
        change.proof = Proof::Otp {
            otp_id: otp.otp_id.clone(),
            wrong_tries,
            consumed_at: None,
        };
        change.consecutive_failures = self.consecutive_failures + 1;
        if change.consecutive_failures >= config.lockout_after {
            change.status = StepUpStatus::Locked;
            return Verification::Failed(change, StepUpError::Locked);
        }
        change.status = StepUpStatus::Pending;
        let tries_left = config.max_tries_per_code.saturating_sub(wrong_tries);
        Verification::Failed(change, StepUpError::OtpInvalid { tries_left })
    }
}

//! The stable error codes every refusal carries (docs/protocol.md §4), and whose fault a
//! refusal is.
//!
//! A core names a refusal with a [`Code`] and a [`Fault`]; it never chooses an HTTP status.
//! What a code means over HTTP (status, title, description) is defined once, in the server's
//! `error::code` module, by an exhaustive match over [`Code::ALL`]: a new code does not
//! compile until it has them.

use std::fmt;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal,)*) => {
        /// A stable, machine-readable error code: the `code` member of a problem document.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order of docs/protocol.md §4.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as it travels: `snake_case`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $wire,)*
                }
            }
        }
    };
}

codes! {
    // Any endpoint.
    /// No API key, or an unknown one.
    Unauthorized = "unauthorized",
    /// A valid caller acting on what is not its own.
    Forbidden = "forbidden",
    /// No such resource (or not the caller's to see).
    NotFound = "not_found",
    /// The body or a parameter is not the documented shape.
    MalformedRequest = "malformed_request",
    /// The path does not take this method.
    MethodNotAllowed = "method_not_allowed",
    /// The body is larger than the endpoint accepts.
    PayloadTooLarge = "payload_too_large",
    /// The body is not sent as `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// Too many failed authentications from this peer; retry after `Retry-After` seconds.
    TooManyFailedAuthentications = "too_many_failed_authentications",
    /// The request (headers, body or handling) took longer than the server allows.
    RequestTimeout = "request_timeout",
    /// The same `Idempotency-Key` came with another body.
    IdempotencyConflict = "idempotency_conflict",
    /// The store cannot be reached; retry later.
    Unavailable = "unavailable",
    /// Our own failure; the detail is logged, never sent.
    InternalError = "internal_error",

    // Registration.
    /// The issuer id is registered already.
    IssuerExists = "issuer_exists",
    /// The token requestor id is registered already.
    TokenRequestorExists = "token_requestor_exists",
    /// The network id is registered already.
    NetworkExists = "network_exists",
    /// A card range prefix belongs to another issuer.
    BinRangeTaken = "bin_range_taken",
    /// A TSM needs a report URL, and the service runs without `--public-url`.
    NoPublicUrl = "no_public_url",

    // Push provisioning.
    /// The JWE is malformed, names an unknown key, or does not decrypt.
    PayloadUndecryptable = "payload_undecryptable",
    /// The inner JWS does not verify under the issuer's registered key.
    SignatureInvalid = "signature_invalid",
    /// The request data (or the account request) names an unknown issuer.
    UnknownIssuer = "unknown_issuer",
    /// The request data is addressed to another token service.
    AudienceMismatch = "audience_mismatch",
    /// An inner binding differs from the outer request or the caller.
    BindingMismatch = "binding_mismatch",
    /// `iat` is outside the freshness window.
    StaleTimestamp = "stale_timestamp",
    /// The session id or `jti` was accepted before.
    ReplayedRequest = "replayed_request",
    /// The PAN or the expiry is not acceptable.
    InvalidAccount = "invalid_account",
    /// A hosted wallet's user has no `ACTIVE` account on this device.
    AccountNotActive = "account_not_active",
    /// A hosted wallet's push names another binding key than the account's device has.
    DeviceKeyMismatch = "device_key_mismatch",
    /// The device already holds a live token of this card for this wallet (its reference is
    /// in the problem's `token_ref_id`).
    AlreadyInWallet = "already_in_wallet",

    // Step-up.
    /// The method id is not one offered.
    UnknownMethod = "unknown_method",
    /// The code is wrong.
    OtpInvalid = "otp_invalid",
    /// The code has expired.
    OtpExpired = "otp_expired",
    /// The code had too many wrong tries.
    OtpTriesExhausted = "otp_tries_exhausted",
    /// The code was accepted before.
    OtpUsed = "otp_used",
    /// No step-up is pending for the provisioning.
    StepUpNotPending = "step_up_not_pending",
    /// A concurrent request changed the step-up.
    StepUpConflict = "step_up_conflict",
    /// Locked after too many wrong codes.
    StepUpLocked = "step_up_locked",
    /// No more codes may be sent.
    OtpResendLimit = "otp_resend_limit",
    /// The issuer's call centre has not activated the token yet.
    ActivationPending = "activation_pending",

    // Installation scripts.
    /// The report names another script.
    ScriptMismatch = "script_mismatch",
    /// A step is missing, out of order or failed.
    ScriptIncomplete = "script_incomplete",
    /// A device report for a script that the issuer's TSM installs.
    ReportedByTsm = "reported_by_tsm",
    /// A TSM report contradicting the recorded outcome.
    ReportConflict = "report_conflict",

    // The token's life.
    /// No such token, or not the caller's to see.
    UnknownToken = "unknown_token",
    /// The token's state machine does not allow the change.
    InvalidTransition = "invalid_transition",
    /// A concurrent change kept winning; retry.
    TokenConflict = "token_conflict",
    /// No such dead-lettered event.
    UnknownEvent = "unknown_event",

    // Hosted wallet accounts.
    /// The account request names a wallet module this service did not transmit.
    ModuleUnknown = "module_unknown",
    /// The account request's wallet module was superseded.
    ModuleSuperseded = "module_superseded",
    /// The wallet user has an account that is not expired.
    AccountExists = "account_exists",
    /// The account is not `PENDING_ACTIVATION`.
    AccountNotPending = "account_not_pending",
    /// The pending account expired.
    AccountExpired = "account_expired",
    /// The account changed concurrently.
    AccountConflict = "account_conflict",
    /// A state machine does not allow the event in its state.
    IllegalTransition = "illegal_transition",
    /// The user opted out of knowledge-based verification.
    KbaOptedOut = "kba_opted_out",
    /// An answer with no question open.
    KbaNoOpenQuestion = "kba_no_open_question",
    /// An answer to another question than the open one.
    KbaQuestionMismatch = "kba_question_mismatch",
    /// The option id is not one of the question's.
    KbaUnknownOption = "kba_unknown_option",
    /// Not enough questions can be drawn for the account.
    KbaUnavailable = "kba_unavailable",
    /// The issuer's or third party's question source failed or answered out of contract.
    KbaSourceError = "kba_source_error",

    // Trusted service managers.
    /// An AID outside the service provider's own range.
    OutsideOwnDomain = "outside_own_domain",
    /// A request id reused with another body.
    RequestConflict = "request_conflict",
    /// Personalisation delegated before the domain exists.
    DomainNotReady = "domain_not_ready",
    /// A key handover package did not open, or is for another domain.
    HandoverRefused = "handover_refused",
    /// A response arrived after the session finished.
    SessionFinished = "session_finished",
    /// The relayed bytes are not a response APDU, or their protection did not verify.
    SecureChannelError = "secure_channel_error",
    /// The element answered a step with a status word the plan does not accept.
    ElementRefused = "element_refused",
    /// The element refused the secure channel with every key set held for it.
    NoSession = "no_session",
    /// A participant id registered already (carrier TSM).
    AlreadyExists = "already_exists",
    /// The element is not registered at the carrier.
    UnknownElement = "unknown_element",
    /// The OTA session belongs to another TSM.
    WrongTsm = "wrong_tsm",
    /// The request has nothing left to do.
    NothingToDo = "nothing_to_do",
    /// The job's previous step is not done yet.
    NotReady = "not_ready",
    /// Another session is working on the request.
    RequestBusy = "request_busy",
    /// The request failed for good.
    RequestFailed = "request_failed",
    /// The session is not (or no longer) held by this instance.
    SessionGone = "session_gone",
    /// The credential does not open under the TSM's key.
    CredentialUnreadable = "credential_unreadable",
}

impl Code {
    /// The code named by its wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose fault a refusal is (the grouping of every core's error enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The other party (wallet, issuer, TSM, element, question source) sent or did something
    /// this side refuses; the refusal is told to it with its code.
    Peer,
    /// The program calling the core misused it (a wrong state or configuration): a bug or a
    /// misconfiguration on this side, logged, never explained to the peer.
    Caller,
    /// An operation of this side failed (cryptography, storage); logged, never explained to
    /// the peer.
    Internal,
}

/// A core's refusal: what it is called on the wire and whose fault it is.
pub trait Refusal: std::error::Error {
    /// The stable code.
    fn code(&self) -> Code;
    /// Whose fault.
    fn fault(&self) -> Fault;
    /// The token a refusal names for the caller (`already_in_wallet`: the existing token).
    fn token_ref_id(&self) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_unique_snake_case_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for &code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s} is not snake_case"
            );
            assert_eq!(Code::parse(s), Some(code));
        }
        assert_eq!(Code::parse("Internal error"), None);
    }
}

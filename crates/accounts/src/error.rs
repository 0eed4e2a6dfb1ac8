//! Why a request about a hosted account was refused: the crate's one error type, each refusal
//! named by its stable code (docs/protocol.md §4.6) and grouped by whose fault it is.

use provisio_types::{Code, Fault, Refusal};

use crate::AccountState;
use crate::state::IllegalTransition;

/// Why an account request or a verification step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KbaError {
    // The wallet, the issuer or the admin sent something refused.
    /// A body or a member of it is not as documented; the sentence names the member.
    #[error("{0}")]
    Malformed(String),
    /// The account names an issuer that is not registered.
    #[error("issuer_id names no registered issuer")]
    UnknownIssuer,
    /// The account request names a wallet module this service did not transmit (the manifest
    /// is not its own, or not for the version named).
    #[error("module: {0}")]
    ModuleUnknown(&'static str),
    /// The installed wallet module was superseded; install the current one first.
    #[error(
        "the installed wallet module {installed} was superseded by {current}; install the current one (GET /v1/wallet-module)"
    )]
    ModuleSuperseded {
        /// The version the request names.
        installed: String,
        /// The version the service transmits now.
        current: String,
    },
    /// The wallet user already has an account that is not expired (found on commit).
    #[error("this wallet user already has an account that is not expired")]
    AccountExists,
    /// The account changed concurrently, or a question would be asked twice (found on
    /// commit).
    #[error("the account changed concurrently; read it again and retry")]
    Conflict,
    /// The account is not pending (already active, locked or expired).
    #[error("the account is {0}, not PENDING_ACTIVATION")]
    NotPending(AccountState),
    /// The pending time elapsed; commit [`crate::AccountProgress::expire`].
    #[error("the account was not activated in time and has expired")]
    Expired,
    /// The user opted out; the issuer verifies instead.
    #[error("knowledge-based verification was opted out of; the card issuer verifies the user")]
    OptedOut,
    /// An answer arrived with no question open.
    #[error("no question is open; ask for one first")]
    NoOpenQuestion,
    /// An answer to a question other than the open one.
    #[error("the answer is not for the open question")]
    WrongQuestion,
    /// The chosen option is not one of the open question's.
    #[error("option_id is not an option of the open question")]
    UnknownOption,
    /// The bank has too few questions never asked of the account for an attempt.
    #[error(
        "the question bank has {have} unused questions for this customer and an attempt needs {need}; opt out to have the card issuer verify the user"
    )]
    Unavailable {
        /// Unused questions.
        have: usize,
        /// Questions per attempt.
        need: u32,
    },
    /// The event is not allowed in the account's state.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),

    // The issuer's or third party's question source failed (docs/protocol.md §9.7).
    /// Unreachable, a non-2xx status, a body that is not the documented JSON, or questions
    /// that break the rules; the sentence says which.
    #[error("{0}")]
    Source(String),

    // Our side failed.
    /// Sealing, opening or encoding stored data failed, or stored data is not what this
    /// service wrote; logged, never told.
    #[error("{0}")]
    Internal(String),
}

impl KbaError {
    /// Our side failed at `what`.
    pub(crate) fn internal(what: &str, cause: &dyn std::fmt::Display) -> Self {
        Self::Internal(format!("{what}: {cause}"))
    }
}

impl Refusal for KbaError {
    fn code(&self) -> Code {
        match self {
            Self::Malformed(_) => Code::MalformedRequest,
            Self::UnknownIssuer => Code::UnknownIssuer,
            Self::ModuleUnknown(_) => Code::ModuleUnknown,
            Self::ModuleSuperseded { .. } => Code::ModuleSuperseded,
            Self::AccountExists => Code::AccountExists,
            Self::Conflict => Code::AccountConflict,
            Self::NotPending(_) => Code::AccountNotPending,
            Self::Expired => Code::AccountExpired,
            Self::OptedOut => Code::KbaOptedOut,
            Self::NoOpenQuestion => Code::KbaNoOpenQuestion,
            Self::WrongQuestion => Code::KbaQuestionMismatch,
            Self::UnknownOption => Code::KbaUnknownOption,
            Self::Unavailable { .. } => Code::KbaUnavailable,
            Self::Illegal(_) => Code::IllegalTransition,
            Self::Source(_) => Code::KbaSourceError,
            Self::Internal(_) => Code::InternalError,
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Internal(_) => Fault::Internal,
            _ => Fault::Peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_failures_are_hidden() {
        let hidden = KbaError::internal("opening a question", &"bad tag");
        assert_eq!(
            (hidden.code(), hidden.fault()),
            (Code::InternalError, Fault::Internal)
        );
        for told in [
            KbaError::Malformed("x".into()),
            KbaError::Source("the question source is unreachable".into()),
            KbaError::Unavailable { have: 3, need: 4 },
        ] {
            assert_eq!(told.fault(), Fault::Peer, "{told}");
        }
        assert!(
            KbaError::Unavailable { have: 3, need: 4 }
                .to_string()
                .contains("opt out")
        );
    }
}

//! The crate's error type.

use provisio_gp::{GpError, StatusWord};
use provisio_types::{Code, Fault, Refusal};

/// Why a TSM session or service request did not complete. Its [`Refusal`] impl gives
/// the stable code the HTTP edge answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsmError {
    // --- The element (or the relay in front of it) misbehaved ---
    /// The bytes relayed back are not a response APDU, or its protection did not verify.
    #[error("secure channel: {0}")]
    Channel(#[from] GpError),
    /// A step was answered with a status word the plan does not accept.
    #[error("step '{step}' answered {sw}")]
    Refused {
        /// The step's label.
        step: String,
        /// What the element answered.
        sw: StatusWord,
    },
    /// The element refused the session itself (SELECT, INITIALIZE UPDATE, EXTERNAL
    /// AUTHENTICATE), with every key set the TSM holds for it.
    #[error("no session: {stage} answered {sw}")]
    NoSession {
        /// Which command.
        stage: &'static str,
        /// What the element answered.
        sw: StatusWord,
    },

    // --- The requesting party (operator, TSM, OTA client) sent what we refuse ---
    /// A body member or a relayed APDU is not the documented shape (the text says which).
    #[error("{0}")]
    Malformed(String),
    /// A service request for an element this carrier does not manage.
    #[error("this carrier manages no such secure element")]
    UnknownElement,
    /// No service request by that id of that provider for the caller's element.
    #[error("no such service request")]
    NoSuchRequest,
    /// An OTA session opened at the carrier for a request whose sessions are with the
    /// provider.
    #[error("this request's session is with the service provider's TSM")]
    WrongTsm,
    /// A session for a request or job that is finished.
    #[error("this {0} is finished")]
    NothingToDo(&'static str),
    /// An OTA session for a job that is not delegated yet.
    #[error("this job is not ready for a session yet; try again")]
    NotReady,
    /// Opening this session failed the request (it needed too many).
    #[error("the request failed: {0}")]
    RequestFailed(String),
    /// A job's credential does not open with the SP-TSM's key.
    #[error("the credential does not open with this TSM's key")]
    CredentialUnreadable,
    /// A service provider asked for a domain or applet outside its own AID range.
    #[error("{0} is outside the service provider's own domain")]
    OutsideOwnDomain(String),
    /// The same request id came with another body.
    #[error("request id reused with another body")]
    RequestConflict,
    /// Personalisation was delegated for a domain this SEI-TSM has not created for the
    /// service provider on that element.
    #[error("the security domain is not ready on this element")]
    DomainNotReady,
    /// A key handover package did not open, or was for another domain or request.
    #[error("key handover package refused")]
    Handover,

    // --- The caller misused the API ---
    /// A response arrived after the session finished.
    #[error("the session has finished")]
    Finished,
    /// A service request event that its state does not allow.
    #[error("service request is {state}, cannot {event}")]
    IllegalTransition {
        /// The current state.
        state: &'static str,
        /// The event refused.
        event: &'static str,
    },

    // --- Our side failed ---
    /// A stored value does not decode or open, or randomness or sealing failed; the text is
    /// logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl TsmError {
    /// Our side failed: `cause` is logged by whoever answers, never sent.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl Refusal for TsmError {
    fn code(&self) -> Code {
        match self {
            Self::Channel(_) => Code::SecureChannelError,
            Self::Refused { .. } => Code::ElementRefused,
            Self::NoSession { .. } => Code::NoSession,
            Self::OutsideOwnDomain(_) => Code::OutsideOwnDomain,
            Self::RequestConflict => Code::RequestConflict,
            Self::DomainNotReady => Code::DomainNotReady,
            Self::Handover => Code::HandoverRefused,
            Self::Finished => Code::SessionFinished,
            Self::IllegalTransition { .. } => Code::IllegalTransition,
            Self::Malformed(_) => Code::MalformedRequest,
            Self::UnknownElement => Code::UnknownElement,
            Self::NoSuchRequest => Code::NotFound,
            Self::WrongTsm => Code::WrongTsm,
            Self::NothingToDo(_) => Code::NothingToDo,
            Self::NotReady => Code::NotReady,
            Self::RequestFailed(_) => Code::RequestFailed,
            Self::CredentialUnreadable => Code::CredentialUnreadable,
            Self::Internal(_) => Code::InternalError,
        }
    }

    /// The element, the relay or the requesting party misbehaved; a misused session (a
    /// response after the end, an event its state does not allow) is still the peer's, since
    /// the peer's messages drive it. Only [`TsmError::Internal`] is ours.
    fn fault(&self) -> Fault {
        match self {
            Self::Internal(_) => Fault::Internal,
            _ => Fault::Peer,
        }
    }
}

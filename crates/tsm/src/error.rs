//! The crate's error type.

use provisio_gp::{GpError, StatusWord};

/// Why a TSM session or service request did not complete.
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
}

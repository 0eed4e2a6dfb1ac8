//! The service request state machine both TSMs keep for every request (received, in
//! progress, done, failed), so that a restart or a lost phone never leaves a request in
//! between. Sessions are counted: a request that needs too many gives up.
//!
//! ```text
//!  RECEIVED ─session_opened─► IN_PROGRESS(n) ─completed─► DONE
//!      │                         │ ▲ session_opened (n+1, at most MAX_SESSIONS)
//!      └──────── failed ─────────┴─┴──────────► FAILED
//! ```

use serde::{Deserialize, Serialize};

use crate::TsmError;

/// The most sessions one request may take before it fails.
pub const MAX_SESSIONS: u32 = 5;

/// Where a service request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestState {
    /// Accepted and stored; no session yet.
    Received,
    /// At least one session opened; the plan is not complete on the element.
    InProgress {
        /// Sessions opened so far.
        sessions: u32,
    },
    /// The plan is complete on the element.
    Done,
    /// Given up.
    Failed {
        /// Why (a stable code).
        reason: String,
    },
}

/// What happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent {
    /// A session with the element opened for it.
    SessionOpened,
    /// A session reported the plan complete.
    Completed,
    /// The request cannot complete.
    Failed(String),
}

impl RequestState {
    /// The state's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Received => "RECEIVED",
            Self::InProgress { .. } => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Failed { .. } => "FAILED",
        }
    }

    /// The stored form (JSON, as on the wire).
    pub fn encode(&self) -> String {
        // A tagged enum of strings and integers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`RequestState::encode`].
    pub fn decode(stored: &str) -> Result<Self, TsmError> {
        serde_json::from_str(stored).map_err(TsmError::internal)
    }

    /// Whether nothing more will happen to the request.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Failed { .. })
    }

    /// The state after `event`; final states take no event.
    pub fn apply(self, event: RequestEvent) -> Result<Self, TsmError> {
        let illegal = |state: &Self, event: &'static str| TsmError::IllegalTransition {
            state: state.name(),
            event,
        };
        match (self, event) {
            (Self::Received, RequestEvent::SessionOpened) => Ok(Self::InProgress { sessions: 1 }),
            (Self::InProgress { sessions }, RequestEvent::SessionOpened)
                if sessions >= MAX_SESSIONS =>
            {
                Ok(Self::Failed {
                    reason: "too_many_sessions".into(),
                })
            }
            (Self::InProgress { sessions }, RequestEvent::SessionOpened) => Ok(Self::InProgress {
                sessions: sessions + 1,
            }),
            (Self::InProgress { .. }, RequestEvent::Completed) => Ok(Self::Done),
            (Self::Received | Self::InProgress { .. }, RequestEvent::Failed(reason)) => {
                Ok(Self::Failed { reason })
            }
            (s @ Self::Received, RequestEvent::Completed) => Err(illegal(&s, "complete")),
            (s, RequestEvent::SessionOpened) => Err(illegal(&s, "open a session")),
            (s, RequestEvent::Completed) => Err(illegal(&s, "complete")),
            (s, RequestEvent::Failed(_)) => Err(illegal(&s, "fail")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn transitions() {
        let s = RequestState::Received
            .apply(RequestEvent::SessionOpened)
            .unwrap();
        let s = s.apply(RequestEvent::SessionOpened).unwrap();
        assert_eq!(s, RequestState::InProgress { sessions: 2 });
        assert_eq!(
            s.clone().apply(RequestEvent::Completed).unwrap(),
            RequestState::Done
        );
        assert!(
            RequestState::Done
                .apply(RequestEvent::SessionOpened)
                .is_err(),
            "done is final"
        );
        assert!(
            RequestState::Received
                .apply(RequestEvent::Completed)
                .is_err(),
            "no session, no completion"
        );
        let mut s = RequestState::Received;
        for _ in 0..MAX_SESSIONS {
            s = s.apply(RequestEvent::SessionOpened).unwrap();
        }
        assert_eq!(
            s.apply(RequestEvent::SessionOpened).unwrap().name(),
            "FAILED"
        );
        let failed = RequestState::Received
            .apply(RequestEvent::Failed("se_unknown".into()))
            .unwrap();
        assert!(failed.is_final() && failed.apply(RequestEvent::Completed).is_err());
    }
}

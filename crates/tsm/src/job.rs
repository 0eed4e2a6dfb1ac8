//! The SP-TSM's provisioning job (US 8,060,449 steps 1, 2, 5 and 6): what the issuer's TSM
//! does for one token on one secure element, as a state machine that survives restarts.
//!
//! ```text
//!  RECEIVED ─domain requested─► DOMAIN_REQUESTED ─handover opened─► DOMAIN_READY
//!     ─personalisation delegated─► DELEGATED ─keys taken over─► KEYS_TAKEN
//!     ─personalised─► DONE            (any state but DONE ─failed─► FAILED)
//! ```
//!
//! While DELEGATED or KEYS_TAKEN the phone's OTA client opens sessions straight to the
//! SP-TSM; [`JobState::next_session`] says which plan the next one runs.

use serde::{Deserialize, Serialize};

use crate::TsmError;

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Accepted from the token service.
    Received,
    /// CREATE_DOMAIN sent to the carrier's TSM.
    DomainRequested,
    /// The carrier created the domain and handed its initial keys over.
    DomainReady,
    /// Personalisation delegated: the OTA client will come to the SP-TSM.
    Delegated,
    /// The initial keys are replaced by the SP-TSM's own.
    KeysTaken,
    /// The credential is on the element.
    Done,
    /// Given up.
    Failed {
        /// A stable code.
        reason: String,
    },
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// The carrier accepted the CREATE_DOMAIN request.
    DomainRequested,
    /// The handover package opened.
    HandoverOpened,
    /// The carrier accepted the delegation.
    Delegated,
    /// A key handover session finished.
    KeysTaken,
    /// A personalisation session finished.
    Personalized,
    /// Cannot complete.
    Failed(String),
}

/// Which plan an SP-TSM session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// [`crate::TakeOverKeys`].
    TakeOverKeys,
    /// [`crate::Personalize`].
    Personalize,
}

impl JobState {
    /// The state's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Received => "RECEIVED",
            Self::DomainRequested => "DOMAIN_REQUESTED",
            Self::DomainReady => "DOMAIN_READY",
            Self::Delegated => "DELEGATED",
            Self::KeysTaken => "KEYS_TAKEN",
            Self::Done => "DONE",
            Self::Failed { .. } => "FAILED",
        }
    }

    /// The session an OTA client may open now, if any.
    pub fn next_session(&self) -> Option<SessionKind> {
        match self {
            Self::Delegated => Some(SessionKind::TakeOverKeys),
            Self::KeysTaken => Some(SessionKind::Personalize),
            _ => None,
        }
    }

    /// The state after `event`.
    pub fn apply(self, event: JobEvent) -> Result<Self, TsmError> {
        use JobState as S;
        let illegal = |s: &Self, event| TsmError::IllegalTransition {
            state: s.name(),
            event,
        };
        match (self, event) {
            (S::Received, JobEvent::DomainRequested) => Ok(S::DomainRequested),
            (S::DomainRequested, JobEvent::HandoverOpened) => Ok(S::DomainReady),
            (S::DomainReady, JobEvent::Delegated) => Ok(S::Delegated),
            (S::Delegated, JobEvent::KeysTaken) => Ok(S::KeysTaken),
            (S::KeysTaken, JobEvent::Personalized) => Ok(S::Done),
            (s @ (S::Done | S::Failed { .. }), _) => Err(illegal(&s, "change a finished job")),
            (_, JobEvent::Failed(reason)) => Ok(S::Failed { reason }),
            (s, _) => Err(illegal(&s, "take this step now")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_happy_path_and_its_refusals() {
        let mut s = JobState::Received;
        for (event, next) in [
            (JobEvent::DomainRequested, None),
            (JobEvent::HandoverOpened, None),
            (JobEvent::Delegated, Some(SessionKind::TakeOverKeys)),
            (JobEvent::KeysTaken, Some(SessionKind::Personalize)),
            (JobEvent::Personalized, None),
        ] {
            s = s.apply(event).unwrap();
            assert_eq!(s.next_session(), next, "{}", s.name());
        }
        assert_eq!(s, JobState::Done);
        assert!(s.apply(JobEvent::Personalized).is_err(), "done is final");
        assert!(
            JobState::Received.apply(JobEvent::KeysTaken).is_err(),
            "no skipping"
        );
        let failed = JobState::Delegated
            .apply(JobEvent::Failed("carrier_refused".into()))
            .unwrap();
        assert_eq!(failed.name(), "FAILED");
        assert!(failed.apply(JobEvent::Delegated).is_err());
    }
}

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
//! SP-TSM; [`JobState::next_session`] says which plan the next one runs. The other steps need
//! the carrier, and the driver takes them (docs/protocol.md §12.6): [`next_step`] says what
//! to do for a job, the driver does it (one call to the carrier or to the job's caller), and
//! commits what it was told to.
//!
//! ```text
//!  RECEIVED          ─► Send CREATE_DOMAIN <job>.create, then DOMAIN_REQUESTED
//!  DOMAIN_REQUESTED  ─► Poll <job>.create ─on_carrier_status─► DOMAIN_READY (handover
//!                         opened, own keys made, OTA ticket) | FAILED | nothing yet
//!  DOMAIN_READY      ─► Send DELEGATE_PERSONALIZATION <job>.perso, then DELEGATED
//!  DELEGATED, KEYS_TAKEN ─► Idle (the phone's sessions move the job)
//!  DONE, FAILED      ─► Report to the caller until acknowledged, then Idle
//! ```

use std::fmt;

use provisio_gp::Aid;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::context::SpContext;
use crate::wire::{JobStatus, RequestStatus};
use crate::{RequestKind, RequestState, Sealed, ServiceRequest, TsmError, open_initial_keys};

/// The key version of the SP-TSM's own keys for a domain (docs/protocol.md §12.6).
const OWN_KVN: u8 = 0x31;
/// Its own keys are AES-256.
const OWN_KEY_LEN: usize = 32;

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

/// A job as the SP-TSM stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id (chosen by the caller, the provisioning id).
    pub job_id: String,
    /// The caller that created it.
    pub caller: String,
    /// The element.
    pub se_id: String,
    /// The issuer's security domain.
    pub ssd: Aid,
    /// The payment applet instance.
    pub applet: Aid,
    /// The token credential: a JWE to the SP-TSM's key.
    pub credential: String,
    /// SHA-256 of the request that created it.
    pub fingerprint: [u8; 32],
    /// Where it stands.
    pub state: JobState,
    /// The domain's initial keys from the handover, sealed for [`Sealed::JobInitialKeys`].
    pub initial_keys: Option<Vec<u8>>,
    /// The SP-TSM's own keys for the domain, sealed for [`Sealed::JobOwnKeys`].
    pub own_keys: Option<Vec<u8>>,
    /// Where its end is reported, if the caller asked.
    pub report_url: Option<String>,
    /// The report's bearer token, sealed for [`Sealed::ReportToken`].
    pub report_token: Option<Vec<u8>>,
    /// When the report was acknowledged.
    pub reported_at: Option<i64>,
    /// The version its next change must find.
    pub version: i64,
}

/// A change to a job, to commit only if it is still at `version`.
#[derive(Clone, PartialEq, Eq)]
pub struct JobUpdate {
    /// The new state.
    pub state: JobState,
    /// Sets the initial keys (sealed).
    pub initial_keys: Option<Vec<u8>>,
    /// Sets the own keys (sealed).
    pub own_keys: Option<Vec<u8>>,
    /// Sets the hash of the OTA ticket (SHA-256, as an API key's).
    pub ticket_hash: Option<[u8; 32]>,
    /// The version it was read at.
    pub version: i64,
}

/// What the driver does next for a job.
#[derive(Debug, PartialEq, Eq)]
pub enum DriverStep {
    /// Send `request` to the carrier (`POST /v1/sei/service-requests`); once it is accepted,
    /// commit `then`. A refusal or a failed call is repeated on the next pass.
    Send {
        /// The service request (idempotent at the carrier: its id is the job's and the step's).
        request: ServiceRequest,
        /// The job's change once the carrier accepted.
        then: JobUpdate,
    },
    /// Read the carrier's status of `request_id` (`GET /v1/sei/service-requests/{id}`) and
    /// commit what [`on_carrier_status`] makes of it.
    Poll {
        /// The CREATE_DOMAIN's request id.
        request_id: String,
    },
    /// Tell the caller how the job ended (`POST` `status` to `url` with `token` as the
    /// bearer), until it acknowledges (2xx, or 409: it holds another outcome); then record
    /// the acknowledgement (docs/protocol.md §10.5).
    Report {
        /// The caller's report URL.
        url: String,
        /// The bearer token.
        token: ReportToken,
        /// The report.
        status: JobStatus,
    },
    /// Nothing for the driver: the phone's sessions move the job, or it ended and was
    /// reported (or no report was asked for).
    Idle,
}

/// A job's report token, opened for one report. Its `Debug` shows nothing.
#[derive(PartialEq, Eq)]
pub struct ReportToken(Zeroizing<String>);

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

    /// The stored form (JSON, as on the wire).
    pub fn encode(&self) -> String {
        // A tagged enum of strings: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`JobState::encode`].
    pub fn decode(stored: &str) -> Result<Self, TsmError> {
        serde_json::from_str(stored).map_err(TsmError::internal)
    }

    /// Whether the job ended (DONE or FAILED).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Failed { .. })
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

impl Job {
    /// Its status, as its caller reads it (docs/protocol.md §12.5).
    pub fn status(&self) -> JobStatus {
        JobStatus {
            job_id: self.job_id.clone(),
            state: self.state.clone(),
        }
    }

    /// A change to `state` alone.
    pub(crate) fn update(&self, state: JobState) -> JobUpdate {
        JobUpdate {
            state,
            initial_keys: None,
            own_keys: None,
            ticket_hash: None,
            version: self.version,
        }
    }

    /// The state after `event`, as a change.
    fn after(&self, event: JobEvent) -> Result<JobUpdate, TsmError> {
        Ok(self.update(self.state.clone().apply(event)?))
    }

    /// The CREATE_DOMAIN's request id at the carrier.
    fn create_id(&self) -> String {
        format!("{}.create", self.job_id)
    }
}

/// What the driver does next for `job` (docs/protocol.md §12.6).
pub fn next_step(ctx: &SpContext<'_>, job: &Job) -> Result<DriverStep, TsmError> {
    Ok(match &job.state {
        JobState::Received => DriverStep::Send {
            request: ServiceRequest {
                request_id: job.create_id(),
                se_id: job.se_id.clone(),
                kind: RequestKind::CreateDomain {
                    ssd: job.ssd.clone(),
                    applet: job.applet.clone(),
                },
            },
            then: job.after(JobEvent::DomainRequested)?,
        },
        JobState::DomainRequested => DriverStep::Poll {
            request_id: job.create_id(),
        },
        JobState::DomainReady => DriverStep::Send {
            request: ServiceRequest {
                request_id: format!("{}.perso", job.job_id),
                se_id: job.se_id.clone(),
                kind: RequestKind::DelegatePersonalization {
                    ssd: job.ssd.clone(),
                    sp_endpoint: format!(
                        "{}/v1/sp/ota#{}",
                        ctx.public_base,
                        ota_ticket(ctx, &job.job_id)
                    ),
                },
            },
            then: job.after(JobEvent::Delegated)?,
        },
        JobState::Delegated | JobState::KeysTaken => DriverStep::Idle,
        JobState::Done | JobState::Failed { .. } => {
            let (Some(url), Some(sealed), None) =
                (&job.report_url, &job.report_token, job.reported_at)
            else {
                return Ok(DriverStep::Idle);
            };
            let token = ctx.tsm.open(
                sealed,
                Sealed::ReportToken {
                    job_id: &job.job_id,
                },
            )?;
            let token = std::str::from_utf8(token.expose()).map_err(TsmError::internal)?;
            DriverStep::Report {
                url: url.clone(),
                token: ReportToken(Zeroizing::new(token.to_owned())),
                status: job.status(),
            }
        }
    })
}

/// What the carrier's status of the job's CREATE_DOMAIN means for it: DONE with the handover
/// package opens the initial keys (for this element, domain and request only), makes the
/// SP-TSM's own keys (kvn `31`, AES-256) and the OTA ticket, all committed before the
/// delegation goes out, so the phone can never arrive before them; FAILED fails the job
/// (`carrier: <reason>`); anything else changes nothing yet.
pub fn on_carrier_status(
    ctx: &SpContext<'_>,
    job: &Job,
    status: &RequestStatus,
) -> Result<Option<JobUpdate>, TsmError> {
    match (&status.state, &status.handover) {
        (RequestState::Done, Some(package)) => {
            let job_id = &job.job_id;
            let initial = open_initial_keys(
                ctx.tsm.crypto,
                ctx.key,
                package,
                &job.se_id,
                &job.ssd,
                &job.create_id(),
            )?;
            let own = ctx.tsm.fresh_keys(OWN_KVN, OWN_KEY_LEN)?;
            let ticket = ota_ticket(ctx, job_id);
            Ok(Some(JobUpdate {
                ticket_hash: Some(ctx.tsm.crypto.sha256(&[ticket.as_bytes()])),
                initial_keys: Some(
                    ctx.tsm
                        .seal_keys(&initial, Sealed::JobInitialKeys { job_id })?,
                ),
                own_keys: Some(ctx.tsm.seal_keys(&own, Sealed::JobOwnKeys { job_id })?),
                ..job.after(JobEvent::HandoverOpened)?
            }))
        }
        (RequestState::Failed { reason }, _) => Ok(Some(
            job.after(JobEvent::Failed(format!("carrier: {reason}")))?,
        )),
        _ => Ok(None),
    }
}

/// The OTA client's ticket for a job (docs/protocol.md §13.7): base64url of HMAC-SHA-256 of
/// `ota-ticket:<job_id>` under the master key, so a repeated delegation carries the same
/// ticket (and is the same request at the carrier).
fn ota_ticket(ctx: &SpContext<'_>, job_id: &str) -> String {
    provisio_jose::b64_encode(&ctx.tsm.mac(format!("ota-ticket:{job_id}").as_bytes()))
}

impl ReportToken {
    /// The token, for the report's `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("job_id", &self.job_id)
            .field("se_id", &self.se_id)
            .field("state", &self.state)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for JobUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobUpdate")
            .field("state", &self.state)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ReportToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReportToken(..)")
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

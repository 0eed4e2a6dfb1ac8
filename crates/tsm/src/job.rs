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

use crate::sp::SpContext;
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

    mod driven {
        use provisio_crypto::{AesKey, AwsLcProvider, CryptoProvider, SecretBytes};
        use provisio_gp::command::select;
        use provisio_gp::scp03::{SecurityLevel, StaticKeys};
        use provisio_gp::tlv::Tlv;
        use provisio_gp::{Response, StatusWord};
        use provisio_jose::Jwk;
        use provisio_se::VirtualSe;
        use provisio_se::payment::{generate_ac, transaction_cryptogram};

        use super::super::*;
        use crate::relay::Answer;
        use crate::sei::{self, IntakeFacts, SessionFacts, StoredRequest, Taken};
        use crate::sp::tests::Bank;
        use crate::{ServiceProvider, TsmContext, sp};

        /// The carrier: its keys and its one element's ISD, and the requests it stored.
        struct Carrier {
            crypto: AwsLcProvider,
            master: SecretBytes,
            requests: Vec<StoredRequest>,
        }

        fn isd() -> StaticKeys {
            StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16]).unwrap()
        }

        impl Carrier {
            fn ctx(&self) -> TsmContext<'_> {
                TsmContext::new(&self.crypto, &self.master)
            }

            /// `POST /v1/sei/service-requests`, committed.
            fn take(&mut self, request: ServiceRequest) {
                let on_element = self.requests.iter().map(|r| r.record.clone()).collect();
                let provider = ServiceProvider {
                    sp_id: "bank".into(),
                    aid_prefix: hex::decode("A000000003").unwrap(),
                };
                let facts = IntakeFacts {
                    element_known: true,
                    existing: None,
                    on_element,
                };
                let Taken::New(new) =
                    sei::take_request(&self.ctx(), &provider, request, facts).unwrap()
                else {
                    panic!("new")
                };
                let new = *new;
                self.requests.push(StoredRequest {
                    record: new.record,
                    secret: new.secret,
                    handover: None,
                    version: 0,
                });
            }

            fn facts(&self, bank: &Bank) -> SessionFacts {
                SessionFacts {
                    request: self.requests.first().cloned(),
                    isd_keys: Some(
                        self.ctx()
                            .seal_keys(&isd(), Sealed::IsdKeys { se_id: "se-1" })
                            .unwrap(),
                    ),
                    provider_jwk: Some(
                        serde_json::to_string(&Jwk::from_public_key(bank.key.public_key()))
                            .unwrap(),
                    ),
                }
            }

            fn commit(&mut self, update: sei::RequestUpdate) {
                let stored = self.requests.first_mut().unwrap();
                assert_eq!(stored.version, update.version);
                stored.record.state = update.state;
                stored.handover = update.handover.or(stored.handover.take());
                stored.version += 1;
            }

            /// The phone runs the carrier's CREATE_DOMAIN session to its end.
            fn run_session(&mut self, bank: &Bank, se: &mut VirtualSe) {
                let out = sei::open_session(&self.ctx(), "se-1", self.facts(bank)).unwrap();
                self.commit(out.update.unwrap());
                let opened = out.answer.unwrap();
                let (mut live, mut apdu) = (opened.session, opened.first);
                loop {
                    let ctx = self.ctx();
                    let step = live.step(&ctx, &se.transmit(&apdu), self.facts(bank));
                    match step.answer.unwrap() {
                        Answer::Command(next) => apdu = next,
                        Answer::Done { .. } => {
                            let update = step.update.unwrap();
                            return self.commit(update);
                        }
                    }
                }
            }
        }

        fn commit(job: &mut Job, update: JobUpdate) {
            assert_eq!(job.version, update.version, "committed at the version read");
            job.state = update.state;
            job.initial_keys = update.initial_keys.or(job.initial_keys.take());
            job.own_keys = update.own_keys.or(job.own_keys.take());
            job.version += 1;
        }

        /// The phone runs the job's next session at the SP-TSM; `more` as answered.
        fn run_sp_session(bank: &Bank, job: &mut Job, se: &mut VirtualSe) -> bool {
            let out = sp::open_session(&bank.ctx(), job).unwrap();
            assert!(out.update.is_none());
            let opened = out.answer.unwrap();
            let (mut live, mut apdu) = (opened.session, opened.first);
            assert_eq!(live.job_id(), job.job_id);
            loop {
                let step = live.step(job, &se.transmit(&apdu));
                match step.answer.unwrap() {
                    Answer::Command(next) => apdu = next,
                    Answer::Done { more } => {
                        commit(job, step.update.unwrap());
                        return more;
                    }
                }
            }
        }

        #[test]
        fn the_driver_and_the_phone_take_a_job_from_received_to_reported() {
            let bank = Bank::new();
            let ctx = bank.ctx();
            let mut carrier = Carrier {
                crypto: AwsLcProvider::new(),
                master: SecretBytes::new(vec![9; 32]),
                requests: Vec::new(),
            };
            let mut se = VirtualSe::new(isd(), [0; 10], SecurityLevel::FULL);
            let mut job = bank.job("j1");
            job.report_url = Some("https://tsp.example/report".into());
            job.report_token = Some("the-token".into());
            let mut job = bank.accepted(job);

            let DriverStep::Send { request, then } = next_step(&ctx, &job).unwrap() else {
                panic!("RECEIVED sends CREATE_DOMAIN")
            };
            assert_eq!(request.request_id, "j1.create");
            assert!(matches!(request.kind, RequestKind::CreateDomain { .. }));
            carrier.take(request);
            commit(&mut job, then);
            assert_eq!(job.state, JobState::DomainRequested);

            let poll = next_step(&ctx, &job).unwrap();
            assert_eq!(
                poll,
                DriverStep::Poll {
                    request_id: "j1.create".into()
                }
            );
            let status = carrier.requests[0].status();
            assert_eq!(
                on_carrier_status(&ctx, &job, &status).unwrap(),
                None,
                "not yet"
            );

            carrier.run_session(&bank, &mut se);
            let status = carrier.requests[0].status();
            let ready = on_carrier_status(&ctx, &job, &status).unwrap().unwrap();
            let ticket_hash = ready.ticket_hash.unwrap();
            commit(&mut job, ready);
            assert_eq!(job.state, JobState::DomainReady);

            let DriverStep::Send { request, then } = next_step(&ctx, &job).unwrap() else {
                panic!("DOMAIN_READY delegates")
            };
            let RequestKind::DelegatePersonalization { sp_endpoint, .. } = &request.kind else {
                panic!("a delegation")
            };
            let ticket = sp_endpoint
                .strip_prefix("https://sp.example/v1/sp/ota#")
                .unwrap();
            assert_eq!(bank.crypto.sha256(&[ticket.as_bytes()]), ticket_hash);
            assert_eq!(
                next_step(&ctx, &job).unwrap(),
                DriverStep::Send {
                    request: request.clone(),
                    then: then.clone()
                },
                "the same delegation again"
            );
            carrier.take(request);
            commit(&mut job, then);
            assert_eq!(next_step(&ctx, &job).unwrap(), DriverStep::Idle);

            assert!(
                run_sp_session(&bank, &mut job, &mut se),
                "personalisation follows"
            );
            assert_eq!(job.state, JobState::KeysTaken);
            assert_eq!(next_step(&ctx, &job).unwrap(), DriverStep::Idle);
            assert!(!run_sp_session(&bank, &mut job, &mut se));
            assert_eq!(job.state, JobState::Done);

            let DriverStep::Report { url, token, status } = next_step(&ctx, &job).unwrap() else {
                panic!("DONE is reported")
            };
            assert_eq!(
                (url.as_str(), token.expose(), status.state),
                ("https://tsp.example/report", "the-token", JobState::Done)
            );
            assert_eq!(format!("{token:?}"), "ReportToken(..)");
            job.reported_at = Some(1);
            assert_eq!(next_step(&ctx, &job).unwrap(), DriverStep::Idle);

            // The element pays with the credential's key, in the job's applet.
            let tx = |se: &mut VirtualSe, cmd: &provisio_gp::Command| {
                Response::parse(&se.transmit(&cmd.encode().unwrap())).unwrap()
            };
            assert_eq!(tx(&mut se, &select(&job.applet)).sw, StatusWord::OK);
            let (amount, currency, un) = ([0, 0, 0, 0, 0x12, 0x50], [0x09, 0x78], [1, 2, 3, 4]);
            let r = tx(&mut se, &generate_ac(&amount, &currency, &un));
            let kids = Tlv::parse_one(&r.data).unwrap().children().unwrap();
            let ac = Tlv::find(&kids, 0x9F26).unwrap().value.clone();
            let key = AesKey::from_bytes(&[0xC7; 16]).unwrap();
            assert_eq!(
                ac,
                transaction_cryptogram(&key, 1, &amount, &currency, &un).to_vec()
            );
        }

        #[test]
        fn a_carrier_failure_fails_the_job_and_an_unasked_report_is_never_made() {
            let bank = Bank::new();
            let ctx = bank.ctx();
            let mut job = bank.accepted(bank.job("j1"));
            job.state = JobState::DomainRequested;
            let failed = RequestStatus {
                request_id: "j1.create".into(),
                state: RequestState::Failed {
                    reason: "too_many_sessions".into(),
                },
                handover: None,
            };
            let update = on_carrier_status(&ctx, &job, &failed).unwrap().unwrap();
            assert_eq!(
                update.state,
                JobState::Failed {
                    reason: "carrier: too_many_sessions".into()
                }
            );
            assert!(update.own_keys.is_none() && update.ticket_hash.is_none());
            commit(&mut job, update);
            assert_eq!(next_step(&ctx, &job).unwrap(), DriverStep::Idle);
            // A package for another request is refused.
            job.state = JobState::DomainRequested;
            let other = RequestStatus {
                request_id: "j1.create".into(),
                state: RequestState::Done,
                handover: Some("e30.e30.e30.e30.e30".into()),
            };
            assert_eq!(
                on_carrier_status(&ctx, &job, &other).unwrap_err(),
                TsmError::Handover
            );
        }
    }
}

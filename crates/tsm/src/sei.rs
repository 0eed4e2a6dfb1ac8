//! The carrier's TSM (SEI-TSM) and its service requests (docs/protocol.md §11), one function
//! per handler: each takes what the store knew when the call arrived and returns what to
//! commit and the answer.
//!
//! ```text
//!  POST /service-requests   IntakeFacts ──take_request──► NewRequest (request, sealed initial
//!                                                          keys, wake-up) | the stored status
//!  POST /ota/sessions       SessionFacts ──open_session──► SESSION_OPENED + SELECT | FAILED
//!  POST /ota/sessions/{id}  SessionFacts ──CarrierSession::step──► next command
//!                                          | DONE + key handover package (JWE)
//! ```

use provisio_gp::Aid;
use provisio_gp::scp03::SecurityLevel;
use provisio_jose::Jwk;

use crate::relay::{Answer, Logged, Opened, Outcome};
use crate::wire::{Message, RequestStatus, WakeUp};
use crate::{
    AdminSession, CreateDomain, Intake, Next, RequestEvent, RequestKind, RequestState, Sealed,
    ServiceProvider, ServiceRecord, ServiceRequest, TsmContext, TsmError, intake,
    seal_initial_keys,
};

/// The key version of a domain's initial keys (docs/protocol.md §11.4).
const INITIAL_KVN: u8 = 0x30;
/// Initial keys are AES-128.
const INITIAL_KEY_LEN: usize = 16;

/// A service request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    /// The request, its provider, fingerprint and state.
    pub record: ServiceRecord,
    /// A CREATE_DOMAIN's initial keys, sealed for [`Sealed::RequestInitialKeys`].
    pub secret: Option<Vec<u8>>,
    /// The key handover package, once a CREATE_DOMAIN is DONE.
    pub handover: Option<String>,
    /// The version its next change must find.
    pub version: i64,
}

/// What the store knew when a service request arrived.
#[derive(Debug, Clone, Default)]
pub struct IntakeFacts {
    /// Whether the carrier manages the element the request names.
    pub element_known: bool,
    /// The provider's stored request with the same id, if any.
    pub existing: Option<StoredRequest>,
    /// The provider's requests on the element (read for a delegation only,
    /// [`ServiceRequest::needs_created_domain`]).
    pub on_element: Vec<ServiceRecord>,
}

/// A new service request, to store with its wake-up message in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The request, RECEIVED.
    pub record: ServiceRecord,
    /// A CREATE_DOMAIN's fresh initial keys, sealed for [`Sealed::RequestInitialKeys`].
    pub secret: Option<Vec<u8>>,
    /// The message that wakes the element's OTA client.
    pub message: Message,
}

/// What intake decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A new request: store it, then answer 201 with [`NewRequest::status`].
    New(Box<NewRequest>),
    /// The same request again: answer 200 with its stored status; nothing to store.
    Duplicate(RequestStatus),
}

/// What the store knew when an OTA client opened a session or relayed a response.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    /// The request the session serves, if the provider has one by that id.
    pub request: Option<StoredRequest>,
    /// The caller's element's ISD keys, sealed for [`Sealed::IsdKeys`].
    pub isd_keys: Option<Vec<u8>>,
    /// The request's provider's encryption key (a JWK, JSON), for the handover package.
    pub provider_jwk: Option<String>,
}

/// A change of a request's state (and its handover package), to commit only if the request
/// is still at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUpdate {
    /// The new state.
    pub state: RequestState,
    /// The key handover package, when the request completed.
    pub handover: Option<String>,
    /// The version it was read at.
    pub version: i64,
}

/// An admin session with an element's ISD, running for one CREATE_DOMAIN (held in memory
/// by the instance that opened it, docs/architecture.md §7).
pub struct CarrierSession {
    sp_id: String,
    request_id: String,
    se_id: String,
    session: AdminSession,
}

impl StoredRequest {
    /// The request's status as its provider reads it (docs/protocol.md §11.5).
    pub fn status(&self) -> RequestStatus {
        RequestStatus {
            request_id: self.record.request.request_id.clone(),
            state: self.record.state.clone(),
            handover: self.handover.clone(),
        }
    }
}

impl NewRequest {
    /// Its status: RECEIVED.
    pub fn status(&self) -> RequestStatus {
        RequestStatus {
            request_id: self.record.request.request_id.clone(),
            state: self.record.state.clone(),
            handover: None,
        }
    }

    /// The answer when a concurrent twin with the same id was stored first: the twin's status
    /// if it is the same request, else `request_conflict`.
    pub fn after_twin(&self, winner: &StoredRequest) -> Result<RequestStatus, TsmError> {
        if winner.record.fingerprint == self.record.fingerprint {
            Ok(winner.status())
        } else {
            Err(TsmError::RequestConflict)
        }
    }
}

/// Intake of `request` from `sp` (docs/protocol.md §11.4), its checks in order: the element,
/// the request id, the AIDs, a delegation's domain. A new CREATE_DOMAIN gets fresh initial
/// keys (kvn `30`, AES-128), sealed; every new request gets the message that wakes the
/// element's OTA client (`connect`: `SEI`, or a delegation's `sp_endpoint`).
pub fn take_request(
    ctx: &TsmContext<'_>,
    sp: &ServiceProvider,
    request: ServiceRequest,
    facts: IntakeFacts,
) -> Result<Taken, TsmError> {
    if !facts.element_known {
        return Err(TsmError::UnknownElement);
    }
    let domain_created = match &request.kind {
        RequestKind::DelegatePersonalization { ssd, .. } => {
            facts.on_element.iter().any(|r| r.created(ssd))
        }
        RequestKind::CreateDomain { .. } => false,
    };
    let existing = facts.existing;
    let record = match intake(
        ctx.crypto,
        sp,
        request,
        existing.as_ref().map(|s| s.record.clone()),
        domain_created,
    )? {
        Intake::Duplicate(_) => {
            return existing
                .map(|s| Taken::Duplicate(s.status()))
                .ok_or_else(|| TsmError::internal("a duplicate of no stored request"));
        }
        Intake::New(record) => record,
    };
    let rid = &record.request.request_id;
    let (secret, connect) = match &record.request.kind {
        RequestKind::CreateDomain { .. } => {
            let initial = ctx.fresh_keys(INITIAL_KVN, INITIAL_KEY_LEN)?;
            let sealed = ctx.seal_keys(
                &initial,
                Sealed::RequestInitialKeys {
                    sp_id: &sp.sp_id,
                    request_id: rid,
                },
            )?;
            (Some(sealed), "SEI".to_owned())
        }
        RequestKind::DelegatePersonalization { sp_endpoint, .. } => (None, sp_endpoint.clone()),
    };
    let message = Message {
        message_id: ctx.random_id("msg_")?,
        wake: WakeUp {
            sp_id: sp.sp_id.clone(),
            request_id: rid.clone(),
            connect,
        },
    };
    Ok(Taken::New(Box::new(NewRequest {
        record,
        secret,
        message,
    })))
}

/// Opens an admin session for the request the OTA client of `se_id` names
/// (docs/protocol.md §11.9): the request must be this element's, a CREATE_DOMAIN, and not
/// finished. The opening is counted (`update`, committed whatever follows); the sixth fails
/// the request, and the answer is then `request_failed`. Otherwise the session's first command
/// is logged and answered, and the session is kept.
pub fn open_session(
    ctx: &TsmContext<'_>,
    se_id: &str,
    facts: SessionFacts,
) -> Result<Outcome<RequestUpdate, Opened<CarrierSession>>, TsmError> {
    let stored = facts
        .request
        .filter(|r| r.record.request.se_id == se_id)
        .ok_or(TsmError::NoSuchRequest)?;
    let record = &stored.record;
    let RequestKind::CreateDomain { ssd, applet } = &record.request.kind else {
        return Err(TsmError::WrongTsm);
    };
    if record.state.is_final() {
        return Err(TsmError::NothingToDo("request"));
    }
    let state = record.state.clone().apply(RequestEvent::SessionOpened)?;
    let update = RequestUpdate {
        state: state.clone(),
        handover: None,
        version: stored.version,
    };
    if let RequestState::Failed { reason } = state {
        return Ok(Outcome {
            update: Some(update),
            log: Vec::new(),
            answer: Err(TsmError::RequestFailed(reason)),
        });
    }
    let sp_id = &record.sp_id;
    let request_id = &record.request.request_id;
    let isd = ctx.open_keys(
        facts
            .isd_keys
            .as_deref()
            .ok_or_else(|| TsmError::internal("element vanished"))?,
        Sealed::IsdKeys { se_id },
    )?;
    let initial = ctx.open_keys(
        stored
            .secret
            .as_deref()
            .ok_or_else(|| TsmError::internal("no initial keys"))?,
        Sealed::RequestInitialKeys { sp_id, request_id },
    )?;
    let plan = CreateDomain {
        ssd: ssd.clone(),
        applet: applet.clone(),
        min_level: SecurityLevel::FULL.byte(),
        initial,
        isd_dek: isd.dek.clone(),
    };
    let challenge = ctx.random()?;
    let (session, first) = AdminSession::start(
        &Aid::isd(),
        vec![(isd, challenge)],
        SecurityLevel::FULL,
        Box::new(plan),
    );
    let session_id = ctx.random_id("ses_")?;
    Ok(Outcome {
        update: Some(update),
        log: vec![Logged::Command(first.clone())],
        answer: Ok(Opened {
            session_id,
            session: CarrierSession {
                sp_id: sp_id.clone(),
                request_id: request_id.clone(),
                se_id: se_id.to_owned(),
                session,
            },
            first,
        }),
    })
}

impl CarrierSession {
    /// The provider whose request it serves.
    pub fn sp_id(&self) -> &str {
        &self.sp_id
    }

    /// The request.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The element whose OTA client may drive it.
    pub fn se_id(&self) -> &str {
        &self.se_id
    }

    /// Takes the element's response (docs/protocol.md §11.10): the next command, or, when the
    /// plan is complete, the request DONE with the key handover package for its provider
    /// (docs/protocol.md §13.6). The response is logged whatever follows; a refusal ends the
    /// session and leaves the request IN_PROGRESS for the next one.
    pub fn step(
        &mut self,
        ctx: &TsmContext<'_>,
        response: &[u8],
        facts: SessionFacts,
    ) -> Outcome<RequestUpdate, Answer> {
        let mut log = vec![Logged::Response(response.to_vec())];
        let (update, answer) = match self.session.on_response(response) {
            Ok(Next::Send(apdu)) => {
                log.push(Logged::Command(apdu.clone()));
                (None, Ok(Answer::Command(apdu)))
            }
            Ok(Next::Done(_)) => match complete(ctx, facts) {
                Ok(update) => (Some(update), Ok(Answer::Done { more: false })),
                Err(e) => (None, Err(e)),
            },
            Err(e) => (None, Err(e)),
        };
        Outcome {
            update,
            log,
            answer,
        }
    }
}

/// A completed CREATE_DOMAIN: DONE, with its initial keys sealed to the provider's key.
fn complete(ctx: &TsmContext<'_>, facts: SessionFacts) -> Result<RequestUpdate, TsmError> {
    let stored = facts
        .request
        .ok_or_else(|| TsmError::internal("request vanished"))?;
    let record = &stored.record;
    let RequestKind::CreateDomain { ssd, .. } = &record.request.kind else {
        return Err(TsmError::internal("not a CREATE_DOMAIN"));
    };
    let jwk: Jwk = serde_json::from_str(
        facts
            .provider_jwk
            .as_deref()
            .ok_or_else(|| TsmError::internal("provider vanished"))?,
    )
    .map_err(TsmError::internal)?;
    let recipient = jwk.public_key().map_err(TsmError::internal)?;
    let request_id = &record.request.request_id;
    let initial = ctx.open_keys(
        stored
            .secret
            .as_deref()
            .ok_or_else(|| TsmError::internal("no initial keys"))?,
        Sealed::RequestInitialKeys {
            sp_id: &record.sp_id,
            request_id,
        },
    )?;
    let package = seal_initial_keys(
        ctx.crypto,
        &recipient,
        &record.request.se_id,
        ssd,
        request_id,
        &initial,
    )?;
    Ok(RequestUpdate {
        state: record.state.clone().apply(RequestEvent::Completed)?,
        handover: Some(package),
        version: stored.version,
    })
}

impl std::fmt::Debug for CarrierSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session holds keys: only what it serves is shown.
        f.debug_struct("CarrierSession")
            .field("sp_id", &self.sp_id)
            .field("request_id", &self.request_id)
            .field("se_id", &self.se_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, SecretBytes};
    use provisio_gp::scp03::StaticKeys;
    use provisio_se::VirtualSe;

    use super::*;
    use crate::open_initial_keys;

    const SSD: &str = "A000000003535041AB01";
    const APPLET: &str = "A0000000031010AB01";

    struct Carrier {
        crypto: AwsLcProvider,
        master: SecretBytes,
        sp_key: EcKeyPair,
    }

    impl Carrier {
        fn new() -> Self {
            let crypto = AwsLcProvider::new();
            let sp_key = crypto.generate_ec_key().unwrap();
            Self {
                crypto,
                master: SecretBytes::new(vec![3; 32]),
                sp_key,
            }
        }

        fn ctx(&self) -> TsmContext<'_> {
            TsmContext::new(&self.crypto, &self.master)
        }

        fn isd_keys(&self) -> Vec<u8> {
            self.ctx()
                .seal_keys(&isd(), Sealed::IsdKeys { se_id: "se-1" })
                .unwrap()
        }

        fn jwk(&self) -> String {
            serde_json::to_string(&Jwk::from_public_key(self.sp_key.public_key())).unwrap()
        }
    }

    fn isd() -> StaticKeys {
        StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16]).unwrap()
    }

    fn sp() -> ServiceProvider {
        ServiceProvider {
            sp_id: "bank".into(),
            aid_prefix: hex::decode("A000000003").unwrap(),
        }
    }

    fn create(id: &str) -> ServiceRequest {
        ServiceRequest {
            request_id: id.into(),
            se_id: "se-1".into(),
            kind: RequestKind::CreateDomain {
                ssd: SSD.parse().unwrap(),
                applet: APPLET.parse().unwrap(),
            },
        }
    }

    fn delegate(id: &str) -> ServiceRequest {
        ServiceRequest {
            request_id: id.into(),
            se_id: "se-1".into(),
            kind: RequestKind::DelegatePersonalization {
                ssd: SSD.parse().unwrap(),
                sp_endpoint: "https://sp.example/v1/sp/ota#t".into(),
            },
        }
    }

    fn known() -> IntakeFacts {
        IntakeFacts {
            element_known: true,
            ..IntakeFacts::default()
        }
    }

    fn stored(new: &NewRequest, state: RequestState, version: i64) -> StoredRequest {
        let mut record = new.record.clone();
        record.state = state;
        StoredRequest {
            record,
            secret: new.secret.clone(),
            handover: None,
            version,
        }
    }

    fn new(c: &Carrier, req: ServiceRequest, facts: IntakeFacts) -> NewRequest {
        match take_request(&c.ctx(), &sp(), req, facts).unwrap() {
            Taken::New(n) => *n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn intake_checks_the_element_first_and_wakes_the_ota_client_for_a_new_request() {
        let c = Carrier::new();
        let unknown = take_request(&c.ctx(), &sp(), create("r1"), IntakeFacts::default());
        assert_eq!(unknown.unwrap_err(), TsmError::UnknownElement);
        let n = new(&c, create("r1"), known());
        assert_eq!(n.record.state, RequestState::Received);
        assert_eq!(
            (
                n.message.wake.connect.as_str(),
                n.message.wake.request_id.as_str()
            ),
            ("SEI", "r1")
        );
        assert!(n.message.message_id.starts_with("msg_"));
        let initial = c
            .ctx()
            .open_keys(
                n.secret.as_deref().unwrap(),
                Sealed::RequestInitialKeys {
                    sp_id: "bank",
                    request_id: "r1",
                },
            )
            .unwrap();
        assert_eq!(
            (initial.kvn, initial.enc.export().expose().len()),
            (0x30, 16)
        );
        assert_eq!(n.status().handover, None);
    }

    #[test]
    fn the_same_request_answers_its_stored_status_and_a_twin_decides_by_fingerprint() {
        let c = Carrier::new();
        let first = new(&c, create("r1"), known());
        let mut done = stored(&first, RequestState::Done, 3);
        done.handover = Some("jwe".into());
        let again = take_request(
            &c.ctx(),
            &sp(),
            create("r1"),
            IntakeFacts {
                existing: Some(done.clone()),
                ..known()
            },
        )
        .unwrap();
        assert_eq!(again, Taken::Duplicate(done.status()));
        assert_eq!(
            first.after_twin(&done).unwrap().handover.as_deref(),
            Some("jwe")
        );
        let mut other = create("r1");
        other.se_id = "se-2".into();
        let other = new(&c, other, known());
        assert_eq!(other.after_twin(&done), Err(TsmError::RequestConflict));
    }

    #[test]
    fn a_delegation_needs_the_providers_created_domain_and_sends_the_phone_to_it() {
        let c = Carrier::new();
        let created = new(&c, create("r1"), known());
        let refused = take_request(
            &c.ctx(),
            &sp(),
            delegate("p1"),
            IntakeFacts {
                on_element: vec![
                    stored(&created, RequestState::InProgress { sessions: 1 }, 1).record,
                ],
                ..known()
            },
        );
        assert_eq!(refused.unwrap_err(), TsmError::DomainNotReady);
        let n = new(
            &c,
            delegate("p1"),
            IntakeFacts {
                on_element: vec![stored(&created, RequestState::Done, 2).record],
                ..known()
            },
        );
        assert_eq!(n.secret, None);
        assert_eq!(n.message.wake.connect, "https://sp.example/v1/sp/ota#t");
    }

    fn facts(c: &Carrier, request: StoredRequest) -> SessionFacts {
        SessionFacts {
            request: Some(request),
            isd_keys: Some(c.isd_keys()),
            provider_jwk: Some(c.jwk()),
        }
    }

    #[test]
    fn a_session_opens_only_for_an_unfinished_create_domain_of_the_callers_element() {
        let c = Carrier::new();
        let n = new(&c, create("r1"), known());
        let ctx = c.ctx();
        let refused = |facts, se_id| open_session(&ctx, se_id, facts).map(|_| ()).unwrap_err();
        assert_eq!(
            refused(SessionFacts::default(), "se-1"),
            TsmError::NoSuchRequest
        );
        assert_eq!(
            refused(facts(&c, stored(&n, RequestState::Received, 0)), "se-2"),
            TsmError::NoSuchRequest
        );
        assert_eq!(
            refused(facts(&c, stored(&n, RequestState::Done, 4)), "se-1"),
            TsmError::NothingToDo("request")
        );
        let mut delegation = stored(&n, RequestState::Received, 0);
        delegation.record.request = delegate("r1");
        assert_eq!(refused(facts(&c, delegation), "se-1"), TsmError::WrongTsm);
        // The sixth opening is committed, and refused.
        let worn = stored(&n, RequestState::InProgress { sessions: 5 }, 5);
        let out = open_session(&ctx, "se-1", facts(&c, worn)).unwrap();
        assert_eq!(
            out.update.unwrap().state.name(),
            "FAILED",
            "the failure is committed"
        );
        assert!(out.log.is_empty());
        assert_eq!(
            out.answer.map(|_| ()).unwrap_err().to_string(),
            "the request failed: too_many_sessions"
        );
    }

    #[test]
    fn a_session_runs_to_done_and_hands_the_initial_keys_to_the_provider() {
        let c = Carrier::new();
        let ctx = c.ctx();
        let n = new(&c, create("r1"), known());
        let out = open_session(
            &ctx,
            "se-1",
            facts(&c, stored(&n, RequestState::Received, 0)),
        )
        .unwrap();
        let update = out.update.unwrap();
        assert_eq!(
            (update.state.clone(), update.version),
            (RequestState::InProgress { sessions: 1 }, 0)
        );
        let opened = out.answer.unwrap();
        assert_eq!(out.log, [Logged::Command(opened.first.clone())]);
        assert!(opened.session_id.starts_with("ses_"));
        let mut live = opened.session;
        assert_eq!(
            (live.sp_id(), live.request_id(), live.se_id()),
            ("bank", "r1", "se-1")
        );
        let mut se = VirtualSe::new(isd(), [0; 10], SecurityLevel::CMAC);
        let in_progress = stored(&n, update.state, 1);
        let mut apdu = opened.first;
        let mut logged = 1;
        let done = loop {
            let response = se.transmit(&apdu);
            let step = live.step(&ctx, &response, facts(&c, in_progress.clone()));
            assert_eq!(step.log.first(), Some(&Logged::Response(response)));
            logged += step.log.len();
            match step.answer.unwrap() {
                Answer::Command(next) => {
                    assert!(step.update.is_none());
                    assert_eq!(step.log.get(1), Some(&Logged::Command(next.clone())));
                    apdu = next;
                }
                Answer::Done { more } => {
                    assert!(!more);
                    break step.update.unwrap();
                }
            }
        };
        assert!(logged > 10, "{logged}");
        assert_eq!((done.state, done.version), (RequestState::Done, 1));
        let initial = open_initial_keys(
            &c.crypto,
            &c.sp_key,
            done.handover.as_deref().unwrap(),
            "se-1",
            &SSD.parse().unwrap(),
            "r1",
        )
        .unwrap();
        assert_eq!(initial.kvn, 0x30);
    }

    #[test]
    fn a_refused_step_ends_the_session_and_still_logs_the_response() {
        let c = Carrier::new();
        let ctx = c.ctx();
        let n = new(&c, create("r1"), known());
        let out = open_session(
            &ctx,
            "se-1",
            facts(&c, stored(&n, RequestState::Received, 0)),
        )
        .unwrap();
        let mut live = out.answer.unwrap().session;
        let step = live.step(
            &ctx,
            &[0x6A, 0x82],
            facts(&c, stored(&n, RequestState::Received, 1)),
        );
        assert_eq!(step.log, [Logged::Response(vec![0x6A, 0x82])]);
        assert!(step.update.is_none());
        assert!(matches!(step.answer, Err(TsmError::NoSession { .. })));
        let step = live.step(&ctx, &[0x90, 0x00], SessionFacts::default());
        assert_eq!(step.answer, Err(TsmError::Finished));
    }
}

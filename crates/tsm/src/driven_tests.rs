//! The two TSMs' cores driven together against a virtual secure element, as the server's
//! driver and the phone's OTA client would: the SP-TSM's [`crate::job::next_step`] from
//! intake to a personalised, paying applet.

use provisio_crypto::{AesKey, AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_emv::{Atc, Transaction};
use provisio_gp::command::select;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Response, StatusWord};
use provisio_jose::Jwk;
use provisio_se::VirtualSe;
use provisio_se::payment::generate_ac;

use crate::job::*;
use crate::relay::Answer;
use crate::sei::{self, IntakeFacts, SessionFacts, StoredRequest, Taken};
use crate::sp::tests::Bank;
use crate::wire::RequestStatus;
use crate::{RequestKind, RequestState, Sealed, ServiceRequest, TsmError};
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
        let Taken::New(new) = sei::take_request(&self.ctx(), &provider, request, facts).unwrap()
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
                serde_json::to_string(&Jwk::from_public_key(bank.key.public_key())).unwrap(),
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
    let transaction = Transaction::parse(1250, "978", "250", "261203", "01020304").unwrap();
    let r = tx(&mut se, &generate_ac(&transaction));
    let kids = Tlv::parse_one(&r.data).unwrap().children().unwrap();
    let ac = Tlv::find(&kids, 0x9F26).unwrap().value.clone();
    let key = AesKey::from_bytes(&[0xC7; 16]).unwrap();
    assert!(provisio_emv::verify(&key, Atc::FIRST, &transaction, &ac).unwrap());
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

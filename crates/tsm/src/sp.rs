//! The issuer's TSM (SP-TSM) and its jobs (docs/protocol.md §12), one function per handler:
//! each takes the stored job and returns what to commit and the answer. What the driver does
//! between them is [`crate::job::next_step`].
//!
//! ```text
//!  POST /v1/sp/jobs            existing job ──accept_job──► new Job (RECEIVED) | its status
//!  POST /v1/sp/ota/sessions    Job ──open_session──► TakeOverKeys | Personalize: SELECT
//!  POST /v1/sp/ota/sessions/…  Job ──JobSession::step──► next command | KEYS_TAKEN | DONE
//! ```

use provisio_crypto::AesKey;
use provisio_gp::scp03::SecurityLevel;
use provisio_se::payment::personalization_data;

use crate::job::{Job, JobUpdate};
use crate::relay::{Answer, Logged, Opened, Outcome};
use crate::wire::{JobStatus, SpJob};
use crate::{
    AdminSession, JobEvent, JobState, Next, Personalize, Plan, Sealed, SessionKind, SpContext,
    TakeOverKeys, TsmError, open_credential,
};

/// What job intake decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobIntake {
    /// A new job, RECEIVED: store it, then answer 201.
    New(Box<Job>),
    /// The same job again: answer 200 with its current state.
    Duplicate(JobStatus),
}

/// A session with the job's own domain, held in memory by the instance that opened it
/// (docs/architecture.md §7).
pub struct JobSession {
    job_id: String,
    kind: SessionKind,
    session: AdminSession,
}

/// Intake of `job` from `caller` (docs/protocol.md §12.4), its checks in order: a `job_id`
/// taken with another body or by another caller, the AIDs, the report pair
/// (`report_url_ok` is the partner-URL rule: https, or http to loopback), and the credential,
/// which must open with the SP-TSM's key. The report token is sealed.
pub fn accept_job(
    ctx: &SpContext<'_>,
    caller: &str,
    job: SpJob,
    existing: Option<&Job>,
    report_url_ok: &dyn Fn(&str) -> bool,
) -> Result<JobIntake, TsmError> {
    let fingerprint = ctx
        .tsm
        .crypto
        .sha256(&[&serde_json::to_vec(&job).map_err(TsmError::internal)?]);
    if let Some(stored) = existing {
        if stored.fingerprint != fingerprint || stored.caller != caller {
            return Err(TsmError::RequestConflict);
        }
        return Ok(JobIntake::Duplicate(stored.status()));
    }
    for aid in [&job.ssd, &job.applet] {
        if !aid.starts_with(ctx.aid_prefix) {
            return Err(TsmError::OutsideOwnDomain(aid.to_string()));
        }
    }
    let report_ok = match (&job.report_url, &job.report_token) {
        (None, None) => true,
        (Some(url), Some(token)) => report_url_ok(url) && !token.is_empty(),
        _ => false,
    };
    if !report_ok {
        return Err(TsmError::Malformed(
            "report_url (https, or http to this host) and report_token come together".into(),
        ));
    }
    // Refuse now what could never be personalised.
    open_credential(ctx.tsm.crypto, ctx.key, &job.credential)
        .map_err(|_| TsmError::CredentialUnreadable)?;
    let report_token = job
        .report_token
        .as_deref()
        .map(|t| {
            ctx.tsm.seal(
                t.as_bytes(),
                Sealed::ReportToken {
                    job_id: &job.job_id,
                },
            )
        })
        .transpose()?;
    Ok(JobIntake::New(Box::new(Job {
        job_id: job.job_id,
        caller: caller.to_owned(),
        se_id: job.se_id,
        ssd: job.ssd,
        applet: job.applet,
        credential: job.credential,
        fingerprint,
        state: JobState::Received,
        initial_keys: None,
        own_keys: None,
        report_url: job.report_url,
        report_token,
        reported_at: None,
        version: 0,
    })))
}

/// Opens the job's next session (docs/protocol.md §12.7): the key takeover once DELEGATED
/// (tried with the own keys first: a takeover that went through before its answer was lost),
/// the personalisation once KEYS_TAKEN. Nothing to commit but the first command's log.
pub fn open_session(
    ctx: &SpContext<'_>,
    job: &Job,
) -> Result<Outcome<JobUpdate, Opened<JobSession>>, TsmError> {
    let kind = match job.state.next_session() {
        Some(kind) => kind,
        None if job.state.is_final() => return Err(TsmError::NothingToDo("job")),
        None => return Err(TsmError::NotReady),
    };
    let job_id = &job.job_id;
    let own = ctx.tsm.open_keys(
        job.own_keys
            .as_deref()
            .ok_or_else(|| TsmError::internal("no own keys"))?,
        Sealed::JobOwnKeys { job_id },
    )?;
    let challenges: [[u8; 8]; 2] = [ctx.tsm.random()?, ctx.tsm.random()?];
    let [own_challenge, initial_challenge] = challenges;
    let (key_sets, plan): (_, Box<dyn Plan>) = match kind {
        SessionKind::TakeOverKeys => {
            let initial = ctx.tsm.open_keys(
                job.initial_keys
                    .as_deref()
                    .ok_or_else(|| TsmError::internal("no initial keys"))?,
                Sealed::JobInitialKeys { job_id },
            )?;
            (
                vec![
                    (own.clone(), own_challenge),
                    (initial.clone(), initial_challenge),
                ],
                Box::new(TakeOverKeys { initial, own }),
            )
        }
        SessionKind::Personalize => {
            let data = personalization(ctx, job, &own.dek)?;
            (
                vec![(own, own_challenge)],
                Box::new(Personalize {
                    applet: job.applet.clone(),
                    data,
                }),
            )
        }
    };
    let (session, first) = AdminSession::start(&job.ssd, key_sets, SecurityLevel::FULL, plan);
    Ok(Outcome {
        update: None,
        log: vec![Logged::Command(first.clone())],
        answer: Ok(Opened {
            session_id: ctx.tsm.random_id("ses_")?,
            session: JobSession {
                job_id: job_id.clone(),
                kind,
                session,
            },
            first,
        }),
    })
}

/// The STORE DATA field of the job's credential (docs/protocol.md §13.10): the token PAN in
/// BCD (padded with `F`), its expiry as YYMMDD (the last day), and the cryptogram key under
/// the domain's K-DEK.
fn personalization(ctx: &SpContext<'_>, job: &Job, dek: &AesKey) -> Result<Vec<u8>, TsmError> {
    let c = open_credential(ctx.tsm.crypto, ctx.key, &job.credential)?;
    let key = provisio_jose::b64_decode(&c.cryptogram_key).map_err(TsmError::internal)?;
    let key = AesKey::from_bytes(&key).map_err(TsmError::internal)?;
    let mut digits = c.token_pan.clone();
    if digits.len() % 2 == 1 {
        digits.push('F');
    }
    let bcd = zeroize::Zeroizing::new(hex::decode(&digits).map_err(TsmError::internal)?);
    let expiry = hex::decode(format!("{:02}{:02}31", c.exp_year % 100, c.exp_month))
        .map_err(TsmError::internal)?;
    let expiry: [u8; 3] = expiry
        .try_into()
        .map_err(|_| TsmError::internal("expiry"))?;
    Ok(personalization_data(&bcd, &expiry, &key, dek))
}

impl JobSession {
    /// The job it serves.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// Takes the element's response (docs/protocol.md §12.8): the next command, or, when the
    /// plan is complete, the job's next state (`more` when another session follows). The
    /// response is logged whatever follows; a refusal ends the session.
    pub fn step(&mut self, job: &Job, response: &[u8]) -> Outcome<JobUpdate, Answer> {
        let mut log = vec![Logged::Response(response.to_vec())];
        let (update, answer) = match self.session.on_response(response) {
            Ok(Next::Send(apdu)) => {
                log.push(Logged::Command(apdu.clone()));
                (None, Ok(Answer::Command(apdu)))
            }
            Ok(Next::Done(_)) => {
                let event = match self.kind {
                    SessionKind::TakeOverKeys => JobEvent::KeysTaken,
                    SessionKind::Personalize => JobEvent::Personalized,
                };
                match job.state.clone().apply(event) {
                    Ok(next) => {
                        let more = next.next_session().is_some();
                        (Some(job.update(next)), Ok(Answer::Done { more }))
                    }
                    Err(e) => (None, Err(e)),
                }
            }
            Err(e) => (None, Err(e)),
        };
        Outcome {
            update,
            log,
            answer,
        }
    }
}

impl std::fmt::Debug for JobSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session holds keys: only what it serves is shown.
        f.debug_struct("JobSession")
            .field("job_id", &self.job_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, SecretBytes};

    use super::*;
    use crate::TsmContext;
    use crate::{Credential, seal_credential};

    pub(crate) struct Bank {
        pub(crate) crypto: AwsLcProvider,
        master: SecretBytes,
        pub(crate) key: EcKeyPair,
        prefix: Vec<u8>,
    }

    impl Bank {
        pub(crate) fn new() -> Self {
            let crypto = AwsLcProvider::new();
            let key = crypto.generate_ec_key().unwrap();
            Self {
                crypto,
                master: SecretBytes::new(vec![5; 32]),
                key,
                prefix: hex::decode("A000000003").unwrap(),
            }
        }

        pub(crate) fn ctx(&self) -> SpContext<'_> {
            SpContext {
                tsm: TsmContext::new(&self.crypto, &self.master),
                key: &self.key,
                aid_prefix: &self.prefix,
                public_base: "https://sp.example",
            }
        }

        pub(crate) fn job(&self, id: &str) -> SpJob {
            let credential = Credential {
                token_pan: "4999990000001234".into(),
                exp_year: 2029,
                exp_month: 12,
                cryptogram_key: provisio_jose::b64_encode(&[0xC7; 16]),
            };
            SpJob {
                job_id: id.into(),
                se_id: "se-1".into(),
                ssd: "A000000003535041AB01".parse().unwrap(),
                applet: "A0000000031010AB01".parse().unwrap(),
                credential: seal_credential(&self.crypto, self.key.public_key(), &credential)
                    .unwrap(),
                report_url: None,
                report_token: None,
            }
        }

        pub(crate) fn accepted(&self, job: SpJob) -> Job {
            match accept_job(&self.ctx(), "tsp", job, None, &|_| true).unwrap() {
                JobIntake::New(job) => *job,
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn intake_refuses_in_the_documented_order_and_seals_the_report_token() {
        let b = Bank::new();
        let ctx = b.ctx();
        let accept = |job: SpJob, existing: Option<&Job>| {
            accept_job(&ctx, "tsp", job, existing, &|url: &str| {
                url.starts_with("https:")
            })
        };
        let stored = b.accepted(b.job("j1"));
        assert_eq!(
            (stored.state.clone(), stored.version),
            (JobState::Received, 0)
        );
        assert_eq!(
            accept(b.job("j1"), Some(&stored)),
            Err(TsmError::RequestConflict),
            "another credential JWE is another body"
        );
        let same = b.job("j2");
        let j2 = b.accepted(same.clone());
        assert_eq!(
            accept(same.clone(), Some(&j2)),
            Ok(JobIntake::Duplicate(j2.status()))
        );
        assert_eq!(
            accept_job(&ctx, "other", same, Some(&j2), &|_| true),
            Err(TsmError::RequestConflict),
            "another caller"
        );
        let mut outside = b.job("j3");
        outside.applet = "A0000000041010AB01".parse().unwrap();
        assert!(matches!(
            accept(outside, None),
            Err(TsmError::OutsideOwnDomain(_))
        ));
        let mut half = b.job("j4");
        half.report_url = Some("https://tsp.example/r".into());
        assert!(matches!(
            accept(half.clone(), None),
            Err(TsmError::Malformed(_))
        ));
        half.report_token = Some("tok".into());
        let mut plain = half.clone();
        plain.report_url = Some("http://tsp.example/r".into());
        assert!(matches!(accept(plain, None), Err(TsmError::Malformed(_))));
        let mut unreadable = half.clone();
        unreadable.credential = "e30.e30.e30.e30.e30".into();
        assert_eq!(
            accept(unreadable, None),
            Err(TsmError::CredentialUnreadable)
        );
        let JobIntake::New(j4) = accept(half, None).unwrap() else {
            panic!("new")
        };
        let token = ctx
            .tsm
            .open(
                j4.report_token.as_deref().unwrap(),
                Sealed::ReportToken { job_id: "j4" },
            )
            .unwrap();
        assert_eq!(token.expose(), b"tok");
    }

    #[test]
    fn a_session_opens_only_once_delegated_and_not_after_the_end() {
        let b = Bank::new();
        let mut job = b.accepted(b.job("j1"));
        let refused = |job: &Job| open_session(&b.ctx(), job).map(|_| ()).unwrap_err();
        for state in [
            JobState::Received,
            JobState::DomainRequested,
            JobState::DomainReady,
        ] {
            job.state = state;
            assert_eq!(refused(&job), TsmError::NotReady);
        }
        job.state = JobState::Done;
        assert_eq!(refused(&job), TsmError::NothingToDo("job"));
        job.state = JobState::Failed { reason: "x".into() };
        assert_eq!(refused(&job), TsmError::NothingToDo("job"));
    }
}

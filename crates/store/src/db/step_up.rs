//! Step-up: a provisioning's state and offered methods, the codes sent for it, the facts a
//! step-up request reads, and the two changes that move it (a code sent, a code tried). Every
//! change applies only to the version of the step-up it was computed from
//! ([`Conflict::StepUpVersion`] otherwise), so concurrent verifications cannot both pass.

use provisio_tsp::records::NewProvisioning;
use provisio_tsp::{
    IssuedOtp, MethodRecord, MethodType, OtpRecord, Proof, Sealed, StepUpChange, StepUpState,
    StepUpStatus,
};

use crate::db::codec::params;
use crate::db::conn::Conn;
use crate::db::{accounts, handoff, tokens};
use crate::{Conflict, StepUpFacts, StepUpFactsQuery, StoreError};

/// The step-up columns a change sets (`None`: unchanged).
#[derive(Default)]
struct Bump {
    status: Option<StepUpStatus>,
    consecutive_failures: Option<u32>,
    sends: Option<u32>,
}

/// Records a provisioning's step-up (`PENDING`, version 0) and its offered methods, in the
/// order offered. Several statements: run it in a transaction.
pub(crate) fn insert_step_up(
    c: &mut dyn Conn,
    p: &NewProvisioning,
    token_ref_id: &str,
    methods: &[MethodRecord],
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO step_ups (provisioning_id, token_ref_id, status, consecutive_failures, sends, version, updated_at) VALUES ($1, $2, 'PENDING', 0, 0, 0, $3)",
        params![&p.provisioning_id, token_ref_id, p.created_at],
    )?;
    for (position, m) in (0_i64..).zip(methods) {
        let destination = m.destination.as_ref().map(Sealed::to_bytes);
        c.execute(
            "INSERT INTO step_up_methods (method_id, provisioning_id, type, masked, destination, position) VALUES ($1, $2, $3, $4, $5, $6)",
            params![
                &m.method_id,
                &p.provisioning_id,
                m.method_type.as_str(),
                &m.masked,
                destination.as_ref(),
                position,
            ],
        )?;
    }
    Ok(())
}

/// The step-up of a provisioning, with its methods in the order they were offered. Two
/// reads (the state, then its methods), as before: no transaction of its own.
pub(crate) fn step_up(
    c: &mut dyn Conn,
    provisioning_id: &str,
) -> Result<Option<StepUpState>, StoreError> {
    let Some(r) = c.query_opt(
        "SELECT s.token_ref_id, s.status, s.consecutive_failures, s.sends, s.version, s.released,
                    p.token_requestor_id, p.wallet_user_id, p.device_id
             FROM step_ups s JOIN provisionings p ON p.provisioning_id = s.provisioning_id
             WHERE s.provisioning_id = $1",
        params![provisioning_id],
    )?
    else {
        return Ok(None);
    };
    let methods = c
        .query(
            "SELECT method_id, type, masked, destination FROM step_up_methods WHERE provisioning_id = $1 ORDER BY position",
            params![provisioning_id],
        )?
        .iter()
        .map(|m| {
            let t: String = m.get("type")?;
            Ok(MethodRecord {
                method_id: m.get("method_id")?,
                method_type: MethodType::parse(&t)
                    .ok_or_else(|| StoreError::Corrupt(format!("method type {t}")))?,
                masked: m.get("masked")?,
                destination: m.sealed_opt("destination")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let status: String = r.get("status")?;
    Ok(Some(StepUpState {
        provisioning_id: provisioning_id.to_owned(),
        token_ref_id: r.get("token_ref_id")?,
        token_requestor_id: r.get("token_requestor_id")?,
        wallet_user_id: r.get("wallet_user_id")?,
        device_id: r.get("device_id")?,
        status: StepUpStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("step-up status {status}")))?,
        consecutive_failures: r.count("consecutive_failures")?,
        sends: r.count("sends")?,
        version: r.get("version")?,
        methods,
        released: r.get("released")?,
    }))
}

/// Everything a step-up request's core needs (docs/architecture.md §4): the hosted account,
/// the step-up, the code and, when asked, the step-up's token with its issuer's TSM for a
/// secure element. Reads only, in whatever transaction the caller holds (none on a reader:
/// what changes in between is caught by the version check of the commit).
pub(crate) fn facts(c: &mut dyn Conn, q: &StepUpFactsQuery) -> Result<StepUpFacts, StoreError> {
    let account = match &q.hosted_account {
        Some((trid, uid)) => accounts::live_account(c, trid, uid)?,
        None => None,
    };
    let step_up = step_up(c, &q.provisioning_id)?;
    let otp = match &q.otp_id {
        Some(id) => otp(c, id)?,
        None => None,
    };
    let token = match &step_up {
        Some(s) if q.token => tokens::token(c, &s.token_ref_id)?,
        _ => None,
    };
    let sp_tsm = match &token {
        Some(t) if t.secure_element_id.is_some() => handoff::sp_tsm(c, &t.issuer_id)?,
        _ => None,
    };
    Ok(StepUpFacts {
        step_up,
        otp,
        account,
        token,
        sp_tsm,
    })
}

/// A sent code.
pub(crate) fn otp(c: &mut dyn Conn, otp_id: &str) -> Result<Option<OtpRecord>, StoreError> {
    let row = c.query_opt(
        "SELECT provisioning_id, method_id, code_hash, created_at, expires_at, wrong_tries, consumed_at FROM otps WHERE otp_id = $1",
        params![otp_id],
    )?;
    row.map(|r| {
        let hash: Vec<u8> = r.get("code_hash")?;
        Ok(OtpRecord {
            otp_id: otp_id.to_owned(),
            provisioning_id: r.get("provisioning_id")?,
            method_id: r.get("method_id")?,
            code_hash: hash
                .try_into()
                .map_err(|_| StoreError::Corrupt("otp hash".into()))?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
            wrong_tries: r.count("wrong_tries")?,
            consumed_at: r.get("consumed_at")?,
        })
    })
    .transpose()
}

/// Sets the given columns and bumps the step-up's version if it is still `expected`;
/// otherwise nothing is written and the answer is [`Conflict::StepUpVersion`].
fn bump(
    c: &mut dyn Conn,
    provisioning_id: &str,
    expected: i64,
    set: Bump,
    now: i64,
) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE step_ups SET status = COALESCE($1, status), consecutive_failures = COALESCE($2, consecutive_failures), sends = COALESCE($3, sends), version = version + 1, updated_at = $4 WHERE provisioning_id = $5 AND version = $6",
        params![
            set.status.map(StepUpStatus::as_str),
            set.consecutive_failures,
            set.sends,
            now,
            provisioning_id,
            expected,
        ],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::StepUpVersion))
    }
}

/// Stores a sent code and its outbox message, if the step-up is still at the version the code
/// was issued from ([`Conflict::StepUpVersion`] otherwise, after which the caller's savepoint
/// or transaction must roll back). Several statements: run it in a transaction.
pub(crate) fn commit_otp_issue(c: &mut dyn Conn, i: &IssuedOtp) -> Result<(), StoreError> {
    bump(
        c,
        &i.provisioning_id,
        i.expected_version,
        Bump {
            sends: Some(i.sends),
            ..Bump::default()
        },
        i.otp.created_at,
    )?;
    c.execute(
        "INSERT INTO otps (otp_id, provisioning_id, method_id, code_hash, created_at, expires_at, wrong_tries) VALUES ($1, $2, $3, $4, $5, $6, 0)",
        params![
            &i.otp.otp_id,
            &i.otp.provisioning_id,
            &i.otp.method_id,
            &i.otp.code_hash,
            i.otp.created_at,
            i.otp.expires_at,
        ],
    )?;
    let payload = i.message.payload.to_bytes();
    c.execute(
        "INSERT INTO outbox (message_id, channel, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5)",
        params![
            &i.message.message_id,
            &i.message.channel,
            &payload,
            i.message.created_at,
            i.message.created_at,
        ],
    )?;
    Ok(())
}

/// Applies a verification's change if the step-up is still at its version and the code was
/// not consumed ([`Conflict::StepUpVersion`] otherwise; a conflict can come after the first
/// statement wrote, so the caller's savepoint or transaction must roll back). With its
/// activation (it passed), the token becomes `ACTIVE` and the script is recorded, with the
/// issuer TSM's job in the outbox for a secure element ([`crate::db::scripts::insert_script`]).
/// Several statements: run it in a transaction.
pub(crate) fn commit_step_up_change(
    c: &mut dyn Conn,
    change: &StepUpChange,
) -> Result<(), StoreError> {
    let now = change.at;
    let set = Bump {
        status: Some(change.status),
        consecutive_failures: Some(change.consecutive_failures),
        sends: None,
    };
    bump(
        c,
        &change.provisioning_id,
        change.expected_version,
        set,
        now,
    )?;
    match &change.proof {
        Proof::Otp {
            otp_id,
            wrong_tries,
            consumed_at,
        } => {
            // The code is consumed only if nobody consumed it first (belt and braces with the
            // version check above).
            let n = c.execute(
                "UPDATE otps SET wrong_tries = $1, consumed_at = $2 WHERE otp_id = $3 AND consumed_at IS NULL",
                params![*wrong_tries, *consumed_at, otp_id],
            )?;
            if n != 1 {
                return Err(StoreError::Conflict(Conflict::StepUpVersion));
            }
        }
        // Each nonce of an issuer once, forever: a replayed one is
        // [`Conflict::ActivationNonce`], and nothing of the change stays.
        Proof::IssuerApp { issuer_id, nonce } => {
            c.execute(
                "INSERT INTO activation_nonces (issuer_id, nonce, provisioning_id, used_at) VALUES ($1, $2, $3, $4)",
                params![issuer_id, nonce, &change.provisioning_id, now],
            )?;
        }
        // The agent is named in the token's history (the activation's change).
        Proof::CallCenter { .. } => {}
    }
    if let Some(released) = &change.released {
        c.execute(
            "UPDATE step_ups SET released = $1 WHERE provisioning_id = $2",
            params![released, &change.provisioning_id],
        )?;
    }
    if let Some(a) = change
        .activation
        .as_ref()
        .filter(|_| change.status == StepUpStatus::Passed)
    {
        // The token must still be where the core saw it (not deleted meanwhile).
        crate::db::tokens::change(c, &a.change)?;
        crate::db::scripts::insert_script(
            c,
            &change.provisioning_id,
            &a.script,
            a.handoff.as_ref(),
            now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use provisio_tsp::records::NewProvisioning;
    use provisio_tsp::wire::Decision;
    use provisio_tsp::{
        Activation, IssuedOtp, MethodRecord, MethodType, OtpRecord, OutboxMessage, Proof, Script,
        ScriptStep, ScriptTarget, Sealed, StepOp, StepUpChange, StepUpStatus, TsmHandoff,
    };

    use crate::db::codec::params;
    use crate::db::conn::{Conn, savepoint, transaction};
    use crate::db::test_conn;
    use crate::{Conflict, SpTsmRecord, StepUpFactsQuery, StoreError};

    const NOW: i64 = 1_700_000_000;

    /// A sealed value that parses (its bytes are `tag`, it seals nothing).
    fn sealed(tag: u8) -> Sealed {
        let mut b = vec![1, 1, b'k', 2, tag, tag];
        b.extend_from_slice(&[tag; 12 + 16]);
        b.push(tag);
        Sealed::from_bytes(&b).unwrap()
    }

    /// A provisioning `p1` held for step-up, with its inactive token `t1` and two methods.
    fn held(c: &mut dyn Conn) -> NewProvisioning {
        c.batch(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ('iss', 'Issuer', 'kid', '{}', 0);
             INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at) VALUES ('40000000001', 'Wallet', 'external', 0);",
        )
        .unwrap();
        let p = NewProvisioning {
            origin: provisio_tsp::records::Origin::Push,
            provisioning_id: "p1".into(),
            session_id: "s1".into(),
            issuer_id: "iss".into(),
            jti: "j1".into(),
            token_requestor_id: "40000000001".into(),
            wallet_user_id: "u1".into(),
            device_id: "d1".into(),
            decision: Decision::StepUpRequired,
            risk_json: "{}".into(),
            pan_hash: [1; 32],
            created_at: NOW,
            token: None,
            step_up: None,
            script: None,
            handoff: None,
        };
        c.execute(
            "INSERT INTO provisionings (provisioning_id, session_id, issuer_id, jti, token_requestor_id, wallet_user_id, device_id, decision, risk, created_at, pan_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}', $9, $10)",
            params![
                &p.provisioning_id,
                &p.session_id,
                &p.issuer_id,
                &p.jti,
                &p.token_requestor_id,
                &p.wallet_user_id,
                &p.device_id,
                p.decision.as_str(),
                p.created_at,
                &p.pan_hash,
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO tokens (token_ref_id, provisioning_id, token_pan_hash, token_pan, pan_hash, pan, token_last4, exp_month, exp_year, status, token_requestor_id, wallet_user_id, device_id, binding_jwk, cryptogram_key, created_at) VALUES ('t1', 'p1', $1, $2, $3, $2, '1234', 12, 2030, 'INACTIVE', '40000000001', 'u1', 'd1', '{}', $2, $4)",
            params![&[2_u8; 32], &sealed(9).to_bytes(), &p.pan_hash, NOW],
        )
        .unwrap();
        // Offered e-mail first: the order is the offer's, not the ids'.
        let methods = [
            method("m2", MethodType::OtpEmail, 3),
            method("m1", MethodType::OtpSms, 4),
        ];
        transaction(c, |c| super::insert_step_up(c, &p, "t1", &methods)).unwrap();
        p
    }

    fn method(id: &str, method_type: MethodType, tag: u8) -> MethodRecord {
        MethodRecord {
            method_id: id.into(),
            method_type,
            masked: format!("***{id}"),
            destination: Some(sealed(tag)),
        }
    }

    fn issued(otp_id: &str, expected_version: i64, sends: u32) -> IssuedOtp {
        let otp = OtpRecord {
            otp_id: otp_id.into(),
            provisioning_id: "p1".into(),
            method_id: "m1".into(),
            code_hash: [5; 32],
            created_at: NOW + 10,
            expires_at: NOW + 610,
            wrong_tries: 0,
            consumed_at: None,
        };
        IssuedOtp {
            message: OutboxMessage {
                attempts: 0,
                message_id: format!("msg-{otp_id}"),
                channel: "sms".into(),
                payload: sealed(6),
                created_at: otp.created_at,
            },
            otp,
            provisioning_id: "p1".into(),
            expected_version,
            sends,
            resends_left: 2,
            destination: "***m1".into(),
        }
    }

    fn change(expected_version: i64, status: StepUpStatus, otp_id: &str) -> StepUpChange {
        StepUpChange {
            provisioning_id: "p1".into(),
            expected_version,
            status,
            consecutive_failures: u32::from(status != StepUpStatus::Passed),
            proof: Proof::Otp {
                otp_id: otp_id.into(),
                wrong_tries: u32::from(status != StepUpStatus::Passed),
                consumed_at: (status == StepUpStatus::Passed).then_some(NOW + 20),
            },
            at: NOW + 20,
            activation: None,
            released: None,
        }
    }

    /// `change` carrying the activation of `t1` with [`script`] and `handoff`.
    fn activating(mut change: StepUpChange, handoff: Option<TsmHandoff>) -> StepUpChange {
        let activated = provisio_tsp::Standing::of(provisio_tsp::records::TokenStatus::Inactive)
            .apply(
                provisio_tsp::Action::Activate,
                provisio_tsp::Actor::System,
                provisio_tsp::Reason::Other,
            )
            .unwrap();
        change.activation = Some(Activation {
            change: provisio_tsp::token_records::TokenChange {
                token_ref_id: "t1".into(),
                event_seq: 0,
                change: activated,
                agent_id: None,
                at: NOW + 20,
                relink: None,
                events: Vec::new(),
            },
            script: script(),
            handoff,
        });
        change
    }

    fn count(c: &mut dyn Conn, sql: &str) -> i64 {
        c.query_one(sql, params![]).unwrap().get("n").unwrap()
    }

    fn token_status(c: &mut dyn Conn) -> String {
        c.query_one(
            "SELECT status FROM tokens WHERE token_ref_id = 't1'",
            params![],
        )
        .unwrap()
        .get("status")
        .unwrap()
    }

    fn script() -> Script {
        Script {
            script_id: "sc1".into(),
            version: 1,
            target: ScriptTarget::SecureElement,
            steps: vec![ScriptStep {
                seq: 1,
                op: StepOp::TsmCreateSecurityDomain,
                token_ref_id: "t1".into(),
                service_request_id: Some("sr1".into()),
            }],
        }
    }

    #[test]
    fn a_step_up_reads_back_with_its_methods_in_the_offered_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        let s = super::step_up(&mut c, "p1").unwrap().unwrap();
        assert_eq!(s.token_ref_id, "t1");
        assert_eq!(
            (
                s.token_requestor_id.as_str(),
                s.wallet_user_id.as_str(),
                s.device_id.as_str()
            ),
            ("40000000001", "u1", "d1")
        );
        assert_eq!(s.status, StepUpStatus::Pending);
        assert_eq!((s.consecutive_failures, s.sends, s.version), (0, 0, 0));
        let ids: Vec<&str> = s.methods.iter().map(|m| m.method_id.as_str()).collect();
        assert_eq!(ids, ["m2", "m1"]);
        assert_eq!(s.methods[0].method_type, MethodType::OtpEmail);
        assert_eq!(s.methods[0].masked, "***m2");
        assert!(s.methods[0].destination == Some(sealed(3)));
        assert!(super::step_up(&mut c, "nobody").unwrap().is_none());
    }

    #[test]
    fn an_issued_code_is_stored_with_its_message_and_bumps_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        let i = issued("o1", 0, 1);
        transaction(&mut c, |c| super::commit_otp_issue(c, &i)).unwrap();
        assert_eq!(super::otp(&mut c, "o1").unwrap().unwrap(), i.otp);
        assert!(super::otp(&mut c, "o2").unwrap().is_none());
        let s = super::step_up(&mut c, "p1").unwrap().unwrap();
        assert_eq!(
            (s.sends, s.version, s.status),
            (1, 1, StepUpStatus::Pending)
        );
        let m = c
            .query_one(
                "SELECT channel, payload, next_attempt_at FROM outbox WHERE message_id = 'msg-o1'",
                params![],
            )
            .unwrap();
        assert_eq!(m.get::<String>("channel").unwrap(), "sms");
        assert!(m.sealed("payload").unwrap() == sealed(6));
        assert_eq!(m.get::<i64>("next_attempt_at").unwrap(), NOW + 10);
    }

    #[test]
    fn a_code_issued_from_an_old_version_is_a_conflict_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        transaction(&mut c, |c| super::commit_otp_issue(c, &issued("o1", 0, 1))).unwrap();
        let stale = issued("o2", 0, 1);
        let e = transaction(&mut c, |c| {
            savepoint(c, |c| super::commit_otp_issue(c, &stale))
        })
        .unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict(Conflict::StepUpVersion)),
            "{e:?}"
        );
        assert!(super::otp(&mut c, "o2").unwrap().is_none());
        assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM outbox"), 1);
        assert_eq!(super::step_up(&mut c, "p1").unwrap().unwrap().version, 1);
    }

    #[test]
    fn a_wrong_code_counts_and_leaves_the_token_inactive() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        transaction(&mut c, |c| super::commit_otp_issue(c, &issued("o1", 0, 1))).unwrap();
        // An activation on a change that did not pass is not applied.
        let wrong = activating(change(1, StepUpStatus::Pending, "o1"), None);
        transaction(&mut c, |c| super::commit_step_up_change(c, &wrong)).unwrap();
        let s = super::step_up(&mut c, "p1").unwrap().unwrap();
        assert_eq!((s.consecutive_failures, s.version), (1, 2));
        let o = super::otp(&mut c, "o1").unwrap().unwrap();
        assert_eq!((o.wrong_tries, o.consumed_at), (1, None));
        assert_eq!(token_status(&mut c), "INACTIVE");
        assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM scripts"), 0);
    }

    #[test]
    fn a_passed_step_up_activates_the_token_and_records_the_script_and_job() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        transaction(&mut c, |c| super::commit_otp_issue(c, &issued("o1", 0, 1))).unwrap();
        let handoff = TsmHandoff {
            message_id: "job1".into(),
            payload: sealed(7),
            report_token_hash: [8; 32],
        };
        let passed = activating(change(1, StepUpStatus::Passed, "o1"), Some(handoff));
        transaction(&mut c, |c| super::commit_step_up_change(c, &passed)).unwrap();
        let s = super::step_up(&mut c, "p1").unwrap().unwrap();
        assert_eq!((s.status, s.version), (StepUpStatus::Passed, 2));
        let o = super::otp(&mut c, "o1").unwrap().unwrap();
        assert_eq!(o.consumed_at, Some(NOW + 20));
        assert_eq!(token_status(&mut c), "ACTIVE");
        let r = crate::db::scripts::script(&mut c, "p1").unwrap().unwrap();
        assert_eq!(r.token_ref_id, "t1");
        assert_eq!(r.report_token_hash, Some(vec![8; 32]));
        let job = c
            .query_one(
                "SELECT channel, created_at FROM outbox WHERE message_id = 'job1'",
                params![],
            )
            .unwrap();
        assert_eq!(
            job.get::<String>("channel").unwrap(),
            provisio_tsp::SP_TSM_CHANNEL
        );
        assert_eq!(job.get::<i64>("created_at").unwrap(), NOW + 20);
    }

    #[test]
    fn a_stale_or_consumed_verification_is_a_conflict_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        transaction(&mut c, |c| super::commit_otp_issue(c, &issued("o1", 0, 1))).unwrap();
        let run = |c: &mut dyn Conn, ch: &StepUpChange| {
            transaction(c, |c| {
                savepoint(c, |c| {
                    super::commit_step_up_change(c, &activating(ch.clone(), None))
                })
            })
        };
        // An old version.
        let e = run(&mut c, &change(0, StepUpStatus::Passed, "o1")).unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict(Conflict::StepUpVersion)),
            "{e:?}"
        );
        // The right version, but the code was consumed behind the version's back: the step-up
        // row was bumped by the first statement, and is rolled back with the rest.
        c.execute(
            "UPDATE otps SET consumed_at = 1 WHERE otp_id = 'o1'",
            params![],
        )
        .unwrap();
        let e = run(&mut c, &change(1, StepUpStatus::Passed, "o1")).unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict(Conflict::StepUpVersion)),
            "{e:?}"
        );
        let s = super::step_up(&mut c, "p1").unwrap().unwrap();
        assert_eq!((s.status, s.version), (StepUpStatus::Pending, 1));
        assert_eq!(token_status(&mut c), "INACTIVE");
        assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM scripts"), 0);
    }

    #[test]
    fn the_facts_are_what_the_query_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        held(&mut c);
        transaction(&mut c, |c| super::commit_otp_issue(c, &issued("o1", 0, 1))).unwrap();
        let query = |otp_id: Option<&str>, token: bool| StepUpFactsQuery {
            provisioning_id: "p1".into(),
            otp_id: otp_id.map(str::to_owned),
            hosted_account: None,
            token,
        };
        // A send: the step-up only.
        let f = super::facts(&mut c, &query(None, false)).unwrap();
        assert_eq!(f.step_up.unwrap().version, 1);
        assert!(f.otp.is_none() && f.token.is_none() && f.sp_tsm.is_none());
        assert!(f.account.is_none());
        // A verification: the code and the token; an HCE token has no TSM to read.
        let f = super::facts(&mut c, &query(Some("o1"), true)).unwrap();
        assert_eq!(f.otp.unwrap().otp_id, "o1");
        assert_eq!(f.token.unwrap().token_ref_id, "t1");
        assert!(f.sp_tsm.is_none());
        // A secure-element token: its issuer's TSM too.
        c.execute(
            "UPDATE tokens SET secure_element_id = 'se1' WHERE token_ref_id = 't1'",
            params![],
        )
        .unwrap();
        let tsm = SpTsmRecord {
            issuer_id: "iss".into(),
            url: "https://sp.example".into(),
            api_key: sealed(4),
            encryption_jwk: "{}".into(),
            aid_prefix: "a000000001".into(),
        };
        crate::db::handoff::set_sp_tsm(&mut c, &tsm, NOW).unwrap();
        let f = super::facts(&mut c, &query(Some("o9"), true)).unwrap();
        assert!(f.otp.is_none(), "an unknown code");
        assert_eq!(f.sp_tsm.unwrap().issuer_id, "iss");
        // No step-up: nothing hangs off it; a wallet user without an account has none.
        let f = super::facts(
            &mut c,
            &StepUpFactsQuery {
                provisioning_id: "p9".into(),
                otp_id: Some("o1".into()),
                hosted_account: Some(("40000000001".into(), "u1".into())),
                token: true,
            },
        )
        .unwrap();
        assert!(f.step_up.is_none() && f.token.is_none() && f.sp_tsm.is_none());
        assert!(f.account.is_none());
        assert_eq!(f.otp.unwrap().provisioning_id, "p1", "read as named");
    }

    #[test]
    fn a_provisioning_has_one_step_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        let p = held(&mut c);
        // The first provisioning's step-up exists: a second one for it breaks its key.
        let e = transaction(&mut c, |c| super::insert_step_up(c, &p, "t1", &[])).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(Conflict::Other)), "{e:?}");
    }
}

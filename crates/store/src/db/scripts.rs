//! Installation scripts: recorded as sent (with, for a secure element, the issuer TSM's job in
//! the outbox), read back with their owner (alone, or with the hosted account as a device's
//! report needs them), and ended once, completed by the report or failed by the TSM
//! ([`Conflict::ScriptCompleted`] for a second end).

use provisio_tsp::{Script, ScriptEnd, ScriptOutcome, TsmHandoff};

use crate::db::accounts;
use crate::db::codec::params;
use crate::db::conn::Conn;
use crate::{Conflict, ScriptFacts, ScriptFactsQuery, ScriptRecord, StoreError};

/// A script's stored columns besides its ids: its JSON body, and the token it installs.
pub(crate) fn script_row(script: &Script) -> Result<(String, &str), StoreError> {
    let body = serde_json::to_string(script).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let token_ref_id = script
        .steps
        .first()
        .map(|s| s.token_ref_id.as_str())
        .ok_or_else(|| StoreError::Corrupt("a script without steps".into()))?;
    Ok((body, token_ref_id))
}

/// Inserts a script and, for a secure element, the job for the issuer's TSM into the outbox
/// ([`crate::db::outbox::insert_handoff`]). Two statements with a hand-off: run it in a
/// transaction.
pub(crate) fn insert_script(
    c: &mut dyn Conn,
    provisioning_id: &str,
    script: &Script,
    handoff: Option<&TsmHandoff>,
    now: i64,
) -> Result<(), StoreError> {
    let (body, token_ref_id) = script_row(script)?;
    c.execute(
        "INSERT INTO scripts (script_id, provisioning_id, token_ref_id, body, report_token_hash) VALUES ($1, $2, $3, $4, $5)",
        params![
            &script.script_id,
            provisioning_id,
            token_ref_id,
            &body,
            handoff.map(|h| &h.report_token_hash),
        ],
    )?;
    if let Some(h) = handoff {
        crate::db::outbox::insert_handoff(c, h, now)?;
    }
    Ok(())
}

/// The script sent for a provisioning, with its owner.
pub(crate) fn script(
    c: &mut dyn Conn,
    provisioning_id: &str,
) -> Result<Option<ScriptRecord>, StoreError> {
    let row = c.query_opt(
        "SELECT s.body, s.token_ref_id, s.completed_at, s.report_token_hash, s.failure, p.token_requestor_id, p.wallet_user_id, p.device_id
             FROM scripts s JOIN provisionings p ON p.provisioning_id = s.provisioning_id
             WHERE s.provisioning_id = $1",
        params![provisioning_id],
    )?;
    row.map(|r| {
        Ok(ScriptRecord {
            body: r.get("body")?,
            token_requestor_id: r.get("token_requestor_id")?,
            wallet_user_id: r.get("wallet_user_id")?,
            device_id: r.get("device_id")?,
            token_ref_id: r.get("token_ref_id")?,
            completed_at: r.get("completed_at")?,
            report_token_hash: r.get("report_token_hash")?,
            failure: r.get("failure")?,
        })
    })
    .transpose()
}

/// Everything a device's script report needs (docs/architecture.md §4): the script with its
/// owner, and the hosted account when asked. Reads only.
pub(crate) fn facts(c: &mut dyn Conn, q: &ScriptFactsQuery) -> Result<ScriptFacts, StoreError> {
    Ok(ScriptFacts {
        script: script(c, &q.provisioning_id)?,
        account: match &q.hosted_account {
            Some((trid, uid)) => accounts::live_account(c, trid, uid)?,
            None => None,
        },
    })
}

/// Records how a script ended ([`complete_script`] or [`fail_script`]): once, a second end is
/// [`Conflict::ScriptCompleted`] and nothing is written. Run it in a transaction.
pub(crate) fn end_script(c: &mut dyn Conn, end: &ScriptEnd) -> Result<(), StoreError> {
    match &end.outcome {
        ScriptOutcome::Installed => complete_script(c, &end.provisioning_id, end.at),
        ScriptOutcome::Failed { reason } => fail_script(c, &end.provisioning_id, reason, end.at),
    }
}

/// Marks a script complete and its token payment-ready, once: a script completed or failed
/// before (or none) is [`Conflict::ScriptCompleted`] and nothing is written. Two statements:
/// run it in a transaction.
pub(crate) fn complete_script(
    c: &mut dyn Conn,
    provisioning_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let token_ref_id: Option<String> = c
        .query_opt(
            "UPDATE scripts SET completed_at = $1 WHERE provisioning_id = $2 AND completed_at IS NULL AND failed_at IS NULL RETURNING token_ref_id",
            params![now, provisioning_id],
        )?
        .map(|r| r.get("token_ref_id"))
        .transpose()?;
    let token_ref_id = token_ref_id.ok_or(StoreError::Conflict(Conflict::ScriptCompleted))?;
    c.execute(
        "UPDATE tokens SET installed_at = $1 WHERE token_ref_id = $2",
        params![now, &token_ref_id],
    )?;
    Ok(())
}

/// Records that the TSM could not install a script's credential, once, and only if it was not
/// completed ([`Conflict::ScriptCompleted`] otherwise). One statement.
pub(crate) fn fail_script(
    c: &mut dyn Conn,
    provisioning_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE scripts SET failed_at = $1, failure = $2 WHERE provisioning_id = $3 AND completed_at IS NULL AND failed_at IS NULL",
        params![now, reason, provisioning_id],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::ScriptCompleted))
    }
}

#[cfg(test)]
mod tests {
    use provisio_accounts::AccountState;
    use provisio_tsp::{
        Script, ScriptEnd, ScriptOutcome, ScriptStep, ScriptTarget, Sealed, StepOp, TsmHandoff,
    };

    use crate::db::codec::params;
    use crate::db::conn::{Conn, savepoint, transaction};
    use crate::db::test_conn;
    use crate::{Conflict, ScriptFactsQuery, StoreError};

    const NOW: i64 = 1_700_000_000;

    /// A sealed value that parses (its bytes are `tag`, it seals nothing).
    fn sealed(tag: u8) -> Sealed {
        let mut b = vec![1, 1, b'k', 2, tag, tag];
        b.extend_from_slice(&[tag; 12 + 16]);
        b.push(tag);
        Sealed::from_bytes(&b).unwrap()
    }

    /// Provisionings `p1` and `p2` with their tokens `t1` and `t2`.
    fn provisioned(c: &mut dyn Conn) {
        c.batch(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ('iss', 'Issuer', 'kid', '{}', 0);
             INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at) VALUES ('40000000001', 'Wallet', 'external', 0);",
        )
        .unwrap();
        for n in 1..=2_u8 {
            c.execute(
                "INSERT INTO provisionings (provisioning_id, session_id, issuer_id, jti, token_requestor_id, wallet_user_id, device_id, decision, risk, created_at, pan_hash) VALUES ($1, $1, 'iss', $1, '40000000001', $2, $3, 'APPROVED', '{}', $4, $5)",
                params![format!("p{n}").as_str(), format!("u{n}").as_str(), format!("d{n}").as_str(), NOW, &[n; 32]],
            )
            .unwrap();
            c.execute(
                "INSERT INTO tokens (token_ref_id, provisioning_id, token_pan_hash, token_pan, pan_hash, pan, token_last4, exp_month, exp_year, status, token_requestor_id, wallet_user_id, device_id, binding_jwk, cryptogram_key, created_at) VALUES ($1, $2, $3, $4, $3, $4, '1234', 12, 2030, 'ACTIVE', '40000000001', 'u', 'd', '{}', $4, $5)",
                params![format!("t{n}").as_str(), format!("p{n}").as_str(), &[n; 32], &sealed(9).to_bytes(), NOW],
            )
            .unwrap();
        }
    }

    fn script(n: u8, target: ScriptTarget) -> Script {
        Script {
            script_id: format!("sc{n}"),
            version: 1,
            target,
            steps: vec![ScriptStep {
                seq: 1,
                op: StepOp::StoreToken,
                token_ref_id: format!("t{n}"),
                service_request_id: None,
            }],
        }
    }

    fn installed_at(c: &mut dyn Conn, token_ref_id: &str) -> Option<i64> {
        c.query_one(
            "SELECT installed_at FROM tokens WHERE token_ref_id = $1",
            params![token_ref_id],
        )
        .unwrap()
        .get("installed_at")
        .unwrap()
    }

    #[test]
    fn a_script_row_is_its_json_and_its_first_steps_token() {
        let s = script(1, ScriptTarget::Hce);
        let (body, token) = super::script_row(&s).unwrap();
        assert_eq!(serde_json::from_str::<Script>(&body).unwrap(), s);
        assert_eq!(token, "t1");
        let empty = Script { steps: vec![], ..s };
        assert!(matches!(
            super::script_row(&empty),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn scripts_read_back_with_their_owner_and_job() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        provisioned(&mut c);
        let hce = script(1, ScriptTarget::Hce);
        let se = script(2, ScriptTarget::SecureElement);
        let job = TsmHandoff {
            message_id: "job2".into(),
            payload: sealed(7),
            report_token_hash: [8; 32],
        };
        transaction(&mut c, |c| {
            super::insert_script(c, "p1", &hce, None, NOW)?;
            super::insert_script(c, "p2", &se, Some(&job), NOW + 1)
        })
        .unwrap();
        let r = super::script(&mut c, "p1").unwrap().unwrap();
        assert_eq!(serde_json::from_str::<Script>(&r.body).unwrap(), hce);
        assert_eq!(
            (
                r.token_requestor_id.as_str(),
                r.wallet_user_id.as_str(),
                r.device_id.as_str()
            ),
            ("40000000001", "u1", "d1")
        );
        assert_eq!(r.token_ref_id, "t1");
        assert_eq!(
            (r.completed_at, r.report_token_hash, r.failure),
            (None, None, None)
        );
        let r = super::script(&mut c, "p2").unwrap().unwrap();
        assert_eq!(r.report_token_hash, Some(vec![8; 32]));
        let n: i64 = c
            .query_one(
                "SELECT COUNT(*) AS n FROM outbox WHERE message_id = 'job2' AND channel = $1 AND created_at = $2",
                params![provisio_tsp::SP_TSM_CHANNEL, NOW + 1],
            )
            .unwrap()
            .get("n")
            .unwrap();
        assert_eq!(n, 1);
        assert!(super::script(&mut c, "p3").unwrap().is_none());
    }

    #[test]
    fn a_provisioning_has_one_script() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        provisioned(&mut c);
        let s = script(1, ScriptTarget::Hce);
        transaction(&mut c, |c| super::insert_script(c, "p1", &s, None, NOW)).unwrap();
        let again = Script {
            script_id: "other".into(),
            ..s
        };
        let e =
            transaction(&mut c, |c| super::insert_script(c, "p1", &again, None, NOW)).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(Conflict::Other)), "{e:?}");
        // A script for a provisioning that does not exist.
        let e = transaction(&mut c, |c| {
            super::insert_script(c, "p9", &script(9, ScriptTarget::Hce), None, NOW)
        })
        .unwrap_err();
        assert!(matches!(e, StoreError::MissingReference), "{e:?}");
    }

    #[test]
    fn a_script_completes_once_and_its_token_becomes_payment_ready() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        provisioned(&mut c);
        let s = script(1, ScriptTarget::Hce);
        transaction(&mut c, |c| super::insert_script(c, "p1", &s, None, NOW)).unwrap();
        transaction(&mut c, |c| super::complete_script(c, "p1", NOW + 5)).unwrap();
        assert_eq!(
            super::script(&mut c, "p1").unwrap().unwrap().completed_at,
            Some(NOW + 5)
        );
        assert_eq!(installed_at(&mut c, "t1"), Some(NOW + 5));
        for again in [
            transaction(&mut c, |c| {
                savepoint(c, |c| super::complete_script(c, "p1", NOW + 9))
            }),
            transaction(&mut c, |c| super::fail_script(c, "p1", "late", NOW + 9)),
            // No script at all.
            transaction(&mut c, |c| super::complete_script(c, "p2", NOW + 9)),
        ] {
            assert!(
                matches!(again, Err(StoreError::Conflict(Conflict::ScriptCompleted))),
                "{again:?}"
            );
        }
        let r = super::script(&mut c, "p1").unwrap().unwrap();
        assert_eq!((r.completed_at, r.failure), (Some(NOW + 5), None));
        assert_eq!(installed_at(&mut c, "t1"), Some(NOW + 5));
    }

    #[test]
    fn a_failed_script_fails_once_and_cannot_complete() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        provisioned(&mut c);
        let s = script(1, ScriptTarget::SecureElement);
        transaction(&mut c, |c| super::insert_script(c, "p1", &s, None, NOW)).unwrap();
        transaction(&mut c, |c| {
            super::fail_script(c, "p1", "no room on the element", NOW + 5)
        })
        .unwrap();
        let r = super::script(&mut c, "p1").unwrap().unwrap();
        assert_eq!(r.failure.as_deref(), Some("no room on the element"));
        assert_eq!(r.completed_at, None);
        for again in [
            transaction(&mut c, |c| super::fail_script(c, "p1", "again", NOW + 9)),
            transaction(&mut c, |c| super::complete_script(c, "p1", NOW + 9)),
        ] {
            assert!(
                matches!(again, Err(StoreError::Conflict(Conflict::ScriptCompleted))),
                "{again:?}"
            );
        }
        let r = super::script(&mut c, "p1").unwrap().unwrap();
        assert_eq!(r.failure.as_deref(), Some("no room on the element"));
        assert_eq!(installed_at(&mut c, "t1"), None);
    }

    #[test]
    fn a_reports_facts_are_the_script_and_the_hosted_account() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        provisioned(&mut c);
        let s = script(1, ScriptTarget::Hce);
        transaction(&mut c, |c| super::insert_script(c, "p1", &s, None, NOW)).unwrap();
        c.execute(
            "INSERT INTO wallet_accounts (account_id, token_requestor_id, wallet_user_id, issuer_id, customer_ref, device_id, device_model, device_os, binding_jwk, user_sealed, security_level, level_score, level_reasons, kba_source, state, kba_status, created_at, expires_at) VALUES ('wa1', '40000000001', 'u1', 'iss', 'c1', 'd1', 'm', 'os', '{}', $1, 'LOW', 0, '[]', 'BANK', 'ACTIVE', 'PASSED', $2, $3)",
            params![&sealed(5).to_bytes(), NOW, NOW + 600],
        )
        .unwrap();
        let query = |provisioning_id: &str, hosted: bool| ScriptFactsQuery {
            provisioning_id: provisioning_id.into(),
            hosted_account: hosted.then(|| ("40000000001".into(), "u1".into())),
        };
        let f = super::facts(&mut c, &query("p1", true)).unwrap();
        assert_eq!(f.script.unwrap().token_ref_id, "t1");
        let a = f.account.unwrap();
        assert_eq!(
            (a.state, a.device_id.as_str()),
            (AccountState::Active, "d1")
        );
        let f = super::facts(&mut c, &query("p1", false)).unwrap();
        assert!(f.script.is_some() && f.account.is_none());
        let f = super::facts(&mut c, &query("p2", true)).unwrap();
        assert!(f.script.is_none() && f.account.is_some());
    }

    #[test]
    fn a_script_ends_once_either_way() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        provisioned(&mut c);
        for n in 1..=2 {
            let s = script(n, ScriptTarget::SecureElement);
            let p = format!("p{n}");
            transaction(&mut c, |c| super::insert_script(c, &p, &s, None, NOW)).unwrap();
        }
        let end = |p: &str, outcome: ScriptOutcome| ScriptEnd {
            provisioning_id: p.into(),
            outcome,
            at: NOW + 5,
        };
        let failed = ScriptOutcome::Failed {
            reason: "no room".into(),
        };
        transaction(&mut c, |c| {
            super::end_script(c, &end("p1", ScriptOutcome::Installed))
        })
        .unwrap();
        transaction(&mut c, |c| super::end_script(c, &end("p2", failed.clone()))).unwrap();
        assert_eq!(installed_at(&mut c, "t1"), Some(NOW + 5));
        let r = super::script(&mut c, "p2").unwrap().unwrap();
        assert_eq!(
            (r.completed_at, r.failure.as_deref()),
            (None, Some("no room"))
        );
        for (p, outcome) in [
            ("p1", failed.clone()),
            ("p2", ScriptOutcome::Installed),
            ("p1", ScriptOutcome::Installed),
        ] {
            let again = transaction(&mut c, |c| super::end_script(c, &end(p, outcome.clone())));
            assert!(
                matches!(again, Err(StoreError::Conflict(Conflict::ScriptCompleted))),
                "{again:?}"
            );
        }
        assert_eq!(installed_at(&mut c, "t2"), None);
    }
}

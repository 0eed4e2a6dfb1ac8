//! Hosted wallet accounts, their audit trail, and knowledge-based verification.

use provisio_accounts::wire::SourceKind;
use provisio_accounts::{
    AccountProgress, AccountState, Channel, CreationFacts, DrawFacts, KbaChange, KbaFacts,
    KbaStatus, OpenAttempt, SecurityLevel, ServedQuestion, Transition,
};

use crate::db::codec::{Row, params};
use crate::db::conn::Conn;
use crate::db::participants::{idempotency, insert_idempotency};
use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, Conflict, EnrolmentRecord,
    IdempotencyRecord, KbaSourceRecord, NewAccount, QuestionRecord, StoreError,
};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("wallet account {what}"))
}

fn mac(bytes: Option<Vec<u8>>) -> Result<Option<[u8; 32]>, StoreError> {
    bytes
        .map(|b| <[u8; 32]>::try_from(b.as_slice()).map_err(|_| corrupt("answer hash")))
        .transpose()
}

fn hash32(row: &Row, col: &str) -> Result<[u8; 32], StoreError> {
    let b: Vec<u8> = row.get(col)?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| corrupt(col))
}

/// Appends a state change to an account's audit trail.
pub(crate) fn insert_event(c: &mut dyn Conn, t: &Transition) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO wallet_account_events (account_id, from_state, to_state, channel, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            &t.account_id,
            t.from.map(AccountState::as_str),
            t.to.as_str(),
            t.channel.as_str(),
            &t.reason,
            t.at
        ],
    )?;
    Ok(())
}

/// What a new account is decided from (docs/architecture.md §4: one load): the stored answer
/// for the idempotency key, whether the issuer is registered and its question source, the
/// device's block-list entry, other wallet users on the device, locked accounts of the user or
/// the issuer's customer, and the customer's enrolment. Three reads, in that order.
pub(crate) fn account_facts(
    c: &mut dyn Conn,
    q: &AccountFactsQuery,
) -> Result<AccountFacts, StoreError> {
    let idempotency = match &q.idempotency {
        Some((principal, key)) => idempotency(c, principal, key)?,
        None => None,
    };
    let row = c.query_one(
        "SELECT
           CASE WHEN EXISTS (SELECT 1 FROM issuers WHERE issuer_id = $4) THEN 1 ELSE 0 END AS registered,
           (SELECT kind FROM kba_sources WHERE issuer_id = $4) AS source,
           CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'device' AND value = $1) THEN 1 ELSE 0 END AS blocked,
           (SELECT COUNT(DISTINCT token_requestor_id || '/' || wallet_user_id) FROM wallet_accounts
             WHERE device_id = $1 AND state <> 'EXPIRED'
               AND NOT (token_requestor_id = $2 AND wallet_user_id = $3)) AS others,
           (SELECT COUNT(*) FROM wallet_accounts WHERE state = 'LOCKED'
             AND token_requestor_id = $2 AND wallet_user_id = $3 AND state <> 'EXPIRED')
           + (SELECT COUNT(*) FROM wallet_accounts WHERE state = 'LOCKED'
             AND issuer_id = $4 AND customer_ref = $5
             AND NOT (token_requestor_id = $2 AND wallet_user_id = $3)) AS locked",
        params![
            &q.device_id,
            &q.token_requestor_id,
            &q.wallet_user_id,
            &q.issuer_id,
            &q.customer_ref
        ],
    )?;
    let enrolment = c
        .query_opt(
            "SELECT * FROM kba_enrolments WHERE issuer_id = $1 AND customer_ref = $2",
            params![&q.issuer_id, &q.customer_ref],
        )?
        .map(|r| -> Result<EnrolmentRecord, StoreError> {
            Ok(EnrolmentRecord {
                issuer_id: r.get("issuer_id")?,
                customer_ref: r.get("customer_ref")?,
                name_hash: hash32(&r, "name_hash")?,
                phone_hash: hash32(&r, "phone_hash")?,
                email_hash: hash32(&r, "email_hash")?,
                customer_since: r.get("customer_since")?,
                loaded_at: r.get("loaded_at")?,
            })
        })
        .transpose()?;
    let source = row
        .get::<Option<String>>("source")?
        .map(|kind| SourceKind::parse(&kind).ok_or_else(|| corrupt("kba source")))
        .transpose()?;
    Ok(AccountFacts {
        idempotency,
        new_account: CreationFacts {
            issuer_registered: row.get::<i64>("registered")? != 0,
            source,
            device_blocklisted: row.get::<i64>("blocked")? != 0,
            other_users_on_device: row.count("others")?,
            prior_locked_accounts: row.count("locked")?,
            enrolment,
        },
    })
}

/// Creates an account in `PENDING_ACTIVATION` with its first audit record and the idempotent
/// answer. A wallet user with an account that is not expired is [`Conflict::WalletAccount`].
/// Writes several statements: must run in a transaction.
pub(crate) fn create_account(
    c: &mut dyn Conn,
    a: &NewAccount,
    created: &Transition,
    idempotency: Option<&IdempotencyRecord>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO wallet_accounts (account_id, token_requestor_id, wallet_user_id, issuer_id, customer_ref,
           device_id, device_model, device_os, secure_element_id, binding_jwk, user_sealed,
           security_level, level_score, level_reasons, kba_source, state, kba_status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'PENDING_ACTIVATION', 'NOT_STARTED', $16, $17)",
        params![
            &a.account_id,
            &a.token_requestor_id,
            &a.wallet_user_id,
            &a.issuer_id,
            &a.customer_ref,
            &a.device_id,
            &a.device_model,
            &a.device_os,
            a.secure_element_id.as_ref(),
            &a.binding_jwk,
            &a.user_sealed,
            a.security_level.as_str(),
            a.level_score,
            &a.level_reasons,
            a.kba_source.as_str(),
            a.created_at,
            a.expires_at
        ],
    )
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(Conflict::Other) => StoreError::Conflict(Conflict::WalletAccount),
        other => other,
    })?;
    insert_event(c, created)?;
    if let Some(r) = idempotency {
        insert_idempotency(c, r)?;
    }
    Ok(())
}

/// An account with the reason of its last transition and its open attempt. Three reads: the
/// account, its open attempt, that attempt's questions.
pub(crate) fn account(
    c: &mut dyn Conn,
    account_id: &str,
) -> Result<Option<AccountRecord>, StoreError> {
    let Some(row) = c.query_opt(
        "SELECT a.*, (SELECT e.reason FROM wallet_account_events e WHERE e.account_id = a.account_id
                      ORDER BY e.seq DESC LIMIT 1) AS state_reason
         FROM wallet_accounts a WHERE a.account_id = $1",
        params![account_id],
    )?
    else {
        return Ok(None);
    };
    let get_str = |col: &str| -> Result<String, StoreError> { row.get(col) };
    let state = AccountState::parse(&get_str("state")?).ok_or_else(|| corrupt("state"))?;
    let level =
        SecurityLevel::parse(&get_str("security_level")?).ok_or_else(|| corrupt("level"))?;
    let kba = KbaStatus::parse(&get_str("kba_status")?).ok_or_else(|| corrupt("kba status"))?;
    let kba_source =
        SourceKind::parse(&get_str("kba_source")?).ok_or_else(|| corrupt("kba source"))?;
    let attempt = open_attempt(c, account_id)?;
    Ok(Some(AccountRecord {
        token_requestor_id: get_str("token_requestor_id")?,
        wallet_user_id: get_str("wallet_user_id")?,
        issuer_id: get_str("issuer_id")?,
        customer_ref: get_str("customer_ref")?,
        device_id: get_str("device_id")?,
        user_sealed: row.get("user_sealed")?,
        kba_source,
        created_at: row.get("created_at")?,
        activated_at: row.get("activated_at")?,
        state_reason: row
            .get::<Option<String>>("state_reason")?
            .unwrap_or_default(),
        progress: AccountProgress {
            account_id: account_id.to_owned(),
            state,
            level,
            kba,
            attempts_used: row.count("attempts_used")?,
            expires_at: row.get("expires_at")?,
            version: row.get("version")?,
            attempt,
        },
    }))
}

/// Everything a verification step of an account is decided from (docs/architecture.md §4:
/// one load): the account, its issuer's question source and, for a step that may start an
/// attempt (`draw`), the ids asked of the account and the bank's unused questions for it.
pub(crate) fn kba_facts(
    c: &mut dyn Conn,
    account_id: &str,
    draw: bool,
) -> Result<Option<KbaFacts>, StoreError> {
    let Some(account) = account(c, account_id)? else {
        return Ok(None);
    };
    let source = kba_source(c, &account.issuer_id)?;
    let draw = if draw {
        Some(DrawFacts {
            asked: asked_questions(c, account_id)?,
            unused_bank: bank_questions(c, &account.issuer_id, &account.customer_ref, account_id)?,
        })
    } else {
        None
    };
    Ok(Some(KbaFacts {
        account,
        source,
        draw,
    }))
}

/// An account's open attempt (not finished) with its questions in order, if it has one.
fn open_attempt(c: &mut dyn Conn, account_id: &str) -> Result<Option<OpenAttempt>, StoreError> {
    let Some(open) = c.query_opt(
        "SELECT attempt_no FROM kba_attempts WHERE account_id = $1 AND finished_at IS NULL",
        params![account_id],
    )?
    else {
        return Ok(None);
    };
    let number: i64 = open.get("attempt_no")?;
    let rows = c.query(
        "SELECT question_id, position, served_at, deadline, correct, sealed, answer_mac FROM kba_served WHERE account_id = $1 AND attempt_no = $2 ORDER BY position",
        params![account_id, number],
    )?;
    let questions = rows
        .iter()
        .map(|r| -> Result<ServedQuestion, StoreError> {
            Ok(ServedQuestion {
                question_id: r.get("question_id")?,
                position: r.count("position")?,
                served_at: r.get("served_at")?,
                deadline: r.get("deadline")?,
                correct: r.get::<Option<i64>>("correct")?.map(|c| c != 0),
                sealed: r.get("sealed")?,
                answer_mac: mac(r.get("answer_mac")?)?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(OpenAttempt {
        number: open.count("attempt_no")?,
        questions,
    }))
}

/// The wallet user's account that is not expired, if any.
pub(crate) fn live_account(
    c: &mut dyn Conn,
    token_requestor_id: &str,
    wallet_user_id: &str,
) -> Result<Option<AccountGate>, StoreError> {
    c.query_opt(
        "SELECT state, device_id, expires_at, binding_jwk FROM wallet_accounts WHERE token_requestor_id = $1 AND wallet_user_id = $2 AND state <> 'EXPIRED'",
        params![token_requestor_id, wallet_user_id],
    )?
    .map(|r| {
        let state: String = r.get("state")?;
        Ok(AccountGate {
            state: AccountState::parse(&state).ok_or_else(|| corrupt("state"))?,
            device_id: r.get("device_id")?,
            expires_at: r.get("expires_at")?,
            binding_jwk: r.get("binding_jwk")?,
        })
    })
    .transpose()
}

/// Applies a verification change and its audit record if the account is still at the
/// change's version ([`Conflict::AccountVersion`] otherwise, also when the answered question
/// is not open). A question asked of the account before is [`Conflict::QuestionRepeated`].
/// Writes several statements: must run in a transaction (a savepoint), so that a conflict
/// part-way leaves nothing written.
pub(crate) fn commit_kba(c: &mut dyn Conn, change: &KbaChange) -> Result<(), StoreError> {
    let to = change.transition.as_ref().map(|t| t.to);
    let activated_at = change
        .transition
        .as_ref()
        .filter(|t| t.to == AccountState::Active)
        .map(|t| t.at);
    let updated = c.execute(
        "UPDATE wallet_accounts SET version = version + 1, kba_status = $1, attempts_used = $2,
           state = COALESCE($3, state), activated_at = COALESCE($4, activated_at)
         WHERE account_id = $5 AND version = $6",
        params![
            change.kba.as_str(),
            change.attempts_used,
            to.map(AccountState::as_str),
            activated_at,
            &change.account_id,
            change.version
        ],
    )?;
    if updated != 1 {
        return Err(StoreError::Conflict(Conflict::AccountVersion));
    }
    if let Some((number, questions)) = &change.start_attempt {
        let at = change.serve.as_ref().map(|s| s.1).unwrap_or_default();
        c.execute(
            "INSERT INTO kba_attempts (account_id, attempt_no, started_at) VALUES ($1, $2, $3)",
            params![&change.account_id, *number, at],
        )?;
        for (i, q) in questions.iter().enumerate() {
            c.execute(
                "INSERT INTO kba_served (account_id, question_id, attempt_no, position, sealed, answer_mac) VALUES ($1, $2, $3, $4, $5, $6)",
                params![
                    &change.account_id,
                    &q.question_id,
                    *number,
                    i as i64 + 1,
                    &q.sealed,
                    q.answer_mac.as_ref()
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::QuestionRepeated),
                other => other,
            })?;
        }
    }
    if let Some((question_id, at, correct)) = &change.answer {
        let n = c.execute(
            "UPDATE kba_served SET answered_at = $1, correct = $2 WHERE account_id = $3 AND question_id = $4 AND correct IS NULL AND served_at IS NOT NULL",
            params![*at, i64::from(*correct), &change.account_id, question_id],
        )?;
        if n != 1 {
            return Err(StoreError::Conflict(Conflict::AccountVersion));
        }
    }
    if let Some((question_id, at, deadline)) = &change.serve {
        c.execute(
            "UPDATE kba_served SET served_at = $1, deadline = $2 WHERE account_id = $3 AND question_id = $4 AND served_at IS NULL",
            params![*at, *deadline, &change.account_id, question_id],
        )?;
    }
    if let Some((number, outcome, at)) = &change.finish_attempt {
        c.execute(
            "UPDATE kba_attempts SET finished_at = $1, outcome = $2 WHERE account_id = $3 AND attempt_no = $4 AND finished_at IS NULL",
            params![*at, outcome.as_str(), &change.account_id, *number],
        )?;
    }
    if let Some(t) = &change.transition {
        insert_event(c, t)?;
    }
    Ok(())
}

/// Ids of every question drawn for an account, by attempt and position.
pub(crate) fn asked_questions(
    c: &mut dyn Conn,
    account_id: &str,
) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT question_id FROM kba_served WHERE account_id = $1 ORDER BY attempt_no, position",
        params![account_id],
    )?
    .iter()
    .map(|r| r.get("question_id"))
    .collect()
}

/// The bank's questions for a customer that were never drawn for the account, by id.
pub(crate) fn bank_questions(
    c: &mut dyn Conn,
    issuer_id: &str,
    customer_ref: &str,
    account_id: &str,
) -> Result<Vec<QuestionRecord>, StoreError> {
    c.query(
        "SELECT question_id, sealed, answer_mac FROM kba_bank_questions b
         WHERE issuer_id = $1 AND customer_ref = $2
           AND NOT EXISTS (SELECT 1 FROM kba_served s WHERE s.account_id = $3 AND s.question_id = b.question_id)
         ORDER BY question_id",
        params![issuer_id, customer_ref, account_id],
    )?
    .iter()
    .map(question_record)
    .collect()
}

/// Stores a customer's enrolment (replacing one loaded before) and replaces their bank
/// questions. Writes several statements: must run in a transaction.
pub(crate) fn load_enrolment(
    c: &mut dyn Conn,
    e: &EnrolmentRecord,
    questions: &[QuestionRecord],
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM kba_bank_questions WHERE issuer_id = $1 AND customer_ref = $2",
        params![&e.issuer_id, &e.customer_ref],
    )?;
    c.execute(
        "INSERT INTO kba_enrolments (issuer_id, customer_ref, name_hash, phone_hash, email_hash, customer_since, loaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (issuer_id, customer_ref) DO UPDATE SET name_hash = excluded.name_hash,
           phone_hash = excluded.phone_hash, email_hash = excluded.email_hash,
           customer_since = excluded.customer_since, loaded_at = excluded.loaded_at",
        params![
            &e.issuer_id,
            &e.customer_ref,
            &e.name_hash,
            &e.phone_hash,
            &e.email_hash,
            e.customer_since,
            e.loaded_at
        ],
    )?;
    for q in questions {
        c.execute(
            "INSERT INTO kba_bank_questions (question_id, issuer_id, customer_ref, sealed, answer_mac) VALUES ($1, $2, $3, $4, $5)",
            params![
                &q.question_id,
                &e.issuer_id,
                &e.customer_ref,
                &q.sealed,
                q.answer_mac.as_ref()
            ],
        )?;
    }
    Ok(())
}

/// Sets (or replaces) where an issuer's questions come from.
pub(crate) fn set_kba_source(
    c: &mut dyn Conn,
    issuer_id: &str,
    s: &KbaSourceRecord,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO kba_sources (issuer_id, kind, url, credential_sealed, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (issuer_id) DO UPDATE SET kind = excluded.kind, url = excluded.url,
           credential_sealed = excluded.credential_sealed, updated_at = excluded.updated_at",
        params![issuer_id, s.kind.as_str(), s.url.as_ref(), s.credential.as_ref(), now],
    )?;
    Ok(())
}

/// An issuer's question source (none: the bank).
pub(crate) fn kba_source(
    c: &mut dyn Conn,
    issuer_id: &str,
) -> Result<Option<KbaSourceRecord>, StoreError> {
    c.query_opt(
        "SELECT kind, url, credential_sealed FROM kba_sources WHERE issuer_id = $1",
        params![issuer_id],
    )?
    .map(|r| {
        let kind: String = r.get("kind")?;
        Ok(KbaSourceRecord {
            kind: SourceKind::parse(&kind).ok_or_else(|| corrupt("kba source"))?,
            url: r.get("url")?,
            credential: r.get("credential_sealed")?,
        })
    })
    .transpose()
}

/// An account's audit trail, oldest first.
pub(crate) fn account_events(
    c: &mut dyn Conn,
    account_id: &str,
) -> Result<Vec<Transition>, StoreError> {
    c.query(
        "SELECT from_state, to_state, channel, reason, at FROM wallet_account_events WHERE account_id = $1 ORDER BY seq",
        params![account_id],
    )?
    .iter()
    .map(|r| {
        let from: Option<String> = r.get("from_state")?;
        let to: String = r.get("to_state")?;
        let channel: String = r.get("channel")?;
        Ok(Transition {
            account_id: account_id.to_owned(),
            from: from
                .map(|f| AccountState::parse(&f).ok_or_else(|| corrupt("event")))
                .transpose()?,
            to: AccountState::parse(&to).ok_or_else(|| corrupt("event"))?,
            channel: Channel::parse(&channel).ok_or_else(|| corrupt("event channel"))?,
            reason: r.get("reason")?,
            at: r.get("at")?,
        })
    })
    .collect()
}

fn question_record(r: &Row) -> Result<QuestionRecord, StoreError> {
    Ok(QuestionRecord {
        question_id: r.get("question_id")?,
        sealed: r.get("sealed")?,
        answer_mac: mac(r.get("answer_mac")?)?,
    })
}

#[cfg(test)]
mod tests {
    use provisio_accounts::AttemptOutcome;

    use super::*;
    use crate::db::conn::transaction;

    fn setup(dir: &std::path::Path) -> crate::db::sqlite::SqliteConn {
        let mut c = crate::db::test_conn(dir);
        c.execute(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ('bank-a', 'Bank A', 'k1', '{}', 1)",
            params![],
        )
        .unwrap();
        c.execute(
            "INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at) VALUES ('tr', 'Wallet', 'hosted', 1)",
            params![],
        )
        .unwrap();
        c
    }

    fn new_account(id: &str, user: &str, device: &str) -> NewAccount {
        NewAccount {
            account_id: id.into(),
            token_requestor_id: "tr".into(),
            wallet_user_id: user.into(),
            issuer_id: "bank-a".into(),
            customer_ref: "cust-1".into(),
            device_id: device.into(),
            device_model: "Pixel".into(),
            device_os: "Android 15".into(),
            secure_element_id: Some("se-1".into()),
            binding_jwk: "{\"kty\":\"EC\"}".into(),
            user_sealed: b"sealed user".to_vec(),
            security_level: SecurityLevel::Medium,
            level_score: 40,
            level_reasons: "[\"device_risk\"]".into(),
            kba_source: SourceKind::Bank,
            created_at: 100,
            expires_at: 1000,
        }
    }

    fn created(id: &str) -> Transition {
        Transition {
            account_id: id.into(),
            from: None,
            to: AccountState::PendingActivation,
            channel: Channel::Wallet,
            reason: "created".into(),
            at: 100,
        }
    }

    fn create(
        c: &mut dyn Conn,
        a: &NewAccount,
        idem: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        transaction(c, |tx| create_account(tx, a, &created(&a.account_id), idem))
    }

    fn kba(c: &mut dyn Conn, change: &KbaChange) -> Result<(), StoreError> {
        transaction(c, |tx| commit_kba(tx, change))
    }

    fn idem(key: &str) -> IdempotencyRecord {
        IdempotencyRecord {
            principal: "tr".into(),
            key: key.into(),
            request_hash: [3; 32],
            status: 201,
            body: "{}".into(),
            created_at: 100,
        }
    }

    fn question(id: &str, mac: Option<[u8; 32]>) -> QuestionRecord {
        QuestionRecord {
            question_id: id.into(),
            sealed: id.as_bytes().to_vec(),
            answer_mac: mac,
        }
    }

    fn enrolment(loaded_at: i64) -> EnrolmentRecord {
        EnrolmentRecord {
            issuer_id: "bank-a".into(),
            customer_ref: "cust-1".into(),
            name_hash: [1; 32],
            phone_hash: [2; 32],
            email_hash: [3; 32],
            customer_since: Some(50),
            loaded_at,
        }
    }

    fn change(version: i64) -> KbaChange {
        KbaChange {
            account_id: "acc-1".into(),
            version,
            kba: KbaStatus::InProgress,
            attempts_used: 0,
            start_attempt: None,
            answer: None,
            serve: None,
            finish_attempt: None,
            transition: None,
        }
    }

    fn count(c: &mut dyn Conn, sql: &str) -> i64 {
        c.query_one(sql, params![]).unwrap().get("n").unwrap()
    }

    #[test]
    fn an_account_round_trips_with_its_audit_trail_and_one_live_account_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        assert!(account(&mut c, "acc-1").unwrap().is_none());
        assert!(live_account(&mut c, "tr", "user-1").unwrap().is_none());
        create(
            &mut c,
            &new_account("acc-1", "user-1", "dev-1"),
            Some(&idem("k1")),
        )
        .unwrap();

        let a = account(&mut c, "acc-1").unwrap().unwrap();
        assert_eq!(a.token_requestor_id, "tr");
        assert_eq!(a.wallet_user_id, "user-1");
        assert_eq!(a.issuer_id, "bank-a");
        assert_eq!(a.customer_ref, "cust-1");
        assert_eq!(a.device_id, "dev-1");
        assert_eq!(a.user_sealed, b"sealed user");
        assert_eq!(a.state_reason, "created");
        assert_eq!(a.kba_source, SourceKind::Bank);
        assert_eq!((a.created_at, a.activated_at), (100, None));
        assert_eq!(
            a.progress,
            AccountProgress {
                account_id: "acc-1".into(),
                state: AccountState::PendingActivation,
                level: SecurityLevel::Medium,
                kba: KbaStatus::NotStarted,
                attempts_used: 0,
                expires_at: 1000,
                version: 0,
                attempt: None,
            }
        );
        assert_eq!(
            live_account(&mut c, "tr", "user-1").unwrap(),
            Some(AccountGate {
                state: AccountState::PendingActivation,
                device_id: "dev-1".into(),
                expires_at: 1000,
                binding_jwk: "{\"kty\":\"EC\"}".into(),
            })
        );
        assert_eq!(
            account_events(&mut c, "acc-1").unwrap(),
            vec![created("acc-1")]
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) AS n FROM idempotency WHERE idem_key = 'k1'"
            ),
            1
        );

        // The same wallet user again, with an account that is not expired.
        assert!(matches!(
            create(&mut c, &new_account("acc-2", "user-1", "dev-2"), None),
            Err(StoreError::Conflict(Conflict::WalletAccount))
        ));
        // A reused idempotency key: the account and its event are rolled back with it.
        assert!(matches!(
            create(
                &mut c,
                &new_account("acc-3", "user-3", "dev-3"),
                Some(&idem("k1"))
            ),
            Err(StoreError::Conflict(Conflict::IdempotencyKey))
        ));
        assert!(account(&mut c, "acc-3").unwrap().is_none());
        assert!(account_events(&mut c, "acc-3").unwrap().is_empty());

        // Once expired, the user may have a new account.
        c.execute(
            "UPDATE wallet_accounts SET state = 'EXPIRED' WHERE account_id = 'acc-1'",
            params![],
        )
        .unwrap();
        assert!(live_account(&mut c, "tr", "user-1").unwrap().is_none());
        create(&mut c, &new_account("acc-2", "user-1", "dev-2"), None).unwrap();
        assert_eq!(
            live_account(&mut c, "tr", "user-1")
                .unwrap()
                .unwrap()
                .device_id,
            "dev-2"
        );
    }

    #[test]
    fn an_account_of_an_unknown_issuer_is_a_missing_reference() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        let mut a = new_account("acc-1", "user-1", "dev-1");
        a.issuer_id = "nobody".into();
        assert!(matches!(
            create(&mut c, &a, None),
            Err(StoreError::MissingReference)
        ));
    }

    #[test]
    fn account_facts_count_the_device_its_users_and_locked_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        let q = AccountFactsQuery {
            idempotency: None,
            token_requestor_id: "tr".into(),
            wallet_user_id: "user-1".into(),
            device_id: "dev-1".into(),
            issuer_id: "bank-a".into(),
            customer_ref: "cust-1".into(),
        };
        let f = account_facts(&mut c, &q).unwrap().new_account;
        assert!(f.issuer_registered);
        assert_eq!(f.source, None);
        assert!(!f.device_blocklisted);
        assert_eq!((f.other_users_on_device, f.prior_locked_accounts), (0, 0));
        assert!(f.enrolment.is_none());

        c.execute(
            "INSERT INTO risk_lists (list, kind, value, created_at) VALUES ('block', 'device', 'dev-1', 1)",
            params![],
        )
        .unwrap();
        // Another user on the device; a locked account of the same issuer customer.
        create(&mut c, &new_account("acc-2", "user-2", "dev-1"), None).unwrap();
        c.execute(
            "UPDATE wallet_accounts SET state = 'LOCKED' WHERE account_id = 'acc-2'",
            params![],
        )
        .unwrap();
        // The user's own account on the device is not "another user".
        create(&mut c, &new_account("acc-1", "user-1", "dev-1"), None).unwrap();
        transaction(&mut c, |tx| load_enrolment(tx, &enrolment(7), &[])).unwrap();

        let f = account_facts(&mut c, &q).unwrap().new_account;
        assert!(f.device_blocklisted);
        assert_eq!((f.other_users_on_device, f.prior_locked_accounts), (1, 1));
        assert_eq!(f.enrolment, Some(enrolment(7)));
    }

    #[test]
    fn the_facts_loads_read_what_a_creation_and_a_step_are_decided_from() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        create(
            &mut c,
            &new_account("acc-1", "user-1", "dev-1"),
            Some(&idem("k1")),
        )
        .unwrap();
        let mut q = AccountFactsQuery {
            idempotency: Some(("tr".into(), "k1".into())),
            token_requestor_id: "tr".into(),
            wallet_user_id: "user-2".into(),
            device_id: "dev-2".into(),
            issuer_id: "nobody".into(),
            customer_ref: "cust-1".into(),
        };
        let f = account_facts(&mut c, &q).unwrap();
        assert_eq!(f.idempotency, Some(idem("k1")));
        assert!(!f.new_account.issuer_registered);
        let http = KbaSourceRecord {
            kind: SourceKind::Issuer,
            url: Some("https://issuer.example/kba".into()),
            credential: None,
        };
        set_kba_source(&mut c, "bank-a", &http, 5).unwrap();
        q.issuer_id = "bank-a".into();
        q.idempotency = Some(("tr".into(), "k2".into()));
        let f = account_facts(&mut c, &q).unwrap();
        assert_eq!(f.idempotency, None);
        assert!(f.new_account.issuer_registered);
        assert_eq!(f.new_account.source, Some(SourceKind::Issuer));

        assert!(kba_facts(&mut c, "acc-9", true).unwrap().is_none());
        transaction(&mut c, |tx| {
            load_enrolment(
                tx,
                &enrolment(7),
                &[question("q1", Some([1; 32])), question("q2", Some([2; 32]))],
            )
        })
        .unwrap();
        let mut start = change(0);
        start.start_attempt = Some((1, vec![question("q1", Some([1; 32]))]));
        start.serve = Some(("q1".into(), 200, 320));
        kba(&mut c, &start).unwrap();
        let f = kba_facts(&mut c, "acc-1", true).unwrap().unwrap();
        assert_eq!(f.account, account(&mut c, "acc-1").unwrap().unwrap());
        assert_eq!(f.source, Some(http));
        assert_eq!(
            f.draw,
            Some(DrawFacts {
                asked: vec!["q1".into()],
                unused_bank: vec![question("q2", Some([2; 32]))],
            })
        );
        assert_eq!(
            kba_facts(&mut c, "acc-1", false).unwrap().unwrap().draw,
            None
        );

        let mut expire = change(1);
        expire.finish_attempt = Some((1, AttemptOutcome::Abandoned, 400));
        expire.transition = Some(Transition {
            account_id: "acc-1".into(),
            from: Some(AccountState::PendingActivation),
            to: AccountState::Expired,
            channel: Channel::System,
            reason: "pending_expired".into(),
            at: 400,
        });
        kba(&mut c, &expire).unwrap();
        let a = account(&mut c, "acc-1").unwrap().unwrap();
        assert_eq!(
            (
                a.progress.state,
                a.state_reason.as_str(),
                a.progress.attempt
            ),
            (AccountState::Expired, "pending_expired", None)
        );
    }

    #[test]
    fn an_enrolment_replaces_the_customers_bank_questions() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        let first = [question("q1", Some([1; 32])), question("q2", Some([2; 32]))];
        transaction(&mut c, |tx| load_enrolment(tx, &enrolment(7), &first)).unwrap();
        assert_eq!(
            bank_questions(&mut c, "bank-a", "cust-1", "acc-1").unwrap(),
            first
        );

        let mut again = enrolment(8);
        again.customer_since = None;
        let second = [question("q3", Some([3; 32]))];
        transaction(&mut c, |tx| load_enrolment(tx, &again, &second)).unwrap();
        assert_eq!(
            bank_questions(&mut c, "bank-a", "cust-1", "acc-1").unwrap(),
            second
        );
        let q = AccountFactsQuery {
            idempotency: None,
            token_requestor_id: "tr".into(),
            wallet_user_id: "user-1".into(),
            device_id: "dev-1".into(),
            issuer_id: "bank-a".into(),
            customer_ref: "cust-1".into(),
        };
        assert_eq!(
            account_facts(&mut c, &q).unwrap().new_account.enrolment,
            Some(again)
        );
    }

    #[test]
    fn a_kba_change_applies_at_its_version_and_never_repeats_a_question() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        create(&mut c, &new_account("acc-1", "user-1", "dev-1"), None).unwrap();
        transaction(&mut c, |tx| {
            load_enrolment(
                tx,
                &enrolment(7),
                &[
                    question("q1", Some([1; 32])),
                    question("q2", Some([2; 32])),
                    question("q3", Some([3; 32])),
                ],
            )
        })
        .unwrap();

        // Attempt 1 with two questions, the first shown.
        let mut start = change(0);
        start.start_attempt = Some((1, vec![question("q1", Some([1; 32])), question("q2", None)]));
        start.serve = Some(("q1".into(), 200, 320));
        kba(&mut c, &start).unwrap();
        let p = account(&mut c, "acc-1").unwrap().unwrap().progress;
        assert_eq!((p.version, p.kba), (1, KbaStatus::InProgress));
        assert_eq!(
            p.attempt,
            Some(OpenAttempt {
                number: 1,
                questions: vec![
                    ServedQuestion {
                        question_id: "q1".into(),
                        position: 1,
                        served_at: Some(200),
                        deadline: Some(320),
                        correct: None,
                        sealed: b"q1".to_vec(),
                        answer_mac: Some([1; 32]),
                    },
                    ServedQuestion {
                        question_id: "q2".into(),
                        position: 2,
                        served_at: None,
                        deadline: None,
                        correct: None,
                        sealed: b"q2".to_vec(),
                        answer_mac: None,
                    },
                ],
            })
        );
        assert_eq!(asked_questions(&mut c, "acc-1").unwrap(), ["q1", "q2"]);
        assert_eq!(
            bank_questions(&mut c, "bank-a", "cust-1", "acc-1").unwrap(),
            [question("q3", Some([3; 32]))]
        );

        // A change computed from an old version.
        assert!(matches!(
            kba(&mut c, &change(0)),
            Err(StoreError::Conflict(Conflict::AccountVersion))
        ));
        // An answer to a question not shown yet: the version bump is rolled back with it.
        let mut early = change(1);
        early.answer = Some(("q2".into(), 210, true));
        assert!(matches!(
            kba(&mut c, &early),
            Err(StoreError::Conflict(Conflict::AccountVersion))
        ));
        assert_eq!(
            account(&mut c, "acc-1").unwrap().unwrap().progress.version,
            1
        );

        // Right answer, the next question shown.
        let mut next = change(1);
        next.answer = Some(("q1".into(), 210, true));
        next.serve = Some(("q2".into(), 210, 330));
        kba(&mut c, &next).unwrap();
        // The same answer again: the question is answered already.
        let mut twice = change(2);
        twice.answer = Some(("q1".into(), 215, false));
        assert!(matches!(
            kba(&mut c, &twice),
            Err(StoreError::Conflict(Conflict::AccountVersion))
        ));

        // Wrong answer: attempt 1 ends; attempt 2 may not ask q1 again.
        let mut wrong = change(2);
        wrong.attempts_used = 1;
        wrong.answer = Some(("q2".into(), 220, false));
        wrong.finish_attempt = Some((1, AttemptOutcome::WrongAnswers, 220));
        kba(&mut c, &wrong).unwrap();
        let p = account(&mut c, "acc-1").unwrap().unwrap().progress;
        assert_eq!((p.version, p.attempts_used, p.attempt), (3, 1, None));
        let mut repeat = change(3);
        repeat.attempts_used = 1;
        repeat.start_attempt = Some((
            2,
            vec![question("q3", Some([3; 32])), question("q1", Some([1; 32]))],
        ));
        repeat.serve = Some(("q3".into(), 300, 420));
        assert!(matches!(
            kba(&mut c, &repeat),
            Err(StoreError::Conflict(Conflict::QuestionRepeated))
        ));
        let p = account(&mut c, "acc-1").unwrap().unwrap().progress;
        assert_eq!(
            (p.version, p.attempt),
            (3, None),
            "nothing of the refused change stays"
        );

        // Attempt 2 with a new question passes and activates the account.
        let mut second = change(3);
        second.attempts_used = 1;
        second.start_attempt = Some((2, vec![question("q3", Some([3; 32]))]));
        second.serve = Some(("q3".into(), 300, 420));
        kba(&mut c, &second).unwrap();
        assert_eq!(
            account(&mut c, "acc-1")
                .unwrap()
                .unwrap()
                .progress
                .attempt
                .unwrap()
                .number,
            2
        );
        let activated = Transition {
            account_id: "acc-1".into(),
            from: Some(AccountState::PendingActivation),
            to: AccountState::Active,
            channel: Channel::Wallet,
            reason: "kba_passed".into(),
            at: 310,
        };
        let mut pass = change(4);
        pass.kba = KbaStatus::Passed;
        pass.attempts_used = 1;
        pass.answer = Some(("q3".into(), 310, true));
        pass.finish_attempt = Some((2, AttemptOutcome::Passed, 310));
        pass.transition = Some(activated.clone());
        kba(&mut c, &pass).unwrap();
        let a = account(&mut c, "acc-1").unwrap().unwrap();
        assert_eq!(a.activated_at, Some(310));
        assert_eq!(
            (
                a.progress.state,
                a.progress.kba,
                a.progress.version,
                a.progress.attempt
            ),
            (AccountState::Active, KbaStatus::Passed, 5, None)
        );
        assert_eq!(
            asked_questions(&mut c, "acc-1").unwrap(),
            ["q1", "q2", "q3"]
        );
        assert!(
            bank_questions(&mut c, "bank-a", "cust-1", "acc-1")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            account_events(&mut c, "acc-1").unwrap(),
            vec![created("acc-1"), activated]
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) AS n FROM kba_attempts WHERE outcome IS NOT NULL"
            ),
            2
        );
    }

    #[test]
    fn a_kba_source_is_set_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = setup(dir.path());
        assert!(kba_source(&mut c, "bank-a").unwrap().is_none());
        let http = KbaSourceRecord {
            kind: SourceKind::ThirdParty,
            url: Some("https://idp.example".into()),
            credential: Some(b"sealed token".to_vec()),
        };
        set_kba_source(&mut c, "bank-a", &http, 5).unwrap();
        let got = kba_source(&mut c, "bank-a").unwrap().unwrap();
        assert_eq!(
            (got.kind, got.url.as_deref()),
            (SourceKind::ThirdParty, Some("https://idp.example"))
        );
        assert_eq!(got.credential.unwrap(), b"sealed token");

        let bank = KbaSourceRecord {
            kind: SourceKind::Bank,
            url: None,
            credential: None,
        };
        set_kba_source(&mut c, "bank-a", &bank, 6).unwrap();
        let got = kba_source(&mut c, "bank-a").unwrap().unwrap();
        assert_eq!(
            (got.kind, got.url, got.credential.is_none()),
            (SourceKind::Bank, None, true)
        );
        assert!(matches!(
            set_kba_source(&mut c, "nobody", &bank, 7),
            Err(StoreError::MissingReference)
        ));
    }
}

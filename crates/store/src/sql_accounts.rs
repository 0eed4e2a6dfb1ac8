//! SQLite: hosted wallet accounts, their audit trail, and knowledge-based verification.

use provisio_accounts::wire::SourceKind;
use provisio_accounts::{
    AccountProgress, AccountState, Channel, KbaChange, KbaStatus, OpenAttempt, SecurityLevel,
    ServedQuestion, Transition,
};
use provisio_tsp::Sealed;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::{count, sealed, unavailable, write_error};
use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, Conflict, EnrolmentRecord,
    KbaSourceRecord, NewAccount, QuestionRecord, SqlStore, StoreError,
};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("wallet account {what}"))
}

fn mac(bytes: Option<Vec<u8>>) -> Result<Option<[u8; 32]>, StoreError> {
    bytes
        .map(|b| <[u8; 32]>::try_from(b.as_slice()).map_err(|_| corrupt("answer hash")))
        .transpose()
}

fn hash32(row: &AnyRow, col: &str) -> Result<[u8; 32], StoreError> {
    let b: Vec<u8> = row.try_get(col).map_err(unavailable)?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| corrupt(col))
}

pub(crate) async fn insert_event(tx: &mut AnyConnection, t: &Transition) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO wallet_account_events (account_id, from_state, to_state, channel, reason, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&t.account_id)
        .bind(t.from.map(AccountState::as_str))
        .bind(t.to.as_str())
        .bind(t.channel.as_str())
        .bind(&t.reason)
        .bind(t.at)
        .execute(tx)
        .await
        .map_err(write_error)?;
    Ok(())
}

impl SqlStore {
    pub(crate) async fn account_facts_impl(
        &self,
        q: &AccountFactsQuery,
    ) -> Result<AccountFacts, StoreError> {
        let row = sqlx::query(
            "SELECT
               CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'device' AND value = $1) THEN 1 ELSE 0 END AS blocked,
               (SELECT COUNT(DISTINCT token_requestor_id || '/' || wallet_user_id) FROM wallet_accounts
                 WHERE device_id = $1 AND state <> 'EXPIRED'
                   AND NOT (token_requestor_id = $2 AND wallet_user_id = $3)) AS others,
               (SELECT COUNT(*) FROM wallet_accounts WHERE state = 'LOCKED'
                 AND token_requestor_id = $2 AND wallet_user_id = $3 AND state <> 'EXPIRED')
               + (SELECT COUNT(*) FROM wallet_accounts WHERE state = 'LOCKED'
                 AND issuer_id = $4 AND customer_ref = $5
                 AND NOT (token_requestor_id = $2 AND wallet_user_id = $3)) AS locked",
        )
        .bind(&q.device_id)
        .bind(&q.token_requestor_id)
        .bind(&q.wallet_user_id)
        .bind(&q.issuer_id)
        .bind(&q.customer_ref)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let enrolment =
            sqlx::query("SELECT * FROM kba_enrolments WHERE issuer_id = $1 AND customer_ref = $2")
                .bind(&q.issuer_id)
                .bind(&q.customer_ref)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?
                .map(|r| -> Result<EnrolmentRecord, StoreError> {
                    Ok(EnrolmentRecord {
                        issuer_id: r.try_get("issuer_id").map_err(unavailable)?,
                        customer_ref: r.try_get("customer_ref").map_err(unavailable)?,
                        name_hash: hash32(&r, "name_hash")?,
                        phone_hash: hash32(&r, "phone_hash")?,
                        email_hash: hash32(&r, "email_hash")?,
                        customer_since: r.try_get("customer_since").map_err(unavailable)?,
                        loaded_at: r.try_get("loaded_at").map_err(unavailable)?,
                    })
                })
                .transpose()?;
        Ok(AccountFacts {
            device_blocklisted: row.try_get::<i64, _>("blocked").map_err(unavailable)? != 0,
            other_users_on_device: count(row.try_get("others").map_err(unavailable)?),
            prior_locked_accounts: count(row.try_get("locked").map_err(unavailable)?),
            enrolment,
        })
    }

    pub(crate) async fn create_account_impl(
        &self,
        a: &NewAccount,
        created: &Transition,
        idempotency: Option<&crate::IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO wallet_accounts (account_id, token_requestor_id, wallet_user_id, issuer_id, customer_ref,
               device_id, device_model, device_os, secure_element_id, binding_jwk, user_sealed,
               security_level, level_score, level_reasons, kba_source, state, kba_status, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'PENDING_ACTIVATION', 'NOT_STARTED', $16, $17)",
        )
        .bind(&a.account_id)
        .bind(&a.token_requestor_id)
        .bind(&a.wallet_user_id)
        .bind(&a.issuer_id)
        .bind(&a.customer_ref)
        .bind(&a.device_id)
        .bind(&a.device_model)
        .bind(&a.device_os)
        .bind(&a.secure_element_id)
        .bind(&a.binding_jwk)
        .bind(a.user_sealed.to_bytes())
        .bind(a.security_level.as_str())
        .bind(i64::from(a.level_score))
        .bind(&a.level_reasons)
        .bind(a.kba_source.as_str())
        .bind(a.created_at)
        .bind(a.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match write_error(e) {
            StoreError::Conflict(Conflict::Other) => StoreError::Conflict(Conflict::WalletAccount),
            other => other,
        })?;
        insert_event(&mut tx, created).await?;
        if let Some(r) = idempotency {
            crate::sql::insert_idempotency(&mut tx, r).await?;
        }
        tx.commit().await.map_err(unavailable)
    }

    pub(crate) async fn account_impl(
        &self,
        account_id: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM wallet_accounts WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let get_str =
            |c: &str| -> Result<String, StoreError> { row.try_get(c).map_err(unavailable) };
        let state = AccountState::parse(&get_str("state")?).ok_or_else(|| corrupt("state"))?;
        let level =
            SecurityLevel::parse(&get_str("security_level")?).ok_or_else(|| corrupt("level"))?;
        let kba = KbaStatus::parse(&get_str("kba_status")?).ok_or_else(|| corrupt("kba status"))?;
        let kba_source =
            SourceKind::parse(&get_str("kba_source")?).ok_or_else(|| corrupt("kba source"))?;
        let attempt = self.open_attempt(account_id).await?;
        Ok(Some(AccountRecord {
            token_requestor_id: get_str("token_requestor_id")?,
            wallet_user_id: get_str("wallet_user_id")?,
            issuer_id: get_str("issuer_id")?,
            customer_ref: get_str("customer_ref")?,
            device_id: get_str("device_id")?,
            user_sealed: sealed(&row, "user_sealed")?,
            kba_source,
            created_at: row.try_get("created_at").map_err(unavailable)?,
            activated_at: row.try_get("activated_at").map_err(unavailable)?,
            progress: AccountProgress {
                account_id: account_id.to_owned(),
                state,
                level,
                kba,
                attempts_used: count(row.try_get("attempts_used").map_err(unavailable)?),
                expires_at: row.try_get("expires_at").map_err(unavailable)?,
                version: row.try_get("version").map_err(unavailable)?,
                attempt,
            },
        }))
    }

    async fn open_attempt(&self, account_id: &str) -> Result<Option<OpenAttempt>, StoreError> {
        let Some(number) = sqlx::query_scalar::<_, i64>(
            "SELECT attempt_no FROM kba_attempts WHERE account_id = $1 AND finished_at IS NULL",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let rows = sqlx::query("SELECT question_id, position, served_at, deadline, correct FROM kba_served WHERE account_id = $1 AND attempt_no = $2 ORDER BY position")
            .bind(account_id)
            .bind(number)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let questions = rows
            .iter()
            .map(|r| -> Result<ServedQuestion, StoreError> {
                Ok(ServedQuestion {
                    question_id: r.try_get("question_id").map_err(unavailable)?,
                    position: count(r.try_get("position").map_err(unavailable)?),
                    served_at: r.try_get("served_at").map_err(unavailable)?,
                    deadline: r.try_get("deadline").map_err(unavailable)?,
                    correct: r
                        .try_get::<Option<i64>, _>("correct")
                        .map_err(unavailable)?
                        .map(|c| c != 0),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(OpenAttempt {
            number: count(number),
            questions,
        }))
    }

    pub(crate) async fn live_account_impl(
        &self,
        token_requestor_id: &str,
        wallet_user_id: &str,
    ) -> Result<Option<AccountGate>, StoreError> {
        let row = sqlx::query("SELECT state, device_id, expires_at, binding_jwk FROM wallet_accounts WHERE token_requestor_id = $1 AND wallet_user_id = $2 AND state <> 'EXPIRED'")
            .bind(token_requestor_id)
            .bind(wallet_user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            let state: String = r.try_get("state").map_err(unavailable)?;
            Ok(AccountGate {
                state: AccountState::parse(&state).ok_or_else(|| corrupt("state"))?,
                device_id: r.try_get("device_id").map_err(unavailable)?,
                expires_at: r.try_get("expires_at").map_err(unavailable)?,
                binding_jwk: r.try_get("binding_jwk").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    pub(crate) async fn commit_kba_impl(&self, c: &KbaChange) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let to = c.transition.as_ref().map(|t| t.to);
        let activated_at = c
            .transition
            .as_ref()
            .filter(|t| t.to == AccountState::Active)
            .map(|t| t.at);
        let updated = sqlx::query(
            "UPDATE wallet_accounts SET version = version + 1, kba_status = $1, attempts_used = $2,
               state = COALESCE($3, state), activated_at = COALESCE($4, activated_at)
             WHERE account_id = $5 AND version = $6",
        )
        .bind(c.kba.as_str())
        .bind(i64::from(c.attempts_used))
        .bind(to.map(AccountState::as_str))
        .bind(activated_at)
        .bind(&c.account_id)
        .bind(c.version)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AccountVersion));
        }
        if let Some((number, questions)) = &c.start_attempt {
            let at = c.serve.as_ref().map(|s| s.1).unwrap_or_default();
            sqlx::query(
                "INSERT INTO kba_attempts (account_id, attempt_no, started_at) VALUES ($1, $2, $3)",
            )
            .bind(&c.account_id)
            .bind(i64::from(*number))
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
            for (i, q) in questions.iter().enumerate() {
                sqlx::query("INSERT INTO kba_served (account_id, question_id, attempt_no, position, sealed, answer_mac) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&c.account_id)
                    .bind(&q.question_id)
                    .bind(i64::from(*number))
                    .bind(i as i64 + 1)
                    .bind(&q.sealed)
                    .bind(q.answer_mac.as_ref().map(|m| &m[..]))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match write_error(e) {
                        StoreError::Conflict(_) => StoreError::Conflict(Conflict::QuestionRepeated),
                        other => other,
                    })?;
            }
        }
        if let Some((question_id, at, correct)) = &c.answer {
            let n = sqlx::query("UPDATE kba_served SET answered_at = $1, correct = $2 WHERE account_id = $3 AND question_id = $4 AND correct IS NULL AND served_at IS NOT NULL")
                .bind(at)
                .bind(i64::from(*correct))
                .bind(&c.account_id)
                .bind(question_id)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
            if n.rows_affected() != 1 {
                return Err(StoreError::Conflict(Conflict::AccountVersion));
            }
        }
        if let Some((question_id, at, deadline)) = &c.serve {
            sqlx::query("UPDATE kba_served SET served_at = $1, deadline = $2 WHERE account_id = $3 AND question_id = $4 AND served_at IS NULL")
                .bind(at)
                .bind(deadline)
                .bind(&c.account_id)
                .bind(question_id)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
        }
        if let Some((number, outcome, at)) = &c.finish_attempt {
            sqlx::query("UPDATE kba_attempts SET finished_at = $1, outcome = $2 WHERE account_id = $3 AND attempt_no = $4 AND finished_at IS NULL")
                .bind(at)
                .bind(outcome.as_str())
                .bind(&c.account_id)
                .bind(i64::from(*number))
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
        }
        if let Some(t) = &c.transition {
            insert_event(&mut tx, t).await?;
        }
        tx.commit().await.map_err(unavailable)
    }

    pub(crate) async fn asked_questions_impl(
        &self,
        account_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT question_id FROM kba_served WHERE account_id = $1 ORDER BY attempt_no, position",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)
    }

    pub(crate) async fn served_question_impl(
        &self,
        account_id: &str,
        question_id: &str,
    ) -> Result<Option<QuestionRecord>, StoreError> {
        let row = sqlx::query("SELECT question_id, sealed, answer_mac FROM kba_served WHERE account_id = $1 AND question_id = $2")
            .bind(account_id)
            .bind(question_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| question_record(&r)).transpose()
    }

    pub(crate) async fn bank_questions_impl(
        &self,
        issuer_id: &str,
        customer_ref: &str,
        account_id: &str,
    ) -> Result<Vec<QuestionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT question_id, sealed, answer_mac FROM kba_bank_questions b
             WHERE issuer_id = $1 AND customer_ref = $2
               AND NOT EXISTS (SELECT 1 FROM kba_served s WHERE s.account_id = $3 AND s.question_id = b.question_id)
             ORDER BY question_id",
        )
        .bind(issuer_id)
        .bind(customer_ref)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(question_record).collect()
    }

    pub(crate) async fn load_enrolment_impl(
        &self,
        e: &EnrolmentRecord,
        questions: &[QuestionRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM kba_bank_questions WHERE issuer_id = $1 AND customer_ref = $2")
            .bind(&e.issuer_id)
            .bind(&e.customer_ref)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        sqlx::query(
            "INSERT INTO kba_enrolments (issuer_id, customer_ref, name_hash, phone_hash, email_hash, customer_since, loaded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (issuer_id, customer_ref) DO UPDATE SET name_hash = excluded.name_hash,
               phone_hash = excluded.phone_hash, email_hash = excluded.email_hash,
               customer_since = excluded.customer_since, loaded_at = excluded.loaded_at",
        )
        .bind(&e.issuer_id)
        .bind(&e.customer_ref)
        .bind(&e.name_hash[..])
        .bind(&e.phone_hash[..])
        .bind(&e.email_hash[..])
        .bind(e.customer_since)
        .bind(e.loaded_at)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        for q in questions {
            sqlx::query("INSERT INTO kba_bank_questions (question_id, issuer_id, customer_ref, sealed, answer_mac) VALUES ($1, $2, $3, $4, $5)")
                .bind(&q.question_id)
                .bind(&e.issuer_id)
                .bind(&e.customer_ref)
                .bind(&q.sealed)
                .bind(q.answer_mac.as_ref().map(|m| &m[..]))
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    pub(crate) async fn set_kba_source_impl(
        &self,
        issuer_id: &str,
        s: &KbaSourceRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO kba_sources (issuer_id, kind, url, credential_sealed, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (issuer_id) DO UPDATE SET kind = excluded.kind, url = excluded.url,
               credential_sealed = excluded.credential_sealed, updated_at = excluded.updated_at",
        )
        .bind(issuer_id)
        .bind(s.kind.as_str())
        .bind(&s.url)
        .bind(s.credential.as_ref().map(Sealed::to_bytes))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    pub(crate) async fn kba_source_impl(
        &self,
        issuer_id: &str,
    ) -> Result<Option<KbaSourceRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT kind, url, credential_sealed FROM kba_sources WHERE issuer_id = $1",
        )
        .bind(issuer_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| {
            let kind: String = r.try_get("kind").map_err(unavailable)?;
            let credential: Option<Vec<u8>> =
                r.try_get("credential_sealed").map_err(unavailable)?;
            Ok(KbaSourceRecord {
                kind: SourceKind::parse(&kind).ok_or_else(|| corrupt("kba source"))?,
                url: r.try_get("url").map_err(unavailable)?,
                credential: credential
                    .map(|b| Sealed::from_bytes(&b).ok_or_else(|| corrupt("kba credential")))
                    .transpose()?,
            })
        })
        .transpose()
    }

    pub(crate) async fn account_events_impl(
        &self,
        account_id: &str,
    ) -> Result<Vec<Transition>, StoreError> {
        let rows = sqlx::query("SELECT from_state, to_state, channel, reason, at FROM wallet_account_events WHERE account_id = $1 ORDER BY seq")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let from: Option<String> = r.try_get("from_state").map_err(unavailable)?;
                let to: String = r.try_get("to_state").map_err(unavailable)?;
                let channel: String = r.try_get("channel").map_err(unavailable)?;
                Ok(Transition {
                    account_id: account_id.to_owned(),
                    from: from
                        .map(|f| AccountState::parse(&f).ok_or_else(|| corrupt("event")))
                        .transpose()?,
                    to: AccountState::parse(&to).ok_or_else(|| corrupt("event"))?,
                    channel: Channel::parse(&channel).ok_or_else(|| corrupt("event channel"))?,
                    reason: r.try_get("reason").map_err(unavailable)?,
                    at: r.try_get("at").map_err(unavailable)?,
                })
            })
            .collect()
    }
}

fn question_record(r: &AnyRow) -> Result<QuestionRecord, StoreError> {
    Ok(QuestionRecord {
        question_id: r.try_get("question_id").map_err(unavailable)?,
        sealed: r.try_get("sealed").map_err(unavailable)?,
        answer_mac: mac(r.try_get("answer_mac").map_err(unavailable)?)?,
    })
}

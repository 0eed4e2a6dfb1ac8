//! SQLite: risk signals, step-up, outbox and scripts.

use provisio_risk::Signals;
use provisio_tsp::records::NewProvisioning;
use provisio_tsp::{
    IssuedOtp, MethodRecord, MethodType, OtpRecord, OutboxMessage, SP_TSM_CHANNEL, Script,
    StepUpChange, StepUpState, StepUpStatus, TsmHandoff,
};
use sqlx::{AnyConnection, Row};

use crate::sql::{count, sealed, unavailable, write_error};
use crate::{Backend, Conflict, ScriptRecord, SignalQuery, SqlStore, StoreError};

const DAY: i64 = 24 * 3600;

/// The step-up columns a change sets (`None`: unchanged).
#[derive(Default)]
struct Bump {
    status: Option<StepUpStatus>,
    consecutive_failures: Option<u32>,
    sends: Option<u32>,
}

pub(crate) async fn insert_step_up(
    tx: &mut AnyConnection,
    p: &NewProvisioning,
    token_ref_id: &str,
    methods: &[MethodRecord],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO step_ups (provisioning_id, token_ref_id, status, consecutive_failures, sends, version, updated_at) VALUES ($1, $2, 'PENDING', 0, 0, 0, $3)")
        .bind(&p.provisioning_id)
        .bind(token_ref_id)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    for (position, m) in (0_i64..).zip(methods) {
        sqlx::query("INSERT INTO step_up_methods (method_id, provisioning_id, type, masked, destination, position) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&m.method_id)
            .bind(&p.provisioning_id)
            .bind(m.method_type.as_str())
            .bind(&m.masked)
            .bind(m.destination.to_bytes())
            .bind(position)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
    }
    Ok(())
}

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

/// Inserts a script and, for a secure element, the job for the issuer's TSM into the outbox.
pub(crate) async fn insert_script(
    tx: &mut AnyConnection,
    provisioning_id: &str,
    script: &Script,
    handoff: Option<&TsmHandoff>,
    now: i64,
) -> Result<(), StoreError> {
    let (body, token_ref_id) = script_row(script)?;
    sqlx::query(
        "INSERT INTO scripts (script_id, provisioning_id, token_ref_id, body, report_token_hash) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&script.script_id)
    .bind(provisioning_id)
    .bind(token_ref_id)
    .bind(body)
    .bind(handoff.map(|h| h.report_token_hash.to_vec()))
    .execute(&mut *tx)
    .await
    .map_err(write_error)?;
    if let Some(h) = handoff {
        insert_handoff(tx, h, now).await?;
    }
    Ok(())
}

/// The job for the issuer's TSM, into the outbox.
pub(crate) async fn insert_handoff(
    tx: &mut AnyConnection,
    h: &TsmHandoff,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO outbox (message_id, channel, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&h.message_id)
        .bind(SP_TSM_CHANNEL)
        .bind(h.payload.to_bytes())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    Ok(())
}

impl SqlStore {
    /// On SQLite the signals are read on a connection kept for them (`hot_reads.rs`), on
    /// PostgreSQL on the pool.
    pub(crate) async fn risk_signals_impl(&self, q: &SignalQuery) -> Result<Signals, StoreError> {
        match &self.hot_reads {
            Some(reads) => reads.read(async |conn| signals(conn, q).await).await,
            None => {
                let mut conn = self.pool.acquire().await.map_err(unavailable)?;
                signals(&mut conn, q).await
            }
        }
    }
    pub(crate) async fn step_up_impl(
        &self,
        provisioning_id: &str,
    ) -> Result<Option<StepUpState>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT s.token_ref_id, s.status, s.consecutive_failures, s.sends, s.version,
                    p.token_requestor_id, p.wallet_user_id, p.device_id
             FROM step_ups s JOIN provisionings p ON p.provisioning_id = s.provisioning_id
             WHERE s.provisioning_id = $1",
        )
        .bind(provisioning_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let methods = sqlx::query("SELECT method_id, type, masked, destination FROM step_up_methods WHERE provisioning_id = $1 ORDER BY position")
            .bind(provisioning_id)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(|m| {
                let t: String = m.try_get("type").map_err(unavailable)?;
                Ok(MethodRecord {
                    method_id: m.try_get("method_id").map_err(unavailable)?,
                    method_type: MethodType::parse(&t)
                        .ok_or_else(|| StoreError::Corrupt(format!("method type {t}")))?,
                    masked: m.try_get("masked").map_err(unavailable)?,
                    destination: sealed(m, "destination")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let status: String = r.try_get("status").map_err(unavailable)?;
        Ok(Some(StepUpState {
            provisioning_id: provisioning_id.to_owned(),
            token_ref_id: r.try_get("token_ref_id").map_err(unavailable)?,
            token_requestor_id: r.try_get("token_requestor_id").map_err(unavailable)?,
            wallet_user_id: r.try_get("wallet_user_id").map_err(unavailable)?,
            device_id: r.try_get("device_id").map_err(unavailable)?,
            status: StepUpStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("step-up status {status}")))?,
            consecutive_failures: count(r.try_get("consecutive_failures").map_err(unavailable)?),
            sends: count(r.try_get("sends").map_err(unavailable)?),
            version: r.try_get("version").map_err(unavailable)?,
            methods,
        }))
    }

    pub(crate) async fn otp_impl(&self, otp_id: &str) -> Result<Option<OtpRecord>, StoreError> {
        let row = sqlx::query("SELECT provisioning_id, method_id, code_hash, created_at, expires_at, wrong_tries, consumed_at FROM otps WHERE otp_id = $1")
            .bind(otp_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            let hash: Vec<u8> = r.try_get("code_hash").map_err(unavailable)?;
            Ok(OtpRecord {
                otp_id: otp_id.to_owned(),
                provisioning_id: r.try_get("provisioning_id").map_err(unavailable)?,
                method_id: r.try_get("method_id").map_err(unavailable)?,
                code_hash: hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("otp hash".into()))?,
                created_at: r.try_get("created_at").map_err(unavailable)?,
                expires_at: r.try_get("expires_at").map_err(unavailable)?,
                wrong_tries: count(r.try_get("wrong_tries").map_err(unavailable)?),
                consumed_at: r.try_get("consumed_at").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    /// Sets the given columns and bumps the step-up's version if it is still `expected`;
    /// otherwise nothing is written.
    async fn bump(
        tx: &mut AnyConnection,
        provisioning_id: &str,
        expected: i64,
        set: Bump,
        now: i64,
    ) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE step_ups SET status = COALESCE($1, status), consecutive_failures = COALESCE($2, consecutive_failures), sends = COALESCE($3, sends), version = version + 1, updated_at = $4 WHERE provisioning_id = $5 AND version = $6")
            .bind(set.status.map(StepUpStatus::as_str))
            .bind(set.consecutive_failures.map(i64::from))
            .bind(set.sends.map(i64::from))
            .bind(now)
            .bind(provisioning_id)
            .bind(expected)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?
            .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(Conflict::StepUpVersion))
        }
    }

    pub(crate) async fn commit_otp_issue_impl(&self, i: &IssuedOtp) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        Self::bump(
            &mut tx,
            &i.provisioning_id,
            i.expected_version,
            Bump {
                sends: Some(i.sends),
                ..Bump::default()
            },
            i.otp.created_at,
        )
        .await?;
        sqlx::query("INSERT INTO otps (otp_id, provisioning_id, method_id, code_hash, created_at, expires_at, wrong_tries) VALUES ($1, $2, $3, $4, $5, $6, 0)")
            .bind(&i.otp.otp_id)
            .bind(&i.otp.provisioning_id)
            .bind(&i.otp.method_id)
            .bind(&i.otp.code_hash[..])
            .bind(i.otp.created_at)
            .bind(i.otp.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        sqlx::query("INSERT INTO outbox (message_id, channel, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&i.message.message_id)
            .bind(&i.message.channel)
            .bind(i.message.payload.to_bytes())
            .bind(i.message.created_at)
            .bind(i.message.created_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(unavailable)
    }

    pub(crate) async fn commit_step_up_change_impl(
        &self,
        c: &StepUpChange,
        token_ref_id: &str,
        script: Option<&Script>,
        handoff: Option<&TsmHandoff>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let set = Bump {
            status: Some(c.status),
            consecutive_failures: Some(c.consecutive_failures),
            sends: None,
        };
        Self::bump(&mut tx, &c.provisioning_id, c.expected_version, set, now).await?;
        // The code is consumed only if nobody consumed it first (belt and braces with the
        // version check above).
        let n = sqlx::query("UPDATE otps SET wrong_tries = $1, consumed_at = $2 WHERE otp_id = $3 AND consumed_at IS NULL")
            .bind(i64::from(c.otp_wrong_tries))
            .bind(c.otp_consumed_at)
            .bind(&c.otp_id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(Conflict::StepUpVersion));
        }
        if c.status == StepUpStatus::Passed {
            sqlx::query("UPDATE tokens SET status = 'ACTIVE' WHERE token_ref_id = $1 AND status = 'INACTIVE'")
                .bind(token_ref_id)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
            if let Some(script) = script {
                insert_script(&mut tx, &c.provisioning_id, script, handoff, now).await?;
            }
        }
        tx.commit().await.map_err(unavailable)
    }

    pub(crate) async fn script_impl(
        &self,
        provisioning_id: &str,
    ) -> Result<Option<ScriptRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT s.body, s.token_ref_id, s.completed_at, s.report_token_hash, s.failure, p.token_requestor_id, p.wallet_user_id, p.device_id
             FROM scripts s JOIN provisionings p ON p.provisioning_id = s.provisioning_id
             WHERE s.provisioning_id = $1",
        )
        .bind(provisioning_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| {
            Ok(ScriptRecord {
                body: r.try_get("body").map_err(unavailable)?,
                token_requestor_id: r.try_get("token_requestor_id").map_err(unavailable)?,
                wallet_user_id: r.try_get("wallet_user_id").map_err(unavailable)?,
                device_id: r.try_get("device_id").map_err(unavailable)?,
                token_ref_id: r.try_get("token_ref_id").map_err(unavailable)?,
                completed_at: r.try_get("completed_at").map_err(unavailable)?,
                report_token_hash: r.try_get("report_token_hash").map_err(unavailable)?,
                failure: r.try_get("failure").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    pub(crate) async fn complete_script_impl(
        &self,
        provisioning_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let token_ref_id: Option<String> = sqlx::query_scalar(
            "UPDATE scripts SET completed_at = $1 WHERE provisioning_id = $2 AND completed_at IS NULL AND failed_at IS NULL RETURNING token_ref_id",
        )
        .bind(now)
        .bind(provisioning_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(write_error)?;
        let token_ref_id = token_ref_id.ok_or(StoreError::Conflict(Conflict::ScriptCompleted))?;
        sqlx::query("UPDATE tokens SET installed_at = $1 WHERE token_ref_id = $2")
            .bind(now)
            .bind(token_ref_id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(unavailable)
    }

    pub(crate) async fn fail_script_impl(
        &self,
        provisioning_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let n = sqlx::query(
            "UPDATE scripts SET failed_at = $1, failure = $2 WHERE provisioning_id = $3 AND completed_at IS NULL AND failed_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(provisioning_id)
        .execute(&self.pool)
        .await
        .map_err(write_error)?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(Conflict::ScriptCompleted))
        }
    }

    pub(crate) async fn claim_outbox_impl(
        &self,
        now: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // One statement. SQLite runs it under the write lock; on PostgreSQL the rows are locked
        // as they are chosen and rows another instance is claiming are skipped, so two
        // deliverers never claim the same message.
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1 + $2
             WHERE message_id IN (SELECT message_id FROM outbox
                                  WHERE delivered_at IS NULL AND next_attempt_at <= $1 AND claimed_until <= $1
                                  ORDER BY created_at LIMIT $3 {lock})
             RETURNING message_id, channel, payload, created_at"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(lease_s)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(write_error)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    message_id: r.try_get("message_id").map_err(unavailable)?,
                    channel: r.try_get("channel").map_err(unavailable)?,
                    payload: sealed(r, "payload")?,
                    created_at: r.try_get("created_at").map_err(unavailable)?,
                })
            })
            .collect()
    }
}

/// The risk signals of one request, counted in one statement. Lookups by card, device or user
/// are `UNION`s of index lookups, not `OR`s (PostgreSQL planned the `OR`s as a scan of the
/// table); the declines' `UNION` counts a provisioning found by two keys once, and under `IN`
/// a `UNION ALL` does the same for less (on SQLite, 3 to 4 µs of about 40 per statement with
/// 1M tokens). The account's `state <> 'EXPIRED' AND state = 'ACTIVE'` is for the planner:
/// the first is the condition of the partial index `wallet_accounts_live`, which SQLite uses
/// only for a query that states it (its `partialindex.html`, section 3).
async fn signals(conn: &mut AnyConnection, q: &SignalQuery) -> Result<Signals, StoreError> {
    let pan = &q.pan_hash[..];
    let pan_hex = hex::encode(q.pan_hash);
    let row = sqlx::query(
        "SELECT
          (SELECT COUNT(*) FROM provisionings WHERE pan_hash = $1 AND created_at >= $6 - 3600) AS card_1h,
          (SELECT COUNT(*) FROM provisionings WHERE pan_hash = $1 AND created_at >= $6 - 86400) AS card_24h,
          (SELECT COUNT(*) FROM provisionings WHERE device_id = $2 AND created_at >= $6 - 3600) AS device_1h,
          (SELECT COUNT(*) FROM provisionings WHERE device_id = $2 AND created_at >= $6 - 86400) AS device_24h,
          (SELECT COUNT(*) FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND created_at >= $6 - 86400) AS user_24h,
          (SELECT COUNT(*) FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.device_id = $2) AS device_tokens,
          (SELECT COUNT(DISTINCT pan_hash) FROM provisionings WHERE device_id = $2 AND created_at >= $6 - 86400 AND pan_hash <> $1) AS other_cards,
          COALESCE((SELECT created_at FROM wallet_accounts WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND state <> 'EXPIRED' AND state = 'ACTIVE'),
                   (SELECT MIN(created_at) FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4)) AS first_seen,
          (SELECT COUNT(*) FROM (
             SELECT provisioning_id FROM provisionings WHERE pan_hash = $1 AND created_at >= $6 - 2592000 AND decision = 'DECLINED'
             UNION SELECT provisioning_id FROM provisionings WHERE device_id = $2 AND created_at >= $6 - 2592000 AND decision = 'DECLINED'
             UNION SELECT provisioning_id FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND created_at >= $6 - 2592000 AND decision = 'DECLINED'
           ) d) AS declines,
          (SELECT CAST(COALESCE(SUM(o.wrong_tries), 0) AS BIGINT) FROM otps o
             WHERE o.created_at >= $6 - 2592000 AND o.provisioning_id IN (
               SELECT provisioning_id FROM provisionings WHERE pan_hash = $1
               UNION ALL SELECT provisioning_id FROM provisionings WHERE device_id = $2
               UNION ALL SELECT provisioning_id FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4)) AS failed_step_ups,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'device' AND value = $2) THEN 1 ELSE 0 END AS device_blocked,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'pan' AND value = $5) THEN 1 ELSE 0 END AS pan_blocked,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'bin' AND substr($7, 1, length(value)) = value) THEN 1 ELSE 0 END AS bin_blocked,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'allow' AND kind = 'device' AND value = $2) THEN 1 ELSE 0 END AS device_allowed,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'allow' AND kind = 'pan' AND value = $5) THEN 1 ELSE 0 END AS pan_allowed",
    )
    .bind(pan)
    .bind(&q.device_id)
    .bind(&q.token_requestor_id)
    .bind(&q.wallet_user_id)
    .bind(&pan_hex)
    .bind(q.now)
    .bind(&q.bin8)
    .fetch_one(&mut *conn)
    .await
    .map_err(unavailable)?;
    let get = |name: &str| -> Result<i64, StoreError> { row.try_get(name).map_err(unavailable) };
    let first_seen: Option<i64> = row.try_get("first_seen").map_err(unavailable)?;
    Ok(Signals {
        card_attempts_1h: count(get("card_1h")?),
        card_attempts_24h: count(get("card_24h")?),
        device_attempts_1h: count(get("device_1h")?),
        device_attempts_24h: count(get("device_24h")?),
        user_attempts_24h: count(get("user_24h")?),
        device_tokens: count(get("device_tokens")?),
        device_distinct_cards_24h: count(get("other_cards")? + 1),
        account_age_days: count(first_seen.map_or(0, |t| (q.now - t) / DAY)),
        recent_declines: count(get("declines")?),
        failed_step_ups: count(get("failed_step_ups")?),
        device_blocked: get("device_blocked")? != 0,
        pan_blocked: get("pan_blocked")? != 0,
        bin_blocked: get("bin_blocked")? != 0,
        device_allowed: get("device_allowed")? != 0,
        pan_allowed: get("pan_allowed")? != 0,
        trusted_push: false,
    })
}

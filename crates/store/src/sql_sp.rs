//! [`SpStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;

use crate::sql::{unavailable, write_error};
use crate::tsm_records::{ApduLogRow, SpJobChange, SpJobRow, SpStore};
use crate::{Conflict, SqlStore, StoreError};

const JOB_COLUMNS: &str = "job_id, caller, se_id, ssd, applet, credential, fingerprint, state, initial_keys, own_keys, report_url, report_token, reported_at, version";

fn job_row(r: &sqlx::any::AnyRow) -> Result<SpJobRow, sqlx::Error> {
    Ok(SpJobRow {
        job_id: r.try_get("job_id")?,
        caller: r.try_get("caller")?,
        se_id: r.try_get("se_id")?,
        ssd: r.try_get("ssd")?,
        applet: r.try_get("applet")?,
        credential: r.try_get("credential")?,
        fingerprint: r.try_get("fingerprint")?,
        state: r.try_get("state")?,
        initial_keys: r.try_get("initial_keys")?,
        own_keys: r.try_get("own_keys")?,
        report_url: r.try_get("report_url")?,
        report_token: r.try_get("report_token")?,
        reported_at: r.try_get("reported_at")?,
        version: r.try_get("version")?,
    })
}

#[async_trait]
impl SpStore for SqlStore {
    async fn sp_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT sealed FROM sp_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn sp_init_secret(
        &self,
        name: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT INTO sp_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(sealed)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        self.sp_secret(name)
            .await?
            .ok_or_else(|| StoreError::Corrupt("secret vanished".into()))
    }

    async fn sp_add_caller(
        &self,
        name: &str,
        key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sp_callers (key_hash, name, created_at) VALUES ($1, $2, $3)")
            .bind(key_hash.as_slice())
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn sp_caller(&self, key_hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT name FROM sp_callers WHERE key_hash = $1")
            .bind(key_hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn sp_insert_job(&self, job: &SpJobRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sp_jobs (job_id, caller, se_id, ssd, applet, credential, fingerprint, state, report_url, report_token, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12)",
        )
        .bind(&job.job_id)
        .bind(&job.caller)
        .bind(&job.se_id)
        .bind(&job.ssd)
        .bind(&job.applet)
        .bind(&job.credential)
        .bind(&job.fingerprint)
        .bind(&job.state)
        .bind(&job.report_url)
        .bind(&job.report_token)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn sp_job(&self, job_id: &str) -> Result<Option<SpJobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM sp_jobs WHERE job_id = $1");
        let row = sqlx::query(&sql)
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(job_row).transpose().map_err(unavailable)
    }

    async fn sp_job_by_ticket(
        &self,
        ticket_hash: &[u8; 32],
    ) -> Result<Option<SpJobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM sp_jobs WHERE ticket_hash = $1");
        let row = sqlx::query(&sql)
            .bind(ticket_hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(job_row).transpose().map_err(unavailable)
    }

    async fn sp_open_jobs(&self) -> Result<Vec<SpJobRow>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM sp_jobs
             WHERE (state NOT LIKE '%\"DONE\"%' AND state NOT LIKE '%\"FAILED\"%')
                OR (report_url IS NOT NULL AND reported_at IS NULL)
             ORDER BY created_at"
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(job_row)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn sp_job_reported(&self, job_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sp_jobs SET reported_at = $1 WHERE job_id = $2 AND reported_at IS NULL",
        )
        .bind(now)
        .bind(job_id)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn sp_log_apdus(&self, rows: &[ApduLogRow], now: i64) -> Result<(), StoreError> {
        crate::TsmStore::tsm_log_apdus(self, rows, now).await
    }

    async fn sp_update_job(
        &self,
        job_id: &str,
        version: i64,
        c: &SpJobChange,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE sp_jobs SET state = $1, initial_keys = COALESCE($2, initial_keys), own_keys = COALESCE($3, own_keys), \
             ticket_hash = COALESCE($4, ticket_hash), version = version + 1, updated_at = $5 WHERE job_id = $6 AND version = $7",
        )
        .bind(&c.state)
        .bind(&c.initial_keys)
        .bind(&c.own_keys)
        .bind(&c.ticket_hash)
        .bind(now)
        .bind(job_id)
        .bind(version)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(Conflict::Other))
        }
    }
}

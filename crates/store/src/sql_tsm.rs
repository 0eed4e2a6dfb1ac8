//! [`TsmStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;

use crate::sql::{unavailable, write_error};
use crate::tsm_records::{
    ApduLogRow, OtaMessageRow, ProviderRecord, TsmPrincipal, TsmRequestRow, TsmStore,
};
use crate::{Conflict, SqlStore, StoreError};

fn request_row(r: &sqlx::any::AnyRow) -> Result<TsmRequestRow, sqlx::Error> {
    Ok(TsmRequestRow {
        sp_id: r.try_get("sp_id")?,
        request_id: r.try_get("request_id")?,
        se_id: r.try_get("se_id")?,
        body: r.try_get("body")?,
        fingerprint: r.try_get("fingerprint")?,
        state: r.try_get("state")?,
        secret: r.try_get("secret")?,
        handover: r.try_get("handover")?,
        version: r.try_get("version")?,
    })
}

const REQUEST_COLUMNS: &str =
    "sp_id, request_id, se_id, body, fingerprint, state, secret, handover, version";

#[async_trait]
impl TsmStore for SqlStore {
    async fn tsm_principal(&self, key_hash: &[u8; 32]) -> Result<Option<TsmPrincipal>, StoreError> {
        let row = sqlx::query("SELECT kind, subject FROM tsm_principals WHERE key_hash = $1")
            .bind(key_hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind").map_err(unavailable)?;
        let subject: String = row.try_get("subject").map_err(unavailable)?;
        match kind.as_str() {
            "SERVICE_PROVIDER" => Ok(Some(TsmPrincipal::ServiceProvider(subject))),
            "OTA_CLIENT" => Ok(Some(TsmPrincipal::OtaClient(subject))),
            other => Err(StoreError::Corrupt(format!("principal kind {other}"))),
        }
    }

    async fn tsm_add_element(
        &self,
        se_id: &str,
        isd_keys: &[u8],
        ota_key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("INSERT INTO tsm_elements (se_id, isd_keys, created_at) VALUES ($1, $2, $3)")
            .bind(se_id)
            .bind(isd_keys)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        sqlx::query("INSERT INTO tsm_principals (key_hash, kind, subject, created_at) VALUES ($1, 'OTA_CLIENT', $2, $3)")
            .bind(ota_key_hash.as_slice())
            .bind(se_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn tsm_element(&self, se_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT isd_keys FROM tsm_elements WHERE se_id = $1")
            .bind(se_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn tsm_add_provider(
        &self,
        p: &ProviderRecord,
        api_key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("INSERT INTO tsm_providers (sp_id, aid_prefix, encryption_jwk, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&p.sp_id)
            .bind(&p.aid_prefix)
            .bind(&p.encryption_jwk)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        sqlx::query("INSERT INTO tsm_principals (key_hash, kind, subject, created_at) VALUES ($1, 'SERVICE_PROVIDER', $2, $3)")
            .bind(api_key_hash.as_slice())
            .bind(&p.sp_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn tsm_provider(&self, sp_id: &str) -> Result<Option<ProviderRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT sp_id, aid_prefix, encryption_jwk FROM tsm_providers WHERE sp_id = $1",
        )
        .bind(sp_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| {
            Ok(ProviderRecord {
                sp_id: r.try_get("sp_id")?,
                aid_prefix: r.try_get("aid_prefix")?,
                encryption_jwk: r.try_get("encryption_jwk")?,
            })
        })
        .transpose()
        .map_err(unavailable)
    }

    async fn tsm_request(
        &self,
        sp_id: &str,
        request_id: &str,
    ) -> Result<Option<TsmRequestRow>, StoreError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM tsm_requests WHERE sp_id = $1 AND request_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(sp_id)
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(request_row)
            .transpose()
            .map_err(unavailable)
    }

    async fn tsm_requests_for(
        &self,
        sp_id: &str,
        se_id: &str,
    ) -> Result<Vec<TsmRequestRow>, StoreError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM tsm_requests WHERE sp_id = $1 AND se_id = $2 ORDER BY created_at"
        );
        let rows = sqlx::query(&sql)
            .bind(sp_id)
            .bind(se_id)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(request_row)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn tsm_insert_request(
        &self,
        row: &TsmRequestRow,
        message: &OtaMessageRow,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO tsm_requests (sp_id, request_id, se_id, body, fingerprint, state, secret, handover, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, $8, $9)",
        )
        .bind(&row.sp_id)
        .bind(&row.request_id)
        .bind(&row.se_id)
        .bind(&row.body)
        .bind(&row.fingerprint)
        .bind(&row.state)
        .bind(&row.secret)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        sqlx::query(
            "INSERT INTO ota_messages (message_id, se_id, body, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&message.message_id)
        .bind(&message.se_id)
        .bind(&message.body)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn tsm_update_request(
        &self,
        sp_id: &str,
        request_id: &str,
        version: i64,
        state: &str,
        handover: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE tsm_requests SET state = $1, handover = COALESCE($2, handover), version = version + 1, updated_at = $3 \
             WHERE sp_id = $4 AND request_id = $5 AND version = $6",
        )
        .bind(state)
        .bind(handover)
        .bind(now)
        .bind(sp_id)
        .bind(request_id)
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

    async fn ota_pending(&self, se_id: &str) -> Result<Vec<OtaMessageRow>, StoreError> {
        let rows = sqlx::query("SELECT message_id, se_id, body FROM ota_messages WHERE se_id = $1 AND acked_at IS NULL ORDER BY created_at, message_id")
            .bind(se_id)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(OtaMessageRow {
                    message_id: r.try_get("message_id")?,
                    se_id: r.try_get("se_id")?,
                    body: r.try_get("body")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    async fn ota_ack(&self, se_id: &str, message_id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE ota_messages SET acked_at = $1 WHERE se_id = $2 AND message_id = $3 AND acked_at IS NULL")
            .bind(now)
            .bind(se_id)
            .bind(message_id)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn tsm_log_apdus(&self, rows: &[ApduLogRow], now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for r in rows {
            sqlx::query("INSERT INTO tsm_apdu_log (session_id, sp_id, request_id, direction, apdu, at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&r.session_id)
                .bind(&r.sp_id)
                .bind(&r.request_id)
                .bind(r.direction.to_string())
                .bind(&r.apdu)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn tsm_apdus(
        &self,
        sp_id: &str,
        request_id: &str,
    ) -> Result<Vec<ApduLogRow>, StoreError> {
        let rows = sqlx::query("SELECT session_id, sp_id, request_id, direction, apdu FROM tsm_apdu_log WHERE sp_id = $1 AND request_id = $2 ORDER BY id")
            .bind(sp_id)
            .bind(request_id)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let d: String = r.try_get("direction")?;
                Ok(ApduLogRow {
                    session_id: r.try_get("session_id")?,
                    sp_id: r.try_get("sp_id")?,
                    request_id: r.try_get("request_id")?,
                    direction: d.chars().next().unwrap_or('?'),
                    apdu: r.try_get("apdu")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }
}

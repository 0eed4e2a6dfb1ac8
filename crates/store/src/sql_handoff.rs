//! SQLite: issuers' TSMs, as the token service hands secure-element jobs to them.

use sqlx::Row;

use crate::sql::{sealed, unavailable, write_error};
use crate::{SpTsmRecord, SqlStore, StoreError};

impl SqlStore {
    pub(crate) async fn set_sp_tsm_impl(
        &self,
        t: &SpTsmRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO issuer_sp_tsms (issuer_id, url, api_key, encryption_jwk, aid_prefix, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (issuer_id) DO UPDATE SET url = excluded.url, api_key = excluded.api_key,
               encryption_jwk = excluded.encryption_jwk, aid_prefix = excluded.aid_prefix,
               updated_at = excluded.updated_at",
        )
        .bind(&t.issuer_id)
        .bind(&t.url)
        .bind(t.api_key.to_bytes())
        .bind(&t.encryption_jwk)
        .bind(&t.aid_prefix)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    pub(crate) async fn sp_tsm_impl(
        &self,
        issuer_id: &str,
    ) -> Result<Option<SpTsmRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT issuer_id, url, api_key, encryption_jwk, aid_prefix FROM issuer_sp_tsms WHERE issuer_id = $1",
        )
        .bind(issuer_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| {
            Ok(SpTsmRecord {
                issuer_id: r.try_get("issuer_id").map_err(unavailable)?,
                url: r.try_get("url").map_err(unavailable)?,
                api_key: sealed(&r, "api_key")?,
                encryption_jwk: r.try_get("encryption_jwk").map_err(unavailable)?,
                aid_prefix: r.try_get("aid_prefix").map_err(unavailable)?,
            })
        })
        .transpose()
    }
}

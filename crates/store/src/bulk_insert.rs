//! Many processed push requests' rows in a few statements: one multi-row `INSERT` per table
//! instead of one per row (the group commit's common case, and imports).
//!
//! Every statement is a round trip to the database (on SQLite, to the connection's worker
//! thread), so a batch of `n` requests costs three round trips here instead of `3n`. The rare
//! rows (idempotent answers, step-ups, TSM jobs) keep their one-row inserts. A broken rule
//! fails the statement, and so the whole batch; the caller then finds whose it was
//! (`group_commit.rs`).

use std::fmt::Write;

use provisio_tsp::records::NewProvisioning;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use crate::sql::{insert_idempotency, write_error};
use crate::{IdempotencyRecord, StoreError};

/// Rows per statement: PostgreSQL takes at most 65,535 parameters and SQLite 32,766; the
/// widest table here has 17 columns.
const ROWS_PER_STATEMENT: usize = 128;

/// Writes every record's rows (and idempotent answer), in an order the foreign keys accept.
pub(crate) async fn insert_many(
    tx: &mut AnyConnection,
    batch: &[(&NewProvisioning, Option<&IdempotencyRecord>)],
) -> Result<(), StoreError> {
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        // The idempotency rows go first, as in the one-by-one path.
        for r in chunk.iter().filter_map(|(_, r)| *r) {
            insert_idempotency(&mut *tx, r).await?;
        }
        let records: Vec<&NewProvisioning> = chunk.iter().map(|(p, _)| *p).collect();
        provisionings(tx, &records).await?;
        tokens(tx, &records).await?;
        for p in &records {
            if let (Some(t), Some(methods)) = (&p.token, &p.step_up) {
                crate::sql_step_up::insert_step_up(&mut *tx, p, &t.token_ref_id, methods).await?;
            }
        }
        scripts(tx, &records).await?;
        for p in &records {
            if let (Some(_), Some(_), Some(h)) = (&p.token, &p.script, &p.handoff) {
                crate::sql_step_up::insert_handoff(&mut *tx, h, p.created_at).await?;
            }
        }
    }
    Ok(())
}

/// `INSERT INTO table (columns) VALUES ($1, ..), (..)` for `rows` rows.
fn values_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            let _ = write!(sql, "${n}");
        }
        sql.push(')');
    }
    sql
}

async fn run<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    tx: &mut AnyConnection,
) -> Result<(), StoreError> {
    query.execute(&mut *tx).await.map_err(write_error)?;
    Ok(())
}

async fn provisionings(
    tx: &mut AnyConnection,
    records: &[&NewProvisioning],
) -> Result<(), StoreError> {
    let sql = values_sql(
        "provisionings",
        &[
            "provisioning_id",
            "session_id",
            "issuer_id",
            "jti",
            "token_requestor_id",
            "wallet_user_id",
            "device_id",
            "decision",
            "risk",
            "created_at",
            "pan_hash",
        ],
        records.len(),
    );
    let mut q = sqlx::query(&sql);
    for p in records {
        q = q
            .bind(&p.provisioning_id)
            .bind(&p.session_id)
            .bind(&p.issuer_id)
            .bind(&p.jti)
            .bind(&p.token_requestor_id)
            .bind(&p.wallet_user_id)
            .bind(&p.device_id)
            .bind(p.decision.as_str())
            .bind(&p.risk_json)
            .bind(p.created_at)
            .bind(&p.pan_hash[..]);
    }
    run(q, tx).await
}

async fn tokens(tx: &mut AnyConnection, records: &[&NewProvisioning]) -> Result<(), StoreError> {
    let with_token: Vec<_> = records
        .iter()
        .filter_map(|p| p.token.as_ref().map(|t| (*p, t)))
        .collect();
    if with_token.is_empty() {
        return Ok(());
    }
    let sql = values_sql(
        "tokens",
        &[
            "token_ref_id",
            "provisioning_id",
            "token_pan_hash",
            "token_pan",
            "pan_hash",
            "pan",
            "token_last4",
            "exp_month",
            "exp_year",
            "status",
            "token_requestor_id",
            "wallet_user_id",
            "device_id",
            "binding_jwk",
            "cryptogram_key",
            "created_at",
            "secure_element_id",
        ],
        with_token.len(),
    );
    let mut q = sqlx::query(&sql);
    for (p, t) in with_token {
        q = q
            .bind(&t.token_ref_id)
            .bind(&p.provisioning_id)
            .bind(&t.token_pan_hash[..])
            .bind(t.token_pan.to_bytes())
            .bind(&t.pan_hash[..])
            .bind(t.pan.to_bytes())
            .bind(&t.token_last4)
            .bind(i64::from(t.exp_month))
            .bind(i64::from(t.exp_year))
            .bind(t.status.as_str())
            .bind(&p.token_requestor_id)
            .bind(&p.wallet_user_id)
            .bind(&t.device_id)
            .bind(&t.binding_jwk)
            .bind(t.cryptogram_key.to_bytes())
            .bind(p.created_at)
            .bind(&t.secure_element_id);
    }
    run(q, tx).await
}

async fn scripts(tx: &mut AnyConnection, records: &[&NewProvisioning]) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for p in records {
        if let (Some(_), Some(script)) = (&p.token, &p.script) {
            let (body, token_ref_id) = crate::sql_step_up::script_row(script)?;
            rows.push((*p, script, token_ref_id, body));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let sql = values_sql(
        "scripts",
        &[
            "script_id",
            "provisioning_id",
            "token_ref_id",
            "body",
            "report_token_hash",
        ],
        rows.len(),
    );
    let mut q = sqlx::query(&sql);
    for (p, script, token_ref_id, body) in rows {
        q = q
            .bind(&script.script_id)
            .bind(&p.provisioning_id)
            .bind(token_ref_id)
            .bind(body)
            .bind(p.handoff.as_ref().map(|h| h.report_token_hash.to_vec()));
    }
    run(q, tx).await
}

#[cfg(test)]
mod tests {
    use super::values_sql;

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(
            values_sql("t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}

//! Many processed push requests' rows in a few statements: one multi-row `INSERT` per table
//! instead of one per row (the group commit's common case, and imports).
//!
//! Every statement is a round trip to the database (on SQLite, to the connection's worker
//! thread), so a batch of `n` requests costs three round trips here instead of `3n`; on
//! PostgreSQL the common batch is one statement, committed on its own
//! ([`insert_in_one_statement`]). The rare rows (idempotent answers, step-ups, TSM jobs) keep
//! their one-row inserts. A broken rule fails the statement, and so the whole batch; the
//! caller then finds whose it was (`group_commit.rs`).

use std::fmt::Write;

use provisio_tsp::Script;
use provisio_tsp::records::{NewProvisioning, NewToken};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use crate::sql::{insert_idempotency, write_error};
use crate::{IdempotencyRecord, StoreError};

/// Rows per statement: PostgreSQL takes at most 65,535 parameters and SQLite 32,766; the
/// widest table here has 17 columns, and the three tables in one statement 33.
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
        let sql = values_sql(PROVISIONINGS, PROVISIONING_COLUMNS, records.len(), 1);
        run(bind_provisionings(sqlx::query(&sql), &records), tx).await?;
        let tokens = with_token(&records);
        if !tokens.is_empty() {
            let sql = values_sql(TOKENS, TOKEN_COLUMNS, tokens.len(), 1);
            run(bind_tokens(sqlx::query(&sql), &tokens), tx).await?;
        }
        for p in &records {
            if let (Some(t), Some(methods)) = (&p.token, &p.step_up) {
                crate::sql_step_up::insert_step_up(&mut *tx, p, &t.token_ref_id, methods).await?;
            }
        }
        let scripts = script_rows(&records)?;
        if !scripts.is_empty() {
            let sql = values_sql(SCRIPTS, SCRIPT_COLUMNS, scripts.len(), 1);
            run(bind_scripts(sqlx::query(&sql), scripts), tx).await?;
        }
        for p in &records {
            if let (Some(_), Some(_), Some(h)) = (&p.token, &p.script, &p.handoff) {
                crate::sql_step_up::insert_handoff(&mut *tx, h, p.created_at).await?;
            }
        }
    }
    Ok(())
}

/// Whether [`insert_in_one_statement`] can write this batch: one chunk, and only the common
/// rows (no idempotent answer, step-up or TSM hand-off).
pub(crate) fn fits_one_statement(batch: &[(&NewProvisioning, Option<&IdempotencyRecord>)]) -> bool {
    batch.len() <= ROWS_PER_STATEMENT
        && batch
            .iter()
            .all(|(p, r)| r.is_none() && p.step_up.is_none() && p.handoff.is_none())
}

/// The batch's provisionings, tokens and scripts in one PostgreSQL statement, committed on its
/// own: `WITH w0 AS (INSERT ..), w1 AS (INSERT ..) INSERT ..` (data-modifying `WITH`,
/// PostgreSQL's queries-with section 7.8.4). The foreign keys hold: PostgreSQL checks them
/// when the statement ends, with every row of it in place. One round trip instead of five
/// (`BEGIN`, three inserts, `COMMIT`), and one executor start-up instead of three: on a busy
/// PostgreSQL each statement costs CPU of its own. A broken rule fails the statement, and
/// nothing of it stays.
pub(crate) async fn insert_in_one_statement(
    conn: &mut AnyConnection,
    batch: &[(&NewProvisioning, Option<&IdempotencyRecord>)],
) -> Result<(), StoreError> {
    let records: Vec<&NewProvisioning> = batch.iter().map(|(p, _)| *p).collect();
    let tokens = with_token(&records);
    let scripts = script_rows(&records)?;
    let mut parts = vec![values_sql(
        PROVISIONINGS,
        PROVISIONING_COLUMNS,
        records.len(),
        1,
    )];
    let mut next = 1 + records.len() * PROVISIONING_COLUMNS.len();
    if !tokens.is_empty() {
        parts.push(values_sql(TOKENS, TOKEN_COLUMNS, tokens.len(), next));
        next += tokens.len() * TOKEN_COLUMNS.len();
    }
    if !scripts.is_empty() {
        parts.push(values_sql(SCRIPTS, SCRIPT_COLUMNS, scripts.len(), next));
    }
    let sql = with_statement(&parts);
    let q = bind_provisionings(sqlx::query(&sql), &records);
    let q = bind_tokens(q, &tokens);
    run(bind_scripts(q, scripts), conn).await
}

/// `WITH w0 AS (a), w1 AS (b) c` for the statements `[a, b, c]`; just `a` for `[a]`.
fn with_statement(parts: &[String]) -> String {
    let Some((last, first)) = parts.split_last() else {
        return String::new();
    };
    let mut sql = String::new();
    for (i, part) in first.iter().enumerate() {
        sql.push_str(if i == 0 { "WITH " } else { ", " });
        let _ = write!(sql, "w{i} AS ({part})");
    }
    if !first.is_empty() {
        sql.push(' ');
    }
    sql.push_str(last);
    sql
}

/// `INSERT INTO table (columns) VALUES ($first, ..), (..)` for `rows` rows.
fn values_sql(table: &str, columns: &[&str], rows: usize, first: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${n}");
            n += 1;
        }
        sql.push(')');
    }
    sql
}

type Insert<'q> = Query<'q, Any, AnyArguments<'q>>;

async fn run(query: Insert<'_>, tx: &mut AnyConnection) -> Result<(), StoreError> {
    query.execute(&mut *tx).await.map_err(write_error)?;
    Ok(())
}

const PROVISIONINGS: &str = "provisionings";
const PROVISIONING_COLUMNS: &[&str] = &[
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
];

fn bind_provisionings<'q>(mut q: Insert<'q>, records: &[&'q NewProvisioning]) -> Insert<'q> {
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
    q
}

const TOKENS: &str = "tokens";
const TOKEN_COLUMNS: &[&str] = &[
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
];

fn with_token<'a>(records: &[&'a NewProvisioning]) -> Vec<(&'a NewProvisioning, &'a NewToken)> {
    records
        .iter()
        .filter_map(|p| p.token.as_ref().map(|t| (*p, t)))
        .collect()
}

fn bind_tokens<'q>(
    mut q: Insert<'q>,
    tokens: &[(&'q NewProvisioning, &'q NewToken)],
) -> Insert<'q> {
    for (p, t) in tokens {
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
    q
}

const SCRIPTS: &str = "scripts";
const SCRIPT_COLUMNS: &[&str] = &[
    "script_id",
    "provisioning_id",
    "token_ref_id",
    "body",
    "report_token_hash",
];

/// A script's row: its record, the script, its token reference and its body.
type ScriptRow<'a> = (&'a NewProvisioning, &'a Script, &'a str, String);

fn script_rows<'a>(records: &[&'a NewProvisioning]) -> Result<Vec<ScriptRow<'a>>, StoreError> {
    let mut rows = Vec::new();
    for p in records {
        if let (Some(_), Some(script)) = (&p.token, &p.script) {
            let (body, token_ref_id) = crate::sql_step_up::script_row(script)?;
            rows.push((*p, script, token_ref_id, body));
        }
    }
    Ok(rows)
}

fn bind_scripts<'q>(mut q: Insert<'q>, rows: Vec<ScriptRow<'q>>) -> Insert<'q> {
    for (p, script, token_ref_id, body) in rows {
        q = q
            .bind(&script.script_id)
            .bind(&p.provisioning_id)
            .bind(token_ref_id)
            .bind(body)
            .bind(p.handoff.as_ref().map(|h| h.report_token_hash.to_vec()));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::{values_sql, with_statement};

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(
            values_sql("t", &["a", "b"], 2, 1),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            values_sql("u", &["c"], 2, 5),
            "INSERT INTO u (c) VALUES ($5), ($6)"
        );
    }

    #[test]
    fn statements_chain_into_one_with() {
        let parts = |n: usize| (0..n).map(|i| format!("S{i}")).collect::<Vec<_>>();
        assert_eq!(with_statement(&parts(1)), "S0");
        assert_eq!(with_statement(&parts(2)), "WITH w0 AS (S0) S1");
        assert_eq!(with_statement(&parts(3)), "WITH w0 AS (S0), w1 AS (S1) S2");
    }
}

//! Processed push requests and their tokens: the group commit's writes, imports, and token
//! reads.
//!
//! Many requests' rows go in with one multi-row `INSERT` per table instead of one per row (the
//! group commit's common case, and imports); on PostgreSQL the common batch is one statement
//! ([`insert_in_one_statement`]). The rare rows (idempotent answers, step-ups, TSM jobs) keep
//! their one-row inserts. A broken rule fails the statement, and so the whole batch; the
//! caller then finds whose it was (`writer.rs`).

use std::fmt::Write;

use provisio_tsp::Script;
use provisio_tsp::records::{NewProvisioning, NewToken, Origin};

use crate::db::codec::{Param, params};
use crate::db::conn::{Backend, Conn};
use crate::db::participants::insert_idempotency;
use crate::db::{outbox, scripts, step_up, tokens};
use crate::{IdempotencyRecord, StoreError};

/// Rows per statement: PostgreSQL takes at most 65,535 parameters and SQLite 32,766; the
/// widest table here has 23 columns, and the three tables in one statement 39.
const ROWS_PER_STATEMENT: usize = 128;

/// One request's records and its idempotent answer.
pub(crate) type Item<'a> = (&'a NewProvisioning, Option<&'a IdempotencyRecord>);

/// Writes every record's rows (and idempotent answer), in an order the foreign keys accept.
/// Runs in a transaction.
///
/// SQLite gets one prepared single-row statement per row: in the same process a statement
/// costs no round trip, and a multi-row `INSERT` inside a transaction keeps a statement
/// journal of every page it touches (so that it can be undone alone), which single-row ones
/// skip. PostgreSQL gets multi-row statements: there every statement is a round trip.
pub(crate) fn insert_many(c: &mut dyn Conn, batch: &[Item<'_>]) -> Result<(), StoreError> {
    let rows_per_statement = match c.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => ROWS_PER_STATEMENT,
    };
    for chunk in batch.chunks(rows_per_statement) {
        // The idempotency rows go first, as in the one-by-one path.
        for r in chunk.iter().filter_map(|(_, r)| *r) {
            insert_idempotency(c, r)?;
        }
        let records: Vec<&NewProvisioning> = chunk.iter().map(|(p, _)| *p).collect();
        let mut values = Vec::new();
        provisioning_params(&records, &mut values);
        c.execute(&rows_sql(Table::Provisionings, records.len()), &values)?;
        for p in records.iter().filter(|p| p.origin == Origin::Wallet) {
            c.execute(
                "INSERT INTO wallet_requests (token_requestor_id, jti, provisioning_id) VALUES ($1, $2, $3)",
                params![&p.token_requestor_id, &p.jti, &p.provisioning_id],
            )?;
        }
        let tokens = with_token(&records);
        if !tokens.is_empty() {
            let mut values = Vec::new();
            token_params(&tokens, &mut values);
            c.execute(&rows_sql(Table::Tokens, tokens.len()), &values)?;
        }
        for p in &records {
            if let Some(t) = &p.token {
                tokens::insert_events(c, &t.events, p.created_at)?;
            }
            if let (Some(t), Some(methods)) = (&p.token, &p.step_up) {
                step_up::insert_step_up(c, p, &t.token_ref_id, methods)?;
            }
        }
        let scripts = script_rows(&records)?;
        if !scripts.is_empty() {
            let mut values = Vec::new();
            script_params(&scripts, &mut values);
            c.execute(&rows_sql(Table::Scripts, scripts.len()), &values)?;
        }
        for p in &records {
            if let (Some(_), Some(_), Some(h)) = (&p.token, &p.script, &p.handoff) {
                outbox::insert_handoff(c, h, p.created_at)?;
            }
        }
    }
    Ok(())
}

/// Whether [`insert_in_one_statement`] can write this batch: one chunk, and only the common
/// rows (no idempotent answer, step-up, TSM hand-off, token event or wallet-initiated
/// request).
pub(crate) fn fits_one_statement(batch: &[Item<'_>]) -> bool {
    batch.len() <= ROWS_PER_STATEMENT
        && batch.iter().all(|(p, r)| {
            r.is_none()
                && p.origin == Origin::Push
                && p.step_up.is_none()
                && p.handoff.is_none()
                && p.token.as_ref().is_none_or(|t| t.events.is_empty())
        })
}

/// The batch's provisionings, tokens and scripts in one PostgreSQL statement, committed on its
/// own: `WITH w0 AS (INSERT ..), w1 AS (INSERT ..) INSERT ..` (data-modifying `WITH`,
/// PostgreSQL's queries-with section 7.8.4). The foreign keys hold: PostgreSQL checks them
/// when the statement ends, with every row of it in place. One round trip instead of five
/// (`BEGIN`, three inserts, `COMMIT`), and one executor start-up instead of three. A broken
/// rule fails the statement, and nothing of it stays.
pub(crate) fn insert_in_one_statement(
    c: &mut dyn Conn,
    batch: &[Item<'_>],
) -> Result<(), StoreError> {
    let records: Vec<&NewProvisioning> = batch.iter().map(|(p, _)| *p).collect();
    let tokens = with_token(&records);
    let scripts = script_rows(&records)?;
    let mut values = Vec::new();
    provisioning_params(&records, &mut values);
    let mut parts = vec![values_sql(
        PROVISIONINGS,
        PROVISIONING_COLUMNS,
        records.len(),
        1,
    )];
    if !tokens.is_empty() {
        parts.push(values_sql(
            TOKENS,
            TOKEN_COLUMNS,
            tokens.len(),
            values.len() + 1,
        ));
        token_params(&tokens, &mut values);
    }
    if !scripts.is_empty() {
        parts.push(values_sql(
            SCRIPTS,
            SCRIPT_COLUMNS,
            scripts.len(),
            values.len() + 1,
        ));
        script_params(&scripts, &mut values);
    }
    c.execute(&with_statement(&parts), &values)?;
    Ok(())
}

/// How many tokens the vault holds.
pub(crate) fn count_tokens(c: &mut dyn Conn) -> Result<u64, StoreError> {
    c.query_one("SELECT COUNT(*) AS n FROM tokens", params![])?
        .get("n")
}

/// How many tokens exist for a funding PAN (by its lookup hash).
pub(crate) fn count_tokens_by_pan_hash(
    c: &mut dyn Conn,
    pan_hash: &[u8; 32],
) -> Result<u64, StoreError> {
    c.query_one(
        "SELECT COUNT(*) AS n FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.pan_hash = $1",
        params![pan_hash],
    )?
    .get("n")
}

/// The tables a batch inserts into.
#[derive(Clone, Copy)]
enum Table {
    Provisionings,
    Tokens,
    Scripts,
}

/// The insert of `rows` rows into `table`; the single-row one is made once.
fn rows_sql(table: Table, rows: usize) -> std::borrow::Cow<'static, str> {
    use std::sync::OnceLock;
    static SINGLE: [OnceLock<String>; 3] = [const { OnceLock::new() }; 3];
    let (name, columns, i) = match table {
        Table::Provisionings => (PROVISIONINGS, PROVISIONING_COLUMNS, 0),
        Table::Tokens => (TOKENS, TOKEN_COLUMNS, 1),
        Table::Scripts => (SCRIPTS, SCRIPT_COLUMNS, 2),
    };
    match SINGLE.get(i) {
        Some(single) if rows == 1 => {
            std::borrow::Cow::Borrowed(single.get_or_init(|| values_sql(name, columns, 1, 1)))
        }
        _ => std::borrow::Cow::Owned(values_sql(name, columns, rows, 1)),
    }
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
    "origin",
];

fn provisioning_params<'a>(records: &[&'a NewProvisioning], out: &mut Vec<Param<'a>>) {
    for p in records {
        out.extend_from_slice(params![
            &p.provisioning_id,
            &p.session_id,
            &p.issuer_id,
            // A wallet's jti is unique per token requestor (`wallet_requests`), not per
            // issuer: the column keeps the provisioning id, unique by construction.
            match p.origin {
                Origin::Push => &p.jti,
                Origin::Wallet => &p.provisioning_id,
            },
            &p.token_requestor_id,
            &p.wallet_user_id,
            &p.device_id,
            p.decision.as_str(),
            &p.risk_json,
            p.created_at,
            &p.pan_hash,
            p.origin.as_str(),
        ]);
    }
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
    "issuer_id",
    "account_ref",
    "card_exp_month",
    "card_exp_year",
    "event_seq",
    "created_status",
];

/// A token's row: its record, the token, and its sealed values as bytes.
struct TokenRow<'a> {
    p: &'a NewProvisioning,
    t: &'a NewToken,
    token_pan: Vec<u8>,
    pan: Vec<u8>,
    cryptogram_key: Vec<u8>,
}

fn with_token<'a>(records: &[&'a NewProvisioning]) -> Vec<TokenRow<'a>> {
    records
        .iter()
        .filter_map(|p| {
            p.token.as_ref().map(|t| TokenRow {
                p,
                t,
                token_pan: t.token_pan.to_bytes(),
                pan: t.pan.to_bytes(),
                cryptogram_key: t.cryptogram_key.to_bytes(),
            })
        })
        .collect()
}

fn token_params<'a>(tokens: &'a [TokenRow<'a>], out: &mut Vec<Param<'a>>) {
    for TokenRow {
        p,
        t,
        token_pan,
        pan,
        cryptogram_key,
    } in tokens
    {
        out.extend_from_slice(params![
            &t.token_ref_id,
            &p.provisioning_id,
            &t.token_pan_hash,
            token_pan,
            &t.pan_hash,
            pan,
            &t.token_last4,
            t.exp_month,
            t.exp_year,
            t.status.as_str(),
            &p.token_requestor_id,
            &p.wallet_user_id,
            &t.device_id,
            &t.binding_jwk,
            cryptogram_key,
            p.created_at,
            t.secure_element_id.as_ref(),
            &p.issuer_id,
            &t.account_ref,
            t.card_exp_month,
            t.card_exp_year,
            1_i64,
            t.status.as_str(),
        ]);
    }
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
            let (body, token_ref_id) = scripts::script_row(script)?;
            rows.push((*p, script, token_ref_id, body));
        }
    }
    Ok(rows)
}

fn script_params<'a>(rows: &'a [ScriptRow<'a>], out: &mut Vec<Param<'a>>) {
    for (p, script, token_ref_id, body) in rows {
        out.extend_from_slice(params![
            &script.script_id,
            &p.provisioning_id,
            *token_ref_id,
            body,
            p.handoff.as_ref().map(|h| &h.report_token_hash),
        ]);
    }
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

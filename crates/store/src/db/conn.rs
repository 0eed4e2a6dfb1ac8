//! One connection to either database, as the store's SQL sees it: statements with `$n`
//! placeholders run on [`Conn`], and a database's refusal arrives as a [`DbError`] that names
//! the rule it broke.

use crate::db::codec::{Param, Row};
use crate::{Conflict, StoreError};

/// Which database a store talks to. The SQL is the same for both (`$n` placeholders, standard
/// types) except where a dialect has a better tool (PostgreSQL's `SKIP LOCKED`, its
/// data-modifying `WITH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one process (`sqlite://`).
    Sqlite,
    /// Shared by any number of instances (`postgres://`).
    Postgres,
}

/// Why a statement failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DbError {
    /// A unique constraint refused the write; the text names it (PostgreSQL: the constraint,
    /// SQLite: the table and columns).
    Unique(String),
    /// A foreign key refused the write.
    ForeignKey,
    /// The database aborted the statement to resolve contention (a deadlock); run it again.
    Contended(String),
    /// Anything else: the database is unreachable, or failed.
    Other(String),
}

impl DbError {
    /// The store's error for a failed write: which rule it broke.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            DbError::Unique(what) => StoreError::Conflict(conflict(&what)),
            DbError::ForeignKey => StoreError::MissingReference,
            DbError::Contended(e) => StoreError::Contended(e),
            DbError::Other(e) => StoreError::Unavailable(e),
        }
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        e.into_store()
    }
}

/// The rule a unique violation broke. PostgreSQL names the constraint
/// ("provisionings_session_unique"); SQLite names the columns ("UNIQUE constraint failed:
/// provisionings.session_id").
fn conflict(what: &str) -> Conflict {
    let is = |constraint: &str, columns: &str| what.contains(constraint) || what.contains(columns);
    if is("provisionings_session_unique", "provisionings.session_id") {
        Conflict::SessionId
    } else if is("provisionings_jti_unique", "provisionings.jti")
        || is(
            "wallet_requests_jti_unique",
            "wallet_requests.token_requestor_id",
        )
    {
        Conflict::Jti
    } else if is("activation_nonces_unique", "activation_nonces.issuer_id") {
        Conflict::ActivationNonce
    } else if is("issuer_bin_ranges_pkey", "issuer_bin_ranges.prefix") {
        Conflict::BinRange
    } else if is("tokens_token_pan_unique", "tokens.token_pan_hash") {
        Conflict::TokenPan
    } else if is(
        "tokens_live_per_card",
        "tokens.pan_hash, tokens.token_requestor_id, tokens.device_id",
    ) {
        Conflict::LiveToken
    } else if is("idempotency_pkey", "idempotency.") {
        Conflict::IdempotencyKey
    } else if is("issuers_pkey", "issuers.") {
        Conflict::IssuerId
    } else if is("token_requestors_pkey", "token_requestors.") {
        Conflict::TokenRequestorId
    } else if is("networks_pkey", "networks.") {
        Conflict::NetworkId
    } else {
        Conflict::Other
    }
}

/// A connection: SQLite's (rusqlite) or PostgreSQL's (postgres), used from one thread at a
/// time. Statements are prepared once per connection and cached.
pub(crate) trait Conn {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Runs a statement and returns its rows.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError>;

    /// Runs a statement and returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError>;

    /// Runs statements without parameters (transaction control, set-up).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;

    /// The one row a statement returns, or none.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row a statement must return.
    fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::Other("a statement returned no row".into()))
    }
}

/// Runs `work` in one transaction: committed when it succeeds, rolled back when it fails.
/// SQLite's takes the write lock at the start (`BEGIN IMMEDIATE`), so a transaction that
/// reads before it writes cannot be refused half-way for another writer.
pub(crate) fn transaction<T>(
    conn: &mut dyn Conn,
    work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let begin = match conn.backend() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    conn.batch(begin)?;
    match work(conn) {
        Ok(v) => {
            conn.batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Runs `work` in a savepoint of the open transaction: rolled back to it when it fails, so
/// the rest of the transaction is unaffected.
pub(crate) fn savepoint<T>(
    conn: &mut dyn Conn,
    work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.batch("SAVEPOINT item")?;
    let result = work(conn);
    if result.is_err() {
        conn.batch("ROLLBACK TO SAVEPOINT item")?;
    }
    conn.batch("RELEASE SAVEPOINT item")?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_name_the_same_rule() {
        for (what, rule) in [
            ("provisionings_session_unique", Conflict::SessionId),
            (
                "UNIQUE constraint failed: provisionings.session_id",
                Conflict::SessionId,
            ),
            (
                "UNIQUE constraint failed: provisionings.issuer_id, provisionings.jti",
                Conflict::Jti,
            ),
            ("tokens_token_pan_unique", Conflict::TokenPan),
            (
                "UNIQUE constraint failed: wallet_requests.token_requestor_id, wallet_requests.jti",
                Conflict::Jti,
            ),
            ("wallet_requests_jti_unique", Conflict::Jti),
            ("issuer_bin_ranges_pkey", Conflict::BinRange),
            (
                "UNIQUE constraint failed: issuer_bin_ranges.prefix",
                Conflict::BinRange,
            ),
            ("something_else", Conflict::Other),
        ] {
            assert_eq!(conflict(what), rule, "{what}");
        }
    }
}

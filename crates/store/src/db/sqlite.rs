//! SQLite through rusqlite: the embedded default.
//!
//! Configured so that a committed transaction survives power loss before the server
//! acknowledges it (docs/architecture.md §3, "durable before acknowledged"): WAL journal with
//! `synchronous=FULL`. Statements are prepared once per connection (rusqlite's statement
//! cache). The store's SQL writes `$n` placeholders, PostgreSQL's; SQLite reads `$n` as a
//! *named* parameter numbered by first appearance, so they are rewritten to `?n`, which SQLite
//! numbers by the digits.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::db::codec::{Param, Row, Value};
use crate::db::conn::{Backend, Conn, DbError};

/// Statements a connection keeps prepared.
const STATEMENT_CACHE: usize = 256;

/// An open SQLite connection.
pub(crate) struct SqliteConn {
    conn: Connection,
}

impl SqliteConn {
    /// Opens (creating if needed) the database file at `path`; `cache_kib` sizes the page
    /// cache of this connection.
    pub(crate) fn open(path: &Path, cache_kib: u32) -> Result<Self, DbError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(other)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // temp_store: the statement journals of multi-row inserts stay in memory instead of a
        // temporary file (SQLite's tempfiles.html, section 2.5).
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -{cache_kib};"
        ))
        .map_err(other)?;
        Ok(Self { conn })
    }

    /// Opens the writer's connection: as [`Self::open`], without automatic checkpoints. SQLite
    /// runs those in the committing connection, so every thousandth page's commit would stall
    /// the whole batch behind it while the write-ahead log is copied into the database and
    /// synced; the checkpointer (`checkpointer.rs`) does that work beside the writer instead.
    /// When the log starts again from its beginning, a file that had grown past 256 MiB is cut
    /// back to that (`journal_size_limit`; `checkpointer.rs` restarts it at that length).
    pub(crate) fn open_writer(path: &Path, cache_kib: u32) -> Result<Self, DbError> {
        let c = Self::open(path, cache_kib)?;
        c.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 268435456;")
            .map_err(other)?;
        Ok(c)
    }
}

impl Conn for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        let sql = numbered(sql);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(refusal)?;
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(Bind)))
            .map_err(refusal)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(refusal)? {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i).map(value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(refusal)?;
            out.push(Row::new(columns.clone(), values));
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        let sql = numbered(sql);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(refusal)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter().map(Bind)))
            .map_err(refusal)?;
        Ok(n as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(refusal)
    }
}

/// `$n` placeholders as `?n`.
fn numbered(sql: &str) -> String {
    let mut out = sql.as_bytes().to_vec();
    for i in 0..out.len().saturating_sub(1) {
        // Both bytes exist: `i + 1 < len`.
        #[allow(clippy::indexing_slicing)]
        if out[i] == b'$' && out[i + 1].is_ascii_digit() {
            out[i] = b'?';
        }
    }
    // Only an ASCII byte was replaced by another, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| sql.to_owned())
}

struct Bind<'p, 'a>(&'p Param<'a>);

impl ToSql for Bind<'_, '_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self.0 {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(i)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        // No column of ours is REAL; a float would be a schema this binary does not know.
        ValueRef::Real(f) => Value::Text(f.to_string()),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn other(e: rusqlite::Error) -> DbError {
    DbError::Other(e.to_string())
}

/// A statement's failure, with constraint violations told apart.
fn refusal(e: rusqlite::Error) -> DbError {
    use rusqlite::ffi::ErrorCode;
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == ErrorCode::ConstraintViolation
    {
        let text = msg.clone().unwrap_or_default();
        return match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => DbError::ForeignKey,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => DbError::Unique(text),
            _ => DbError::Other(text),
        };
    }
    other(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::codec::params;

    #[test]
    fn placeholders_are_numbered_by_their_digits() {
        assert_eq!(
            numbered("SELECT $2, '$', $10 WHERE a = $1"),
            "SELECT ?2, '$', ?10 WHERE a = ?1"
        );
    }

    #[test]
    fn a_connection_runs_statements_and_names_the_broken_rule() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SqliteConn::open(&dir.path().join("t.db"), 1024).unwrap();
        c.batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL, c BLOB) STRICT")
            .unwrap();
        // Out of order on purpose: $2 before $1.
        let n = c
            .execute(
                "INSERT INTO t (b, a, c) VALUES ($2, $1, $3)",
                params![7_i64, "x", None::<&[u8]>],
            )
            .unwrap();
        assert_eq!(n, 1);
        let row = c
            .query_one("SELECT a, b, c FROM t WHERE a = $1", params![7_i64])
            .unwrap();
        assert_eq!(row.get::<i64>("a").unwrap(), 7);
        assert_eq!(row.get::<String>("b").unwrap(), "x");
        assert_eq!(row.get::<Option<Vec<u8>>>("c").unwrap(), None);
        let e = c
            .execute("INSERT INTO t (a, b) VALUES ($1, $2)", params![7_i64, "y"])
            .unwrap_err();
        assert!(
            matches!(e, DbError::Unique(ref w) if w.contains("t.a")),
            "{e:?}"
        );
    }
}

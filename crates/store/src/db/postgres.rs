//! PostgreSQL through the `postgres` client (tokio-postgres with its own current-thread
//! runtime): one connection per store thread, its statements prepared once and cached.
//!
//! `synchronous_commit` stays on, so a commit is durable before the server acknowledges it;
//! `plan_cache_mode = force_generic_plan`: every statement here looks rows up by key, so one
//! generic plan per prepared statement serves every call (under the default, PostgreSQL planned
//! the risk-signal statement afresh on each call, 1.9 ms of its CPU every time).

use std::collections::HashMap;
use std::error::Error;
use std::sync::Arc;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::db::codec::{Param, Row, Value};
use crate::db::conn::{Backend, Conn, DbError};

/// An open PostgreSQL connection and its prepared statements.
pub(crate) struct PostgresConn {
    client: Client,
    statements: HashMap<String, (Statement, Arc<[String]>)>,
}

impl PostgresConn {
    /// Connects to `url` (a `postgres://` URL without our own parameters).
    pub(crate) fn connect(url: &str) -> Result<Self, DbError> {
        let mut client = Client::connect(url, NoTls).map_err(refusal)?;
        client
            .batch_execute("SET synchronous_commit = on; SET plan_cache_mode = force_generic_plan")
            .map_err(refusal)?;
        Ok(Self {
            client,
            statements: HashMap::new(),
        })
    }

    fn prepared(&mut self, sql: &str) -> Result<(Statement, Arc<[String]>), DbError> {
        if let Some(found) = self.statements.get(sql) {
            return Ok(found.clone());
        }
        let stmt = self.client.prepare(sql).map_err(refusal)?;
        let columns: Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
        self.statements
            .insert(sql.to_owned(), (stmt.clone(), columns.clone()));
        Ok((stmt, columns))
    }
}

impl Conn for PostgresConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        let (stmt, columns) = self.prepared(sql)?;
        let binds: Vec<Bind<'_, '_>> = params.iter().map(Bind).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let rows = self.client.query(&stmt, &refs).map_err(refusal)?;
        rows.iter()
            .map(|r| {
                let values = (0..columns.len())
                    .map(|i| r.try_get::<_, Read>(i).map(|v| v.0))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(refusal)?;
                Ok(Row::new(columns.clone(), values))
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        let (stmt, _) = self.prepared(sql)?;
        let binds: Vec<Bind<'_, '_>> = params.iter().map(Bind).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        self.client.execute(&stmt, &refs).map_err(refusal)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(refusal)
    }
}

/// A parameter as PostgreSQL wants it: integers as the column's width, checked.
#[derive(Debug)]
struct Bind<'p, 'a>(&'p Param<'a>);

impl ToSql for Bind<'_, '_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match *self.0 {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(i) => match *ty {
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Param::Text(s) => s.to_sql(ty, out),
            Param::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A result value of any of our column types.
struct Read(Value);

impl<'r> FromSql<'r> for Read {
    fn from_sql(ty: &Type, raw: &'r [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Read(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            _ => Value::Text(String::from_sql(ty, raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Read(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::BYTEA
                | Type::TEXT
                | Type::VARCHAR
                | Type::NAME
                | Type::BPCHAR
        )
    }
}

/// A failure, with constraint violations told apart (by their SQLSTATE).
fn refusal(e: postgres::Error) -> DbError {
    use postgres::error::SqlState;
    match e.as_db_error() {
        Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => {
            DbError::Unique(db.constraint().unwrap_or(db.message()).to_owned())
        }
        Some(db) if *db.code() == SqlState::FOREIGN_KEY_VIOLATION => DbError::ForeignKey,
        // PostgreSQL aborted this transaction to break a deadlock (two writers waiting on each
        // other's uncommitted unique keys) or a serialization conflict: it may be run again.
        Some(db)
            if *db.code() == SqlState::T_R_DEADLOCK_DETECTED
                || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            DbError::Contended(db.message().to_owned())
        }
        Some(db) => DbError::Other(db.message().to_owned()),
        None => DbError::Other(e.to_string()),
    }
}

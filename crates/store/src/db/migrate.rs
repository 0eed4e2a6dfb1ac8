//! Forward-only schema migrations, applied at start.
//!
//! Each migration runs in its own transaction with the row that records it, so a crash leaves
//! the schema at a whole version. A database whose schema is newer than this binary knows is
//! refused: an old binary must not write into a schema it does not understand.

use crate::StoreError;
use crate::db::codec::params;
use crate::db::conn::{Backend, Conn, transaction};

/// The migrations, in order: a name and the same change in each dialect. Version `n` is
/// `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "push_provisioning",
        include_str!("../../migrations/sqlite/0001_push_provisioning.sql"),
        include_str!("../../migrations/postgres/0001_push_provisioning.sql"),
    ),
    (
        "risk_step_up_scripts",
        include_str!("../../migrations/sqlite/0002_risk_step_up_scripts.sql"),
        include_str!("../../migrations/postgres/0002_risk_step_up_scripts.sql"),
    ),
    (
        "wallet_accounts",
        include_str!("../../migrations/sqlite/0003_wallet_accounts.sql"),
        include_str!("../../migrations/postgres/0003_wallet_accounts.sql"),
    ),
    (
        "sei_tsm",
        include_str!("../../migrations/sqlite/0004_sei_tsm.sql"),
        include_str!("../../migrations/postgres/0004_sei_tsm.sql"),
    ),
    (
        "sp_tsm",
        include_str!("../../migrations/sqlite/0005_sp_tsm.sql"),
        include_str!("../../migrations/postgres/0005_sp_tsm.sql"),
    ),
    (
        "tsm_handoff",
        include_str!("../../migrations/sqlite/0006_tsm_handoff.sql"),
        include_str!("../../migrations/postgres/0006_tsm_handoff.sql"),
    ),
    (
        "portable_order",
        include_str!("../../migrations/sqlite/0007_portable_order.sql"),
        include_str!("../../migrations/postgres/0007_portable_order.sql"),
    ),
    (
        "audit_index",
        include_str!("../../migrations/sqlite/0008_audit_index.sql"),
        include_str!("../../migrations/postgres/0008_audit_index.sql"),
    ),
    (
        "drop_repeated_token_indexes",
        include_str!("../../migrations/sqlite/0009_drop_repeated_token_indexes.sql"),
        include_str!("../../migrations/postgres/0009_drop_repeated_token_indexes.sql"),
    ),
    (
        "token_lifecycle",
        include_str!("../../migrations/sqlite/0010_token_lifecycle.sql"),
        include_str!("../../migrations/postgres/0010_token_lifecycle.sql"),
    ),
    (
        "payments",
        include_str!("../../migrations/sqlite/0011_payments.sql"),
        include_str!("../../migrations/postgres/0011_payments.sql"),
    ),
    (
        "second_way_in",
        include_str!("../../migrations/sqlite/0012_second_way_in.sql"),
        include_str!("../../migrations/postgres/0012_second_way_in.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`SCHEMA_VERSION`], or refuses a newer one. On PostgreSQL the whole
/// run holds an advisory lock, so instances starting together migrate once. `now` stamps the
/// migrations applied.
pub(crate) fn migrate(conn: &mut dyn Conn, now: i64) -> Result<(), StoreError> {
    let postgres = conn.backend() == Backend::Postgres;
    if postgres {
        conn.batch("SELECT pg_advisory_lock(7314001)")?;
    }
    let result = migrate_locked(conn, now);
    if postgres {
        conn.batch("SELECT pg_advisory_unlock(7314001)")?;
    }
    result
}

fn migrate_locked(conn: &mut dyn Conn, now: i64) -> Result<(), StoreError> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )?;
    let current: i64 = conn
        .query_one(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM schema_migrations",
            params![],
        )?
        .get("v")?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (i, (name, sqlite, postgres)) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i as i64 + 1;
        let sql = match conn.backend() {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        };
        transaction(conn, |tx| {
            tx.batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                params![version, *name, now],
            )?;
            Ok(())
        })?;
        tracing::info!(version, name, "applied schema migration");
    }
    Ok(())
}

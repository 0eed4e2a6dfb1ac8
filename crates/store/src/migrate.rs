//! Forward-only schema migrations, applied at start.
//!
//! Each migration runs in its own transaction with the row that records it, so a crash leaves
//! the schema at a whole version. A database whose schema is newer than this binary knows is
//! refused: an old binary must not write into a schema it does not understand.

use sqlx::SqlitePool;

use crate::StoreError;

/// The migrations, in order. Version `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "push_provisioning",
        include_str!("../migrations/sqlite/0001_push_provisioning.sql"),
    ),
    (
        "risk_step_up_scripts",
        include_str!("../migrations/sqlite/0002_risk_step_up_scripts.sql"),
    ),
    (
        "wallet_accounts",
        include_str!("../migrations/sqlite/0003_wallet_accounts.sql"),
    ),
    (
        "sei_tsm",
        include_str!("../migrations/sqlite/0004_sei_tsm.sql"),
    ),
    (
        "sp_tsm",
        include_str!("../migrations/sqlite/0005_sp_tsm.sql"),
    ),
    (
        "tsm_handoff",
        include_str!("../migrations/sqlite/0006_tsm_handoff.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
    let unavailable = |e: sqlx::Error| StoreError::Unavailable(e.to_string());
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(unavailable)?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(pool)
            .await
            .map_err(unavailable)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the database schema is version {current}, newer than this binary's {SCHEMA_VERSION}; upgrade provisio"
        )));
    }
    for (i, (name, sql)) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i as i64 + 1;
        let mut tx = pool.begin().await.map_err(unavailable)?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, strftime('%s','now'))")
            .bind(version)
            .bind(*name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        tracing::info!(version, name, "applied schema migration");
    }
    Ok(())
}

//! The store's SQL, one file per concern, on either database.
//!
//! At the bottom, what every concern uses: [`codec`] (parameters, rows, values), [`conn`] (a
//! connection and its errors, transactions, savepoints), the two drivers ([`sqlite`],
//! [`postgres`]) and [`workers`] (the threads the SQL runs on). Above them, one file per
//! concern, each a set of functions on a `&mut dyn Conn`: they run in whatever transaction
//! their caller holds and never do I/O of their own beyond their statements.

pub(crate) mod checkpointer;
pub(crate) mod codec;
pub(crate) mod conn;
pub(crate) mod facts;
pub(crate) mod postgres;
pub(crate) mod sqlite;
pub(crate) mod workers;

pub(crate) mod accounts;
pub(crate) mod handoff;
pub(crate) mod issuer_settings;
pub(crate) mod migrate;
pub(crate) mod outbox;
pub(crate) mod participants;
pub(crate) mod payments;
pub(crate) mod provisioning;
pub(crate) mod risk;
pub(crate) mod scripts;
pub(crate) mod sei;
pub(crate) mod sp;
pub(crate) mod step_up;
pub(crate) mod tokens;

/// A migrated SQLite database in `dir`, for the concern files' unit tests.
#[cfg(test)]
pub(crate) fn test_conn(dir: &std::path::Path) -> sqlite::SqliteConn {
    let mut conn = sqlite::SqliteConn::open(&dir.join("unit.db"), 2048).unwrap();
    migrate::migrate(&mut conn, 0).unwrap();
    conn
}

#[cfg(test)]
mod tests {
    use super::conn::Conn;

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = super::test_conn(dir.path());
        super::migrate::migrate(&mut conn, 1).unwrap();
        let n = conn
            .query_one("SELECT COUNT(*) AS n FROM schema_migrations", &[])
            .unwrap()
            .get::<i64>("n")
            .unwrap();
        assert_eq!(n, crate::SCHEMA_VERSION);
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)",
            crate::db::codec::params![crate::SCHEMA_VERSION + 1],
        )
        .unwrap();
        assert!(matches!(
            super::migrate::migrate(&mut conn, 2),
            Err(crate::StoreError::SchemaTooNew { .. })
        ));
    }
}

//! The SQL store: SQLite (the embedded default) or PostgreSQL, through one implementation of
//! the role traits on the store's threads (`db/workers.rs`, `writer.rs`).
//!
//! Both are configured so that a committed transaction survives power loss before the server
//! acknowledges it (docs/architecture.md §3, "durable before acknowledged").

mod accounts;
mod keys;
mod outbox;
mod participants;
mod payments;
mod provisioning;
mod scripts;
mod step_up;
mod tokens;
mod tsm;

use std::path::PathBuf;
use std::sync::Arc;

use crate::StoreError;
use crate::db::checkpointer::{self, Gate, Schedule};
use crate::db::conn::{Backend, Conn, transaction};
use crate::db::migrate::migrate;
use crate::db::postgres::PostgresConn;
use crate::db::sqlite::SqliteConn;
use crate::db::workers::{Connect, Workers};
use crate::writer::Writer;

/// The SQL store, opened from a `sqlite://` or `postgres://` URL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    /// Reads, and on PostgreSQL every write but the push provisionings.
    readers: Workers,
    /// Group commit: push provisionings, and on SQLite every write.
    pub(crate) writer: Writer,
    /// SQLite: keeps the checkpointer thread running while any clone of the store lives.
    _checkpointer: Option<Arc<()>>,
}

/// SQLite reader threads unless the URL's `pool_size` says otherwise: reads are short, and
/// the machine's cores are the server's.
const DEFAULT_SQLITE_READERS: u32 = 2;

/// The page cache of SQLite's writer: big enough for the interior pages of every index a
/// provisioning touches at millions of rows (the default 2 MB is not), so its inserts read
/// only leaves.
const SQLITE_WRITER_CACHE_KIB: u32 = 65_536;
/// Each SQLite reader's page cache: the interior pages of the indexes the risk signals read at
/// millions of rows, while nothing is written. SQLite empties it whenever a read transaction
/// begins after another connection wrote (`pager_reset`), so under load it holds one
/// statement's pages (docs/perf-journal.md, 2026-12-07).
const SQLITE_READER_CACHE_KIB: u32 = 16_384;

/// Connections per instance unless the URL's `pool_size` says otherwise.
const DEFAULT_POOL: u32 = 8;

/// PostgreSQL's group-commit writers per instance unless the URL's `writers` says otherwise.
/// Fewer writers make larger batches, and so fewer statements and commits per request. On a
/// 2-core machine with PostgreSQL beside the server, 2 writers against 4 (the default before),
/// 3 alternated pairs of `bench push`: 10 to 35 % more pushes per second at 15 to 30 % less
/// PostgreSQL CPU per push; 1 writer against 2 was mixed (docs/perf-journal.md). More
/// writers let an instance overlap more commits when the database has cores and slow syncs to
/// spare.
const DEFAULT_POSTGRES_WRITERS: usize = 2;

/// Our own URL parameters, taken out before the URL reaches the driver.
#[derive(Debug, PartialEq, Eq)]
struct Params {
    /// Pooled connections (`pool_size`).
    pool_size: Option<u32>,
    /// Group-commit writers (`writers`), each with a connection of its own.
    writers: Option<usize>,
}

/// Takes our own `pool_size=N` and `writers=N` parameters out of a database URL.
fn take_params(url: &str) -> Result<(String, Params), StoreError> {
    let mut params = Params {
        pool_size: None,
        writers: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), params));
    };
    let positive = |name: &str, n: &str| {
        n.parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| StoreError::Unavailable(format!("{name} must be a positive number")))
    };
    let mut rest = Vec::new();
    for pair in query.split('&') {
        if let Some(n) = pair.strip_prefix("pool_size=") {
            params.pool_size = Some(positive("pool_size", n)?);
        } else if let Some(n) = pair.strip_prefix("writers=") {
            params.writers = Some(positive("writers", n)? as usize);
        } else {
            rest.push(pair);
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, params))
}

impl SqlStore {
    /// Opens and migrates the database at `url`. A `pool_size=N` query parameter sets the
    /// connections this instance reads on (PostgreSQL: also writes on; default 8, SQLite 2);
    /// on PostgreSQL `writers=N` sets its group-commit writers (default 2). SQLite has one
    /// writer.
    ///
    /// SQLite: the file is created if needed; WAL journal with `synchronous=FULL`, foreign keys
    /// on, a 10 s busy timeout, temporary data in memory. PostgreSQL: `synchronous_commit`
    /// stays on (the server's default), so a commit is durable before the server acknowledges.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (url, params) = take_params(url)?;
        let sqlite_path = url.strip_prefix("sqlite:").map(|rest| {
            PathBuf::from(
                rest.trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or(""),
            )
        });
        let (backend, readers, writers, read, write) = if let Some(path) = sqlite_path.clone() {
            if params.writers.is_some_and(|n| n != 1) {
                return Err(StoreError::Unavailable(
                    "SQLite has one writer at a time: writers must be 1".into(),
                ));
            }
            let readers = params.pool_size.unwrap_or(DEFAULT_SQLITE_READERS);
            (
                Backend::Sqlite,
                readers,
                1,
                sqlite(path.clone(), SQLITE_READER_CACHE_KIB, false),
                sqlite(path, SQLITE_WRITER_CACHE_KIB, true),
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = postgres(url.clone());
            (
                Backend::Postgres,
                params.pool_size.unwrap_or(DEFAULT_POOL),
                params.writers.unwrap_or(DEFAULT_POSTGRES_WRITERS),
                connect.clone(),
                connect,
            )
        } else {
            return Err(StoreError::Unavailable(
                "unsupported database URL: use sqlite:// or postgres://".into(),
            ));
        };
        let first = write.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = first().map_err(|e| e.into_store())?;
            migrate(conn.as_mut(), unix_now())
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        let (checkpointer, gate) = match sqlite_path {
            Some(path) => {
                let alive = Arc::new(());
                let gate = Arc::new(Gate::default());
                checkpointer::spawn(
                    path,
                    gate.clone(),
                    Schedule::DEFAULT,
                    Arc::downgrade(&alive),
                )
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot start the checkpointer: {e}"))
                })?;
                (Some(alive), Some(gate))
            }
            None => (None, None),
        };
        Ok(Self {
            backend,
            readers: Workers::start("store-reader", readers as usize, read)?,
            writer: Writer::start(writers, write, gate)?,
            _checkpointer: checkpointer,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `work` on a reader's connection.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.readers.run(work).await
    }

    /// Runs `work` in a transaction: on SQLite in the writer's next batch, on PostgreSQL on a
    /// pooled connection of its own.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.backend {
            Backend::Sqlite => self.writer.write(work).await,
            Backend::Postgres => self.readers.run(move |c| transaction(c, work)).await,
        }
    }
}

/// SQLite connections; the `writer`'s leaves checkpoints to the checkpointer thread.
fn sqlite(path: PathBuf, cache_kib: u32, writer: bool) -> Connect {
    Arc::new(move || {
        let conn = if writer {
            SqliteConn::open_writer(&path, cache_kib)
        } else {
            SqliteConn::open(&path, cache_kib)
        };
        conn.map(|c| Box::new(c) as Box<dyn Conn + Send>)
    })
}

fn postgres(url: String) -> Connect {
    Arc::new(move || PostgresConn::connect(&url).map(|c| Box::new(c) as Box<dyn Conn + Send>))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_and_writers_parameters_are_ours_and_taken_out() {
        let params = |pool_size, writers| Params { pool_size, writers };
        assert_eq!(
            take_params("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".into(), params(None, None))
        );
        assert_eq!(
            take_params("postgres://u@h/db?pool_size=20&sslmode=require&writers=3").unwrap(),
            (
                "postgres://u@h/db?sslmode=require".into(),
                params(Some(20), Some(3))
            )
        );
        assert_eq!(
            take_params("sqlite:///tmp/x.db?pool_size=2").unwrap(),
            ("sqlite:///tmp/x.db".into(), params(Some(2), None))
        );
        for bad in ["pool_size=0", "pool_size=many", "writers=0", "writers=-1"] {
            assert!(
                take_params(&format!("postgres://u@h/db?{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn sqlite_refuses_more_than_one_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let err = SqlStore::open(&format!("{url}?writers=2"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("writers must be 1"), "{err}");
        let store = SqlStore::open(&format!("{url}?writers=1")).await.unwrap();
        assert_eq!(store.writer.writers(), 1);
    }

    #[tokio::test]
    async fn postgres_takes_its_writers_from_the_url() {
        let Some(url) = provisio_testkit::postgres::fresh_postgres_url().await else {
            return;
        };
        let store = SqlStore::open(&url).await.unwrap();
        assert_eq!(store.writer.writers(), DEFAULT_POSTGRES_WRITERS);
        let store = SqlStore::open(&format!("{url}?writers=3")).await.unwrap();
        assert_eq!(store.writer.writers(), 3);
    }
}

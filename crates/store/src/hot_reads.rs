//! SQLite's hot reads (the risk signals of every push provisioning) on a connection of their
//! own, kept for as long as it works.
//!
//! A pooled connection's page cache is emptied whenever another connection has committed
//! (SQLite's wal.html): with eight of them nearly every read found its cache emptied and went
//! back to the file for every index page, 46 read system calls per push provisioning with 1M
//! tokens. One long-lived reader loses its cache at most once per commit, shared by the reads
//! in between: 14.4 read system calls per push. Reading on the group-commit writer's
//! connection did better still (9.9), but then every read waited behind the writer's commits,
//! fsync and checkpoints, and with 1M tokens a quarter of the CPU stood idle; this reader gave
//! 18 % more throughput there, at the same CPU per request.
//!
//! The connection is behind a fair (first come, first served) lock and each read runs in its
//! caller's task: a read is one hand-off to the database driver's thread and back, not two
//! more through a task of its own.

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::Mutex;

use crate::StoreError;
use crate::group_commit::own_connection;

/// The connection the reads share, opened on first use and again after an error.
#[derive(Debug)]
pub(crate) struct HotReads {
    pool: AnyPool,
    setup: &'static str,
    conn: Mutex<Option<AnyConnection>>,
}

impl HotReads {
    /// `setup` runs on the connection when it is opened.
    pub(crate) fn new(pool: AnyPool, setup: &'static str) -> Self {
        Self {
            pool,
            setup,
            conn: Mutex::new(None),
        }
    }

    /// Runs `read` on the connection, after the reads that asked for it before.
    pub(crate) async fn read<T>(
        &self,
        read: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().await;
        let result = read(own_connection(&self.pool, Some(self.setup), &mut conn).await?).await;
        if matches!(result, Err(StoreError::Unavailable(_))) {
            *conn = None;
        }
        result
    }
}

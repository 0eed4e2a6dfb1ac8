//! SQLite's hot reads (the risk signals of every push provisioning) on a connection of their
//! own, kept by one task for as long as it works.
//!
//! A pooled connection's page cache is emptied whenever another connection has committed
//! (SQLite's wal.html): with eight of them nearly every read found its cache emptied and went
//! back to the file for every index page, 46 read system calls per push provisioning with 1M
//! tokens. One long-lived reader loses its cache at most once per commit, shared by the reads
//! in between: 14.4 read system calls per push. Reading on the group-commit writer's
//! connection did better still (9.9), but then every read waited behind the writer's commits,
//! fsync and checkpoints, and with 1M tokens a quarter of the CPU stood idle; this reader gave
//! 18 % more throughput there, at the same CPU per request.

use std::future::Future;
use std::pin::Pin;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use crate::group_commit::own_connection;
use crate::StoreError;

/// A future borrowing the reader's connection.
pub(crate) type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// A read run on the connection (or told why there is none); it answers through its own
/// channel, and tells the task whether the store was unavailable (the connection is then
/// replaced).
type Read = Box<
    dyn for<'c> FnOnce(Result<&'c mut AnyConnection, StoreError>) -> BoxFuture<'c, bool> + Send,
>;

/// Reads waiting for the connection before callers wait to enqueue.
const QUEUE: usize = 4096;

/// The handle reads go through.
#[derive(Debug, Clone)]
pub(crate) struct HotReads {
    queue: mpsc::Sender<Read>,
}

impl HotReads {
    /// Starts the task on the current runtime; `setup` runs on its connection when it is taken.
    pub(crate) fn start(pool: AnyPool, setup: &'static str) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(reader(pool, setup, rx));
        Self { queue }
    }

    /// Runs `read` on the connection, after the reads queued before it.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        read: impl for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    ) -> Result<T, StoreError> {
        let (done, answer) = oneshot::channel();
        let job: Read = Box::new(move |conn| {
            Box::pin(async move {
                let result = match conn {
                    Ok(conn) => read(conn).await,
                    Err(e) => Err(e),
                };
                let unavailable = matches!(result, Err(StoreError::Unavailable(_)));
                // A caller that went away needs no answer.
                let _ = done.send(result);
                unavailable
            })
        });
        self.queue.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's reader stopped".into())
}

/// The task: each read in turn, on its own connection (a new one after the store was
/// unavailable).
async fn reader(pool: AnyPool, setup: &'static str, mut rx: mpsc::Receiver<Read>) {
    let mut conn: Option<AnyConnection> = None;
    while let Some(read) = rx.recv().await {
        if read(own_connection(&pool, Some(setup), &mut conn).await).await {
            conn = None;
        }
    }
}

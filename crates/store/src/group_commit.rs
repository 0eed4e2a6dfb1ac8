//! Group commit of push provisionings (docs/architecture.md §3, "durable before acknowledged").
//!
//! Requests' records are written by writer tasks (one on SQLite, which has one writer at a time
//! anyway; several on PostgreSQL). A writer takes whatever is waiting in its queue (up to
//! [`MAX_BATCH`]), writes the batch's rows in one transaction (multi-row inserts,
//! `bulk_insert.rs`), and commits once: one fsync for the batch instead of one per request. If
//! the batch breaks a rule (a replayed session id, a used `jti`, a taken token PAN or
//! idempotency key), it is written again with each request's rows in a savepoint of their own:
//! the request that broke the rule is rolled back to its savepoint and gets its own
//! [`StoreError::Conflict`]; the others are unaffected. Nobody is answered before the commit
//! returns, and if it fails, everybody in the batch gets the error, so nothing acknowledged is
//! lost and nothing refused is half-written.
//!
//! A writer keeps its connection across batches ([`own_connection`]), so on SQLite its page
//! cache stays warm between them.

use provisio_tsp::records::NewProvisioning;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::bulk_insert::{fits_one_statement, insert_in_one_statement, insert_many};
use crate::sql::unavailable;
use crate::{IdempotencyRecord, StoreError};

/// The most requests one transaction carries.
const MAX_BATCH: usize = 128;
/// Requests waiting for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

struct Pending {
    provisioning: NewProvisioning,
    idempotency: Option<IdempotencyRecord>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle requests commit through: one queue per writer, taken in turn.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queues: std::sync::Arc<[mpsc::Sender<Pending>]>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("provisioning_id", &self.provisioning.provisioning_id)
            .finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts `writers` writers on the current runtime. SQLite takes one writer at a time
    /// anyway, so one is right there; PostgreSQL commits several transactions in parallel.
    /// `setup` runs on each writer's connection when it is taken; `one_statement` (PostgreSQL)
    /// writes a common batch as one statement (`bulk_insert.rs`).
    pub(crate) fn start(
        pool: AnyPool,
        writers: usize,
        setup: Option<&'static str>,
        one_statement: bool,
    ) -> Self {
        let queues: Vec<_> = (0..writers.max(1))
            .map(|_| {
                let (queue, rx) = mpsc::channel(QUEUE);
                tokio::spawn(writer(pool.clone(), setup, one_statement, rx));
                queue
            })
            .collect();
        Self {
            queues: queues.into(),
            next: std::sync::Arc::default(),
        }
    }

    /// How many writers commit through this handle.
    #[cfg(test)]
    pub(crate) fn writers(&self) -> usize {
        self.queues.len()
    }

    /// Commits one provisioning (and its idempotent answer) with whatever else is waiting;
    /// returns once it is durable, or with the rule it broke.
    pub(crate) async fn commit(
        &self,
        provisioning: NewProvisioning,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let pending = Pending {
            provisioning,
            idempotency,
            done,
        };
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queue = self
            .queues
            .get(i % self.queues.len())
            .ok_or_else(|| StoreError::Unavailable("no store writer".into()))?;
        queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's writer stopped".into())
}

/// One writer: whatever is waiting, as one batch, on its own connection (a new one after the
/// store was unavailable).
async fn writer(
    pool: AnyPool,
    setup: Option<&'static str>,
    one_statement: bool,
    mut rx: mpsc::Receiver<Pending>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut conn: Option<AnyConnection> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = match own_connection(&pool, setup, &mut conn).await {
            Ok(c) => commit_batch(c, &batch, one_statement).await,
            Err(e) => batch.iter().map(|_| Err(copy(&e))).collect(),
        };
        if results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Unavailable(_))))
        {
            conn = None;
        }
        for (pending, result) in batch.drain(..).zip(results) {
            // A caller that went away (its request was cancelled) needs no answer.
            let _ = pending.done.send(result);
        }
    }
}

/// A connection of its own (a writer's, or `hot_reads.rs`'s), opened through the pool (same
/// options, same set-up) the first time and after an error, then detached from it with `setup`
/// run on it: the pool's `pool_size` connections stay for everything else, and a broken one is
/// closed, not handed back.
pub(crate) async fn own_connection<'c>(
    pool: &AnyPool,
    setup: Option<&'static str>,
    conn: &'c mut Option<AnyConnection>,
) -> Result<&'c mut AnyConnection, StoreError> {
    if conn.is_none() {
        let mut fresh = pool.acquire().await.map_err(unavailable)?.detach();
        if let Some(setup) = setup {
            sqlx::Executor::execute(&mut fresh, setup)
                .await
                .map_err(unavailable)?;
        }
        *conn = Some(fresh);
    }
    conn.as_mut()
        .ok_or_else(|| StoreError::Unavailable("no store connection".into()))
}

/// One transaction for the batch, its rows in multi-row inserts (or one statement). If a rule
/// is broken, nobody knows whose request broke it: the batch is then written again with each
/// request's rows in a savepoint of their own.
async fn commit_batch(
    conn: &mut AnyConnection,
    batch: &[Pending],
    one_statement: bool,
) -> Vec<Result<(), StoreError>> {
    let all = |e: &StoreError| batch.iter().map(|_| Err(copy(e))).collect();
    let rows: Vec<_> = batch
        .iter()
        .map(|p| (&p.provisioning, p.idempotency.as_ref()))
        .collect();
    match together(conn, &rows, one_statement).await {
        Ok(()) => batch.iter().map(|_| Ok(())).collect(),
        Err(StoreError::Conflict(_) | StoreError::MissingReference) if batch.len() > 1 => {
            one_by_one(conn, batch).await
        }
        Err(e) => all(&e),
    }
}

async fn together(
    conn: &mut AnyConnection,
    rows: &[(&NewProvisioning, Option<&IdempotencyRecord>)],
    one_statement: bool,
) -> Result<(), StoreError> {
    if one_statement && fits_one_statement(rows) {
        return insert_in_one_statement(conn, rows).await;
    }
    let mut tx = conn.begin().await.map_err(unavailable)?;
    match insert_many(&mut tx, rows).await {
        Ok(()) => tx.commit().await.map_err(unavailable),
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The batch again, each request's rows in a savepoint: the ones that break a rule are rolled
/// back to it and get their own [`StoreError::Conflict`]; the others are unaffected.
async fn one_by_one(conn: &mut AnyConnection, batch: &[Pending]) -> Vec<Result<(), StoreError>> {
    let all = |e: &StoreError| batch.iter().map(|_| Err(copy(e))).collect();
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return all(&unavailable(e)),
    };
    let mut results = Vec::with_capacity(batch.len());
    for p in batch {
        let rows = [(&p.provisioning, p.idempotency.as_ref())];
        let result = match savepoint(&mut tx, "SAVEPOINT item").await {
            Ok(()) => insert_many(&mut tx, &rows).await,
            Err(e) => Err(e),
        };
        let closed = match &result {
            Ok(()) => savepoint(&mut tx, "RELEASE SAVEPOINT item").await,
            Err(_) => match savepoint(&mut tx, "ROLLBACK TO SAVEPOINT item").await {
                Ok(()) => savepoint(&mut tx, "RELEASE SAVEPOINT item").await,
                Err(e) => Err(e),
            },
        };
        if let Err(e) = closed {
            return all(&e);
        }
        results.push(result);
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(e) => all(&unavailable(e)),
    }
}

/// Many records in one transaction: all or nothing.
pub(crate) async fn import(
    pool: &AnyPool,
    batch: &[NewProvisioning],
    one_statement: bool,
) -> Result<(), StoreError> {
    let rows: Vec<_> = batch.iter().map(|p| (p, None)).collect();
    let mut conn = pool.acquire().await.map_err(unavailable)?;
    together(&mut conn, &rows, one_statement).await
}

async fn savepoint(tx: &mut AnyConnection, sql: &str) -> Result<(), StoreError> {
    sqlx::Executor::execute(&mut *tx, sql)
        .await
        .map(|_| ())
        .map_err(unavailable)
}

/// The same error for every request of a failed batch.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(c) => StoreError::Conflict(*c),
        StoreError::MissingReference => StoreError::MissingReference,
        other => StoreError::Unavailable(other.to_string()),
    }
}

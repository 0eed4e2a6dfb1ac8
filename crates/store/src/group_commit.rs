//! Group commit of push provisionings (DESIGN.md section 3, "durable before acknowledged").
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
//! A writer keeps its connection across batches, and so does a reader ([`GroupCommit::reader`],
//! which is sent only reads). On SQLite the risk signals are read on such a reader. A pooled
//! connection's page cache is emptied whenever another connection has committed (SQLite's
//! wal.html), and with eight of them nearly every read found its cache emptied and went back to
//! the file for every index page: 46 read system calls per push provisioning with 1M tokens.
//! One long-lived reader loses its cache at most once per commit, shared by the reads in
//! between: 14.4 read system calls per push. Reading on the writer's connection did better
//! still (9.9), but then every read waited behind the writer's commits, fsync and
//! checkpoints, and with 1M tokens a quarter of the CPU stood idle: the reader gave 18 % more
//! throughput there, at the same CPU per request.

use std::future::Future;
use std::pin::Pin;

use provisio_tsp::records::NewProvisioning;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::bulk_insert::insert_many;
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

/// A read run on a writer's connection (or told why there is none); it answers through its
/// own channel, and tells the writer whether the store was unavailable (the connection is then
/// replaced).
type Read = Box<
    dyn for<'c> FnOnce(Result<&'c mut AnyConnection, StoreError>) -> BoxFuture<'c, bool> + Send,
>;

/// A future borrowing the writer's connection.
pub(crate) type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// What a writer is asked to do.
enum Job {
    Commit(Box<Pending>),
    Read(Read),
}

/// The handle requests commit through: one queue per writer, taken in turn.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queues: std::sync::Arc<[mpsc::Sender<Job>]>,
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
    /// `setup` runs on each writer's connection when it is taken.
    pub(crate) fn start(pool: AnyPool, writers: usize, setup: Option<&'static str>) -> Self {
        let queues: Vec<_> = (0..writers.max(1))
            .map(|_| {
                let (queue, rx) = mpsc::channel(QUEUE);
                tokio::spawn(writer(pool.clone(), setup, rx));
                queue
            })
            .collect();
        Self {
            queues: queues.into(),
            next: std::sync::Arc::default(),
        }
    }

    /// A task with its own connection for reads only: it is never sent a commit. `setup` runs
    /// on its connection when it is taken.
    pub(crate) fn reader(pool: AnyPool, setup: &'static str) -> Self {
        Self::start(pool, 1, Some(setup))
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
        self.send(Job::Commit(Box::new(pending))).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `read` on a writer's connection, between its batches.
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
        self.send(Job::Read(job)).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Queues a job for the writers, taken in turn.
    async fn send(&self, job: Job) -> Result<(), StoreError> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queue = self
            .queues
            .get(i % self.queues.len())
            .ok_or_else(|| StoreError::Unavailable("no store writer".into()))?;
        queue.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's writer stopped".into())
}

/// One writer: its queue's reads, then its commits as one batch, on its own connection (a new
/// one after the store was unavailable).
async fn writer(pool: AnyPool, setup: Option<&'static str>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut conn: Option<AnyConnection> = None;
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // Reads first, in the order they came; then the commits, as one batch.
        for job in jobs.drain(..) {
            match job {
                Job::Commit(pending) => batch.push(*pending),
                Job::Read(read) => {
                    if read(connection(&pool, setup, &mut conn).await).await {
                        conn = None;
                    }
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let results = match connection(&pool, setup, &mut conn).await {
            Ok(c) => commit_batch(c, &batch).await,
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

/// The writer's connection, opened through the pool (same options, same set-up) the first
/// time and after an error, then detached from it: the pool's `pool_size` connections stay
/// for everything else, and a writer's broken connection is closed, not handed back.
async fn connection<'c>(
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

/// One transaction for the batch, its rows in multi-row inserts. If a rule is broken, nobody
/// knows whose request broke it: the batch is then written again with each request's rows in
/// a savepoint of their own.
async fn commit_batch(conn: &mut AnyConnection, batch: &[Pending]) -> Vec<Result<(), StoreError>> {
    let all = |e: &StoreError| batch.iter().map(|_| Err(copy(e))).collect();
    let rows: Vec<_> = batch
        .iter()
        .map(|p| (&p.provisioning, p.idempotency.as_ref()))
        .collect();
    match together(conn, &rows).await {
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
) -> Result<(), StoreError> {
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
pub(crate) async fn import(pool: &AnyPool, batch: &[NewProvisioning]) -> Result<(), StoreError> {
    let rows: Vec<_> = batch.iter().map(|p| (p, None)).collect();
    let mut conn = pool.acquire().await.map_err(unavailable)?;
    together(&mut conn, &rows).await
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

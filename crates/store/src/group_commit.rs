//! Group commit of push provisionings (DESIGN.md section 3, "durable before acknowledged").
//!
//! Requests' records are written by writer tasks (one on SQLite, which has one writer at a time
//! anyway; several on PostgreSQL). A writer takes whatever is waiting in its queue (up to
//! [`MAX_BATCH`]), writes each request's rows inside a savepoint of one transaction, and
//! commits once: one fsync for the batch instead of one per request. A request whose rows break
//! a rule (a replayed session id, a used `jti`, a taken token PAN or idempotency key) is rolled
//! back to its savepoint and gets its own [`StoreError::Conflict`]; the others are unaffected.
//! Nobody is answered before the commit returns, and if it fails, everybody in the batch gets
//! the error, so nothing acknowledged is lost and nothing refused is half-written.

use provisio_tsp::records::NewProvisioning;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use crate::sql::{insert_idempotency, unavailable, write_error};
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
    pub(crate) fn start(pool: AnyPool, writers: usize) -> Self {
        let queues: Vec<_> = (0..writers.max(1))
            .map(|_| {
                let (queue, rx) = mpsc::channel(QUEUE);
                tokio::spawn(writer(pool.clone(), rx));
                queue
            })
            .collect();
        Self {
            queues: queues.into(),
            next: std::sync::Arc::default(),
        }
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
        queue
            .send(pending)
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer stopped".into()))?
    }
}

async fn writer(pool: AnyPool, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_batch(&pool, &batch).await;
        for (pending, result) in batch.drain(..).zip(results) {
            // A caller that went away (its request was cancelled) needs no answer.
            let _ = pending.done.send(result);
        }
    }
}

/// One transaction for the batch; each request's rows in a savepoint of their own.
async fn commit_batch(pool: &AnyPool, batch: &[Pending]) -> Vec<Result<(), StoreError>> {
    let all = |e: &StoreError| batch.iter().map(|_| Err(copy(e))).collect();
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return all(&unavailable(e)),
    };
    if let [p] = batch {
        // Alone: no savepoint needed, the transaction is the request's.
        let result = insert(&mut tx, &p.provisioning, p.idempotency.as_ref()).await;
        return vec![match result {
            Ok(()) => tx.commit().await.map_err(unavailable),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }];
    }
    let mut results = Vec::with_capacity(batch.len());
    for p in batch {
        let result = match savepoint(&mut tx, "SAVEPOINT item").await {
            Ok(()) => insert(&mut tx, &p.provisioning, p.idempotency.as_ref()).await,
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

/// Many records in one transaction with no savepoints: all or nothing.
pub(crate) async fn import(pool: &AnyPool, batch: &[NewProvisioning]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    for p in batch {
        insert(&mut tx, p, None).await?;
    }
    tx.commit().await.map_err(unavailable)
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

/// A processed push request's rows: the idempotent answer, the provisioning, its token, its
/// step-up or script (and the TSM job).
async fn insert(
    tx: &mut AnyConnection,
    p: &NewProvisioning,
    idempotency: Option<&IdempotencyRecord>,
) -> Result<(), StoreError> {
    // The idempotency row goes first: a concurrent duplicate with the same key loses here
    // and is answered from the winner's row.
    if let Some(r) = idempotency {
        insert_idempotency(&mut *tx, r).await?;
    }
    let decision = serde_json::to_value(p.decision)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    sqlx::query("INSERT INTO provisionings (provisioning_id, session_id, issuer_id, jti, token_requestor_id, wallet_user_id, device_id, decision, risk, created_at, pan_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(&p.provisioning_id)
        .bind(&p.session_id)
        .bind(&p.issuer_id)
        .bind(&p.jti)
        .bind(&p.token_requestor_id)
        .bind(&p.wallet_user_id)
        .bind(&p.device_id)
        .bind(decision)
        .bind(&p.risk_json)
        .bind(p.created_at)
        .bind(&p.pan_hash[..])
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    if let Some(t) = &p.token {
        sqlx::query("INSERT INTO tokens (token_ref_id, provisioning_id, token_pan_hash, token_pan, pan_hash, pan, token_last4, exp_month, exp_year, status, token_requestor_id, wallet_user_id, device_id, binding_jwk, cryptogram_key, created_at, secure_element_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)")
            .bind(&t.token_ref_id)
            .bind(&p.provisioning_id)
            .bind(&t.token_pan_hash[..])
            .bind(t.token_pan.to_bytes())
            .bind(&t.pan_hash[..])
            .bind(t.pan.to_bytes())
            .bind(&t.token_last4)
            .bind(i64::from(t.exp_month))
            .bind(i64::from(t.exp_year))
            .bind(t.status.as_str())
            .bind(&p.token_requestor_id)
            .bind(&p.wallet_user_id)
            .bind(&t.device_id)
            .bind(&t.binding_jwk)
            .bind(t.cryptogram_key.to_bytes())
            .bind(p.created_at)
            .bind(&t.secure_element_id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        if let Some(methods) = &p.step_up {
            crate::sql_step_up::insert_step_up(&mut *tx, p, &t.token_ref_id, methods).await?;
        }
        if let Some(script) = &p.script {
            crate::sql_step_up::insert_script(
                &mut *tx,
                &p.provisioning_id,
                script,
                p.handoff.as_ref(),
                p.created_at,
            )
            .await?;
        }
    }
    Ok(())
}

//! Group commit (docs/architecture.md §3, "durable before acknowledged").
//!
//! Writes are committed by writer threads (one on SQLite, which has one writer at a time
//! anyway; several on PostgreSQL, for push provisionings). A writer takes whatever is waiting in
//! its queue (up to [`MAX_BATCH`]) and commits it as one transaction: one fsync for the batch
//! instead of one per request.
//!
//! - Push provisionings go in with multi-row inserts (`db/provisioning.rs`; on PostgreSQL a
//!   common batch is one statement). If the batch breaks a rule (a replayed session id, a used
//!   `jti`, a taken token PAN or idempotency key), it is written again with each request's rows
//!   in a savepoint of their own: the request that broke the rule is rolled back to its
//!   savepoint and gets its own [`StoreError::Conflict`]; the others are unaffected.
//! - Authorisations go in with one insert of those that use up their ATC, sorted by token and ATC
//!   (so two writers lock their keys in the same order), and one of its declines
//!   (`db/payments.rs`).
//! - Every other write (SQLite only: PostgreSQL takes concurrent writers, and they run on the
//!   store's pool) runs in a savepoint of the batch's transaction, so a refused one leaves
//!   nothing behind.
//!
//! Nobody is answered before the commit returns, and if it fails, everybody in the batch gets
//! the error: nothing acknowledged is lost and nothing refused is half-written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use provisio_tsp::records::NewProvisioning;
use provisio_tsp::{Authorized, NewAuthorization, PaymentError, Recorded};
use tokio::sync::oneshot;

use crate::db::checkpointer::Gate;
use crate::db::conn::{Backend, Conn, savepoint};
use crate::db::payments::{paying_token, record_authorizations};
use crate::db::provisioning::{Item, fits_one_statement, insert_in_one_statement, insert_many};
use crate::db::workers::{Connect, Slot, stopped};
use crate::{Decide, Decided, IdempotencyRecord, StoreError};

/// The most writes one transaction carries.
const MAX_BATCH: usize = 128;

/// A write waiting for its batch.
enum Write {
    /// A processed push request and its idempotent answer.
    Provisioning {
        provisioning: Box<NewProvisioning>,
        idempotency: Option<IdempotencyRecord>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// An authorisation: its token is read and the core decides in the batch's transaction,
    /// and the batch's records go in together (`db/payments.rs`).
    Authorization(Box<PendingAuthorization>),
    /// Any other write: it runs in a savepoint of the batch and returns what answers its
    /// caller once the batch is committed (or failed).
    Other(Work),
}

/// An authorisation waiting for its batch: the token PAN's hash, the core's decision to run on
/// the token found, and its caller.
struct PendingAuthorization {
    token_pan_hash: [u8; 32],
    decide: Option<Decide>,
    decided: Option<Result<Authorized, PaymentError>>,
    done: oneshot::Sender<Result<Decided, StoreError>>,
}

/// A write's statements, run in the batch's transaction.
type Work = Box<dyn FnOnce(&mut dyn Conn) -> Finish + Send>;

/// Answers a write's caller with the batch's commit result.
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The handle writes go through: one queue per writer thread, taken in turn.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queues: Arc<[crossbeam_channel::Sender<Write>]>,
    next: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts `writers` writer threads, each with a connection of its own. With a `gate`
    /// (SQLite's checkpointer, `db/checkpointer.rs`), each batch is committed holding it.
    pub(crate) fn start(
        writers: usize,
        connect: Connect,
        gate: Option<Arc<Gate>>,
    ) -> Result<Self, StoreError> {
        let mut queues = Vec::new();
        for i in 0..writers.max(1) {
            let (queue, rx) = crossbeam_channel::bounded::<Write>(4096);
            let mut slot = Slot::new(connect.clone());
            let gate = gate.clone();
            std::thread::Builder::new()
                .name(format!("store-writer-{i}"))
                .spawn(move || {
                    while let Ok(first) = rx.recv() {
                        let mut batch = vec![first];
                        while batch.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(w) => batch.push(w),
                                Err(_) => break,
                            }
                        }
                        let _held = gate.as_deref().map(Gate::hold);
                        commit_batch(&mut slot, batch);
                    }
                })
                .map_err(|e| StoreError::Unavailable(format!("cannot start a writer: {e}")))?;
            queues.push(queue);
        }
        Ok(Self {
            queues: queues.into(),
            next: Arc::default(),
        })
    }

    /// How many writers commit through this handle.
    #[cfg(test)]
    pub(crate) fn writers(&self) -> usize {
        self.queues.len()
    }

    fn send(&self, write: Write) -> Result<(), StoreError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.queues
            .get(i % self.queues.len())
            .ok_or_else(stopped)?
            .send(write)
            .map_err(|_| stopped())
    }

    /// Commits one provisioning (and its idempotent answer) with whatever else is waiting;
    /// returns once it is durable, or with the rule it broke.
    pub(crate) async fn commit_provisioning(
        &self,
        provisioning: NewProvisioning,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        self.send(Write::Provisioning {
            provisioning: Box::new(provisioning),
            idempotency,
            done,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Reads the token with this token PAN hash, runs `decide` on it and records the outcome,
    /// in the next batch's transaction; returns once it is durable, with how it was recorded
    /// (as decided, or as a replay of an ATC used before).
    pub(crate) async fn authorize(
        &self,
        token_pan_hash: [u8; 32],
        decide: Decide,
    ) -> Result<Decided, StoreError> {
        let (done, answer) = oneshot::channel();
        self.send(Write::Authorization(Box::new(PendingAuthorization {
            token_pan_hash,
            decide: Some(decide),
            decided: None,
            done,
        })))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `work` in the next batch (in a savepoint of it) and returns its result once the
    /// batch is committed.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, answer) = oneshot::channel();
        self.send(Write::Other(Box::new(move |c| {
            let result = savepoint(c, work);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = done.send(committed.and(result));
            })
        })))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the write's batch failed".into()))?
    }
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Write::Provisioning { provisioning, .. } => f
                .debug_struct("Provisioning")
                .field("provisioning_id", &provisioning.provisioning_id)
                .finish_non_exhaustive(),
            Write::Authorization(_) => f.write_str("Authorization"),
            Write::Other(_) => f.write_str("Other"),
        }
    }
}

/// One transaction for the batch; everyone is answered after it.
fn commit_batch(slot: &mut Slot, batch: Vec<Write>) {
    let mut pushes = Vec::new();
    let mut authorizations = Vec::new();
    let mut others = Vec::new();
    for w in batch {
        match w {
            Write::Provisioning {
                provisioning,
                idempotency,
                done,
            } => pushes.push((provisioning, idempotency, done)),
            Write::Authorization(a) => authorizations.push(*a),
            Write::Other(work) => others.push(work),
        }
    }
    let items: Vec<Item<'_>> = pushes
        .iter()
        .map(|(p, r, _)| (p.as_ref(), r.as_ref()))
        .collect();
    let mut decisions = None;
    let mut finishes: Vec<Finish> = Vec::with_capacity(others.len());
    let outcome = slot.with(|c| {
        // PostgreSQL: a common batch of pushes alone is one statement, committed on its own.
        if others.is_empty()
            && authorizations.is_empty()
            && c.backend() == Backend::Postgres
            && fits_one_statement(&items)
        {
            return match insert_in_one_statement(c, &items) {
                Ok(()) => Ok(items.iter().map(|_| Ok(())).collect()),
                // Again one by one, each in its own savepoint, in the order of the foreign
                // keys: the rule a request broke is then the first it reaches (a replayed
                // session id before the device's live token), which one statement's
                // sub-statements, run in no fixed order, do not tell. Their order is also why
                // two writers' statements can deadlock on each other's keys: the one
                // PostgreSQL aborts is run again here, after the other has committed.
                Err(
                    StoreError::Conflict(_)
                    | StoreError::MissingReference
                    | StoreError::Contended(_),
                ) => in_transaction(c, |c| Ok(one_by_one(c, &items))),
                Err(e) => Err(e),
            };
        }
        // The common case first: every push's rows together, with no savepoint (and so no
        // statement journal) around them. If one breaks a rule, the transaction is rolled
        // back and begun again with each push in a savepoint of its own.
        let together = in_transaction(c, |c| {
            insert_many(c, &items)?;
            decide_all(c, &mut authorizations)?;
            decisions = Some(authorizations_in(c, &authorizations));
            for work in others.drain(..) {
                finishes.push(work(c));
            }
            Ok(items.iter().map(|_| Ok(())).collect::<Vec<_>>())
        });
        match together {
            Err(
                StoreError::Conflict(_) | StoreError::MissingReference | StoreError::Contended(_),
            ) => {
                finishes.clear();
                in_transaction(c, |c| {
                    let results = one_by_one(c, &items);
                    decide_all(c, &mut authorizations)?;
                    decisions = Some(authorizations_in(c, &authorizations));
                    for work in others.drain(..) {
                        finishes.push(work(c));
                    }
                    Ok(results)
                })
            }
            other => other,
        }
    });
    match outcome {
        Ok(results) => {
            for ((_, _, done), result) in pushes.into_iter().zip(results) {
                let _ = done.send(result);
            }
            match decisions {
                Some(Ok(recorded)) => {
                    let mut recorded = recorded.into_iter();
                    for a in authorizations {
                        let answer = match a.decided {
                            Some(Ok(decided)) => match recorded.next() {
                                Some(how) => Ok(Ok((decided, how))),
                                None => Err(StoreError::Unavailable(
                                    "an authorisation was not recorded".into(),
                                )),
                            },
                            Some(Err(refused)) => Ok(Err(refused)),
                            None => Err(StoreError::Unavailable(
                                "an authorisation was not decided".into(),
                            )),
                        };
                        let _ = a.done.send(answer);
                    }
                }
                Some(Err(e)) => {
                    for a in authorizations {
                        let _ = a.done.send(Err(copy(&e)));
                    }
                }
                // Not run: their callers get "the batch failed" as the channels drop.
                None => {}
            }
            for finish in finishes {
                finish(Ok(()));
            }
        }
        Err(e) => {
            for (_, _, done) in pushes {
                let _ = done.send(Err(copy(&e)));
            }
            for a in authorizations {
                let _ = a.done.send(Err(copy(&e)));
            }
            for finish in finishes {
                finish(Err(copy(&e)));
            }
            // Writes that never ran (the transaction did not start) are dropped with their
            // callers' answer channels: those callers get "the batch failed".
        }
    }
}

/// Reads each undecided authorisation's token in the batch's transaction and runs its
/// decision on it (once: a batch begun again keeps the decisions made).
fn decide_all(c: &mut dyn Conn, pending: &mut [PendingAuthorization]) -> Result<(), StoreError> {
    for a in pending.iter_mut() {
        if let Some(decide) = a.decide.take() {
            let token = paying_token(c, &a.token_pan_hash)?;
            a.decided = Some(decide(token));
        }
    }
    Ok(())
}

/// The batch's decided authorisations, in a savepoint: if they fail, the rest of the batch
/// commits. One answer per decision the core made, in order.
fn authorizations_in(
    c: &mut dyn Conn,
    pending: &[PendingAuthorization],
) -> Result<Vec<Recorded>, StoreError> {
    let records: Vec<&NewAuthorization> = pending
        .iter()
        .filter_map(|a| match &a.decided {
            Some(Ok(decided)) => Some(&decided.record),
            _ => None,
        })
        .collect();
    if records.is_empty() {
        return Ok(Vec::new());
    }
    savepoint(c, |c| record_authorizations(c, &records))
}

/// `work` between `BEGIN` and `COMMIT` (SQLite: `BEGIN IMMEDIATE`, so the batch holds the
/// write lock from its start).
fn in_transaction<T>(
    c: &mut dyn Conn,
    work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    crate::db::conn::transaction(c, work)
}

/// The batch again, each request's rows in a savepoint: the ones that break a rule are rolled
/// back to it and get their own [`StoreError::Conflict`]; the others are unaffected.
fn one_by_one(c: &mut dyn Conn, items: &[Item<'_>]) -> Vec<Result<(), StoreError>> {
    items
        .iter()
        .map(|item| savepoint(c, |c| insert_many(c, std::slice::from_ref(item))))
        .collect()
}

/// The same error for every write of a failed batch.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(c) => StoreError::Conflict(*c),
        StoreError::MissingReference => StoreError::MissingReference,
        StoreError::Contended(e) => StoreError::Contended(e.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

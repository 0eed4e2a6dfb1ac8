//! The threads the store's SQL runs on. Each owns one connection (opened on first use, and
//! again after the database failed) and runs whole jobs on it: a request's reads, or its
//! writes, cross from the async server to the store once and come back once, however many
//! statements they take, and no statement waits for a hand-off of its own.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::StoreError;
use crate::db::conn::{Conn, DbError};

/// Opens one connection.
pub(crate) type Connect = Arc<dyn Fn() -> Result<Box<dyn Conn + Send>, DbError> + Send + Sync>;

/// One thread's connection: open, or to be opened by the next job.
pub(crate) struct Slot {
    conn: Option<Box<dyn Conn + Send>>,
    connect: Connect,
}

impl Slot {
    /// A slot that opens its connection with `connect` when first used.
    pub(crate) fn new(connect: Connect) -> Self {
        Self {
            conn: None,
            connect,
        }
    }

    /// Runs `work` on the connection; a connection the database failed under is closed, and
    /// the next job opens a new one.
    pub(crate) fn with<T>(
        &mut self,
        work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.conn.is_none() {
            self.conn = Some((self.connect)().map_err(DbError::into_store)?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(StoreError::Unavailable("no store connection".into()));
        };
        let result = work(conn.as_mut());
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.conn = None;
        }
        result
    }
}

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

/// A pool of threads sharing one queue of jobs.
#[derive(Debug, Clone)]
pub(crate) struct Workers {
    jobs: crossbeam_channel::Sender<Job>,
}

impl Workers {
    /// Starts `threads` threads named `name`, each with a connection of its own.
    pub(crate) fn start(name: &str, threads: usize, connect: Connect) -> Result<Self, StoreError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let mut slot = Slot::new(connect.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    for job in queue {
                        job(&mut slot);
                    }
                })
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot start a store thread: {e}"))
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on one of the threads and waits for its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |slot| {
            // A caller that went away (its request was cancelled) needs no answer.
            let _ = done.send(slot.with(work));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("open", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

/// The store's threads are gone (the process is shutting down).
pub(crate) fn stopped() -> StoreError {
    StoreError::Unavailable("the store's threads stopped".into())
}

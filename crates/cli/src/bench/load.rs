//! The load both `bench push` and `bench store` put on their target: prepared items taken in
//! order by a number of workers until all are done or the time is up.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;

/// What one item came to: `Ok` (its latency is counted) or refused with a code (counted by
/// code). An `Err` of the outer result stops the load.
pub(super) type Outcome = anyhow::Result<Result<(), String>>;

/// What the load saw: each success's latency in microseconds, the refusals by code, and the
/// seconds it took.
pub(super) struct Load {
    pub(super) latencies: Vec<u64>,
    pub(super) errors: BTreeMap<String, u64>,
    pub(super) seconds: f64,
}

/// Runs `op(items, i)` for every item, `concurrency` at a time, until all are done or
/// `deadline` (none: until all are done); `each` is called after every item.
pub(super) async fn drive<T, F, Fut>(
    items: Arc<Vec<T>>,
    concurrency: usize,
    deadline: Option<Instant>,
    each: impl Fn() + Clone + Send + 'static,
    op: F,
) -> anyhow::Result<Load>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<Vec<T>>, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (items, next, errors, each, op) = (
                items.clone(),
                next.clone(),
                errors.clone(),
                each.clone(),
                op.clone(),
            );
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while deadline.is_none_or(|d| Instant::now() < d) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let t = Instant::now();
                    let outcome = op(items.clone(), i).await?;
                    let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                    match outcome {
                        Ok(()) => mine.push(us),
                        Err(code) => {
                            if let Ok(mut e) = errors.lock() {
                                *e.entry(code).or_default() += 1;
                            }
                        }
                    }
                    each();
                }
                anyhow::Ok(mine)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(items.len());
    for w in workers {
        latencies.extend(w.await.context("a load worker panicked")??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let errors = std::mem::take(
        &mut *errors
            .lock()
            .map_err(|_| anyhow::anyhow!("a load worker panicked"))?,
    );
    Ok(Load {
        latencies,
        errors,
        seconds,
    })
}

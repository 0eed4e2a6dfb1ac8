//! The SQLite checkpointer: copies the write-ahead log into the database beside the writer,
//! and keeps the log from growing without bound.
//!
//! A passive checkpoint never blocks the writer or a reader, but it only copies frames; the
//! log starts again from its beginning only when a writer begins a transaction after *every*
//! frame was copied and no reader still reads from the log (SQLite's `wal.html`, "Avoiding
//! Excessively Large WAL Files"; `walRestartLog` in `wal.c`). Under sustained load our one
//! writer begins its next batch as soon as the last one committed, so that moment never came:
//! the log grew by every page every batch wrote (2.4 GB in 15 s of `bench push`), each frame a
//! new page of the file for the kernel to allocate and zero, and the page cache held it all.
//!
//! So when the log is longer than [`Schedule::restart_frames`], the checkpointer catches up
//! passively, then holds the [`Gate`] (the writer holds it for each batch, so it waits for the
//! batch in flight and keeps the next one out) while it copies the few frames left. The
//! writer's next batch then writes from the start of the log, and `journal_size_limit`
//! (`sqlite.rs`) cuts a log that had grown past the limit back to it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::StoreError;
use crate::db::codec::params;
use crate::db::conn::Conn;
use crate::db::sqlite::SqliteConn;

/// Held by the writer for each batch, and by the checkpointer for the moment it needs no
/// frame to be added.
#[derive(Debug, Default)]
pub(crate) struct Gate(Mutex<()>);

impl Gate {
    /// Holds the gate until the guard drops. A holder that panicked left nothing to repair
    /// (the gate guards no data), so a poisoned gate is taken as it is.
    pub(crate) fn hold(&self) -> MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When the checkpointer runs and when it makes the log start again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Time between passive checkpoints.
    pub(crate) every: Duration,
    /// A log of at least this many frames (of one page each) is made to start again.
    pub(crate) restart_frames: i64,
}

impl Schedule {
    /// 100 ms between checkpoints; a restart at 65,536 frames (256 MiB of 4 KiB pages, the
    /// `journal_size_limit` the writer sets). The restart holds the writer for the last
    /// frames' copy and the database's sync (15 to 28 ms in `bench push`); at 16,384 frames
    /// it came four times as often and p99 was 10.8 to 11.7 ms against 9.6 to 10.9 ms
    /// (docs/perf-journal.md, 2026-12-07).
    pub(crate) const DEFAULT: Self = Self {
        every: Duration::from_millis(100),
        restart_frames: 65_536,
    };
}

/// Frames left uncopied below which the checkpointer takes the gate.
const CATCH_UP_FRAMES: i64 = 256;

/// Passive checkpoints made while catching up, before the gate is taken anyway.
const CATCH_UP_ROUNDS: usize = 4;

/// Passive checkpoints tried under the gate (a reader that began before the last commit can
/// still hold frames back for a few microseconds), and the pause between them.
const GATED_ROUNDS: usize = 8;
const GATED_PAUSE: Duration = Duration::from_micros(100);

/// Starts the checkpointer thread for the database at `path`; it runs for as long as `alive`
/// can be upgraded (the store holds the other end).
pub(crate) fn spawn(
    path: PathBuf,
    gate: Arc<Gate>,
    schedule: Schedule,
    alive: Weak<()>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("store-checkpointer".into())
        .spawn(move || {
            let mut conn = None;
            while alive.upgrade().is_some() {
                std::thread::sleep(schedule.every);
                if conn.is_none() {
                    conn = SqliteConn::open(&path, 1024).ok();
                }
                if let Some(c) = conn.as_mut()
                    && round(c, &gate, schedule).is_err()
                {
                    conn = None;
                }
            }
        })
        .map(|_| ())
}

/// Frames in the log and frames copied, after a passive checkpoint.
#[derive(Debug, Clone, Copy)]
struct Log {
    frames: i64,
    copied: i64,
}

impl Log {
    fn left(self) -> i64 {
        self.frames - self.copied
    }
}

/// A passive checkpoint; the pragma answers `(busy, log, checkpointed)` (SQLite's
/// `pragma.html#pragma_wal_checkpoint`).
fn passive(c: &mut SqliteConn) -> Result<Log, StoreError> {
    let row = c.query_one("PRAGMA wal_checkpoint(PASSIVE)", params![])?;
    Ok(Log {
        frames: row.get("log")?,
        copied: row.get("checkpointed")?,
    })
}

/// One round: a passive checkpoint, and if the log is long, the catch-up and the gated copy
/// of what is left, after which the writer's next batch starts the log again.
fn round(c: &mut SqliteConn, gate: &Gate, schedule: Schedule) -> Result<(), StoreError> {
    let mut log = passive(c)?;
    if log.frames < schedule.restart_frames {
        return Ok(());
    }
    for _ in 0..CATCH_UP_ROUNDS {
        if log.left() <= CATCH_UP_FRAMES {
            break;
        }
        log = passive(c)?;
    }
    let _held = gate.hold();
    for _ in 0..GATED_ROUNDS {
        if passive(c)?.left() == 0 {
            break;
        }
        std::thread::sleep(GATED_PAUSE);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::{Gate, Schedule, spawn};
    use crate::db::codec::params;
    use crate::db::conn::{Conn, transaction};
    use crate::db::sqlite::SqliteConn;

    const BATCHES: u64 = 3_000;
    const ROWS: u64 = 20;

    /// A key scattered over the index, as a card's or a device's is (splitmix64).
    fn scattered(i: u64) -> [u8; 8] {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).to_be_bytes()
    }

    /// The writer commits batch after batch while a reader reads all the time: the pattern
    /// under which a passive checkpoint alone never lets the log start again (the log then
    /// grows to about ten times the database: every batch writes every page it touched). The
    /// log must stay smaller than the database every page of which went through it; a restart
    /// a reader's snapshot held back only delays it to a later round.
    #[test]
    fn under_sustained_writes_and_reads_the_log_starts_again_and_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let mut writer = SqliteConn::open_writer(&path, 4096).unwrap();
        writer
            .batch("CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL) STRICT")
            .unwrap();
        let gate = Arc::new(Gate::default());
        let alive = Arc::new(());
        let schedule = Schedule {
            every: Duration::from_millis(5),
            restart_frames: 256,
        };
        spawn(path.clone(), gate.clone(), schedule, Arc::downgrade(&alive)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = SqliteConn::open(&path, 1024).unwrap();
                let mut reads = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    c.query_one(
                        "SELECT COUNT(*) AS n FROM t WHERE k = $1",
                        params![&scattered(reads)[..]],
                    )
                    .unwrap();
                    reads += 1;
                }
                reads
            })
        };
        let mut largest = 0;
        for b in 0..BATCHES {
            let held = gate.hold();
            transaction(&mut writer, |c| {
                for r in 0..ROWS {
                    c.execute(
                        "INSERT INTO t (k, v) VALUES ($1, $2)",
                        params![&scattered(b * ROWS + r)[..], &[7_u8; 400][..]],
                    )?;
                }
                Ok(())
            })
            .unwrap();
            drop(held);
            largest = largest.max(std::fs::metadata(&wal).unwrap().len());
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0, "the reader read");
        drop(alive);
        let database = std::fs::metadata(&path).unwrap().len();
        let n = writer
            .query_one("SELECT COUNT(*) AS n FROM t", params![])
            .unwrap()
            .get::<i64>("n")
            .unwrap();
        assert_eq!(n, i64::try_from(BATCHES * ROWS).unwrap());
        let check = writer
            .query_one("PRAGMA integrity_check", params![])
            .unwrap()
            .get::<String>("integrity_check")
            .unwrap();
        assert_eq!(check, "ok");
        assert!(
            database > 24 << 20 && largest < database,
            "log {largest} bytes at most, database {database} bytes"
        );
    }
}

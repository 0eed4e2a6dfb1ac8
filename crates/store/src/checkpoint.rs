//! SQLite's checkpoints beside the group-commit writer instead of on its path.
//!
//! In WAL mode every commit appends pages to the log, and a checkpoint copies them back into
//! the database file and syncs it (SQLite's wal.html, "Checkpointing"). Left to SQLite, the
//! connection whose commit takes the log past `wal_autocheckpoint` pages (1,000) runs the
//! checkpoint right after that commit. That was the single writer: about every 15th batch, the
//! requests waiting for the next one also waited for the copy and the sync of the database
//! file, 5 to 20 ms with 1M tokens (the copied pages are scattered over a large file). A writer
//! with no checkpoints at all (a build not kept: its log grows without bound) did 11 to 41 %
//! more pushes per second there, with p99 15 to 18 ms instead of 27 to 31.
//!
//! So a task with a connection of its own checkpoints once the log holds [`PASS_FRAMES`]
//! frames not yet copied, PASSIVE: it never blocks the writer, which keeps appending. A PASSIVE
//! checkpoint cannot copy the frames committed while it runs, and SQLite starts the log again
//! from its first frame only when a write transaction begins with every frame copied, which
//! under steady load never happens by itself. So once the log is [`RESTART_FRAMES`] long, the
//! writer copies the tail itself, between two batches, and its next transaction restarts the
//! log. That copy ends with a sync of the database file too (3 to 14 ms with 1M tokens however
//! short the tail), but once every 4 passes instead of every time.
//!
//! The connections' own automatic checkpoint stays as a safety net, at 8,000 pages (`sql.rs`),
//! for when this task falls behind or cannot read the wal-index header in the `-shm` file
//! (walformat.html, section 2.2.1), which it reads to know when to start. The header is only a
//! hint: a torn or unreadable one means no pass this time, never a wrong checkpoint.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::mpsc;

use crate::group_commit::own_connection;

/// Frames not yet copied that start a pass: SQLite's own default checkpoint size
/// (`wal_autocheckpoint` 1000), so pages written again and again (the ends of the tables and of
/// the ordered indexes) are copied no more often than before.
const PASS_FRAMES: u32 = 1000;
/// The log's length at which, after a pass, the writer copies the tail so the log restarts.
/// The tail's copy ends with a sync of the database file, a few milliseconds on the writer's
/// path however short the tail: once every 4 passes, not after each.
const RESTART_FRAMES: u32 = 4 * PASS_FRAMES;
/// A checkpoint that never waits for the writer or readers.
const PASSIVE: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// The writer's side: it says when it has committed, and copies the tail when asked. The task
/// ends when the writer has gone.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoints {
    committed: mpsc::Sender<()>,
    tail_due: Arc<AtomicBool>,
}

impl Checkpoints {
    /// Starts the checkpointing task for the database at `path`, on a connection of its own.
    pub(crate) fn start(pool: AnyPool, path: PathBuf) -> Self {
        let (committed, commits) = mpsc::channel(1);
        let tail_due = Arc::<AtomicBool>::default();
        tokio::spawn(run(pool, shm_path(path), commits, tail_due.clone()));
        Self {
            committed,
            tail_due,
        }
    }

    /// The writer committed a batch. (If the task has not seen the last one yet, it will look
    /// at the log once for both.)
    pub(crate) fn committed(&self) {
        let _ = self.committed.try_send(());
    }

    /// Copies the tail the passes left, if they asked for it; on the writer's connection,
    /// between two batches. Failing here is harmless (the next pass or the safety net copies it).
    pub(crate) async fn copy_tail(&self, conn: &mut AnyConnection) {
        if self.tail_due.swap(false, Ordering::AcqRel) {
            if let Err(e) = sqlx::Executor::execute(conn, PASSIVE).await {
                tracing::warn!(error = %e, "checkpoint of the log's tail failed");
            }
        }
    }
}

fn shm_path(mut db: PathBuf) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push("-shm");
    db.set_file_name(name);
    db
}

async fn run(
    pool: AnyPool,
    shm: PathBuf,
    mut commits: mpsc::Receiver<()>,
    tail_due: Arc<AtomicBool>,
) {
    let mut conn: Option<AnyConnection> = None;
    while commits.recv().await.is_some() {
        if wal_index(&shm).is_none_or(|w| w.uncopied() < PASS_FRAMES) {
            continue;
        }
        if let Err(e) = pass(&pool, &mut conn).await {
            tracing::warn!(error = %e, "checkpoint failed; the safety net will run instead");
            conn = None;
            continue;
        }
        if wal_index(&shm).is_some_and(|w| w.last_frame >= RESTART_FRAMES) {
            tail_due.store(true, Ordering::Release);
        }
    }
}

async fn pass(pool: &AnyPool, conn: &mut Option<AnyConnection>) -> Result<(), String> {
    let conn = own_connection(pool, None, conn)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::Executor::execute(conn, PASSIVE)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The wal-index header's frame counts.
#[derive(Debug, PartialEq)]
struct WalIndex {
    /// `mxFrame`: the log's last valid frame.
    last_frame: u32,
    /// `nBackfill`: the frames already copied into the database file.
    copied: u32,
}

impl WalIndex {
    fn uncopied(&self) -> u32 {
        self.last_frame.saturating_sub(self.copied)
    }
}

/// Reads the wal-index header: two copies of a 48-byte header (equal unless a writer is changing
/// it) with `mxFrame` at byte 16, then the checkpoint information with `nBackfill` at byte 96, in
/// the machine's byte order (walformat.html, section 2.2.1).
fn wal_index(shm: &std::path::Path) -> Option<WalIndex> {
    use std::io::Read;
    let mut head = [0u8; 100];
    std::fs::File::open(shm).ok()?.read_exact(&mut head).ok()?;
    parse_wal_index(&head)
}

fn parse_wal_index(head: &[u8; 100]) -> Option<WalIndex> {
    if head.get(..48)? != head.get(48..96)? {
        return None;
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(head.get(at..at + 4)?.try_into().ok()?))
    };
    Some(WalIndex {
        last_frame: word(16)?,
        copied: word(96)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(mx_frame: u32, n_backfill: u32, torn: bool) -> [u8; 100] {
        let mut head = [0u8; 100];
        for copy in [0, 48] {
            head[copy..copy + 4].copy_from_slice(&3_007_000u32.to_ne_bytes());
            head[copy + 16..copy + 20].copy_from_slice(&mx_frame.to_ne_bytes());
        }
        if torn {
            head[48 + 16] ^= 1;
        }
        head[96..100].copy_from_slice(&n_backfill.to_ne_bytes());
        head
    }

    #[test]
    fn the_header_gives_the_last_frame_and_the_copied_ones() {
        let w = parse_wal_index(&header(1500, 400, false)).unwrap();
        assert_eq!(
            w,
            WalIndex {
                last_frame: 1500,
                copied: 400
            }
        );
        assert_eq!(w.uncopied(), 1100);
        // nBackfill is never above mxFrame in a consistent file; if it were, nothing is due.
        assert_eq!(
            parse_wal_index(&header(10, 20, false)).unwrap().uncopied(),
            0
        );
    }

    #[test]
    fn a_torn_header_is_no_hint() {
        assert_eq!(parse_wal_index(&header(1500, 400, true)), None);
    }

    #[test]
    fn the_shm_file_sits_beside_the_database() {
        assert_eq!(
            shm_path(PathBuf::from("/var/lib/provisio/vault.db")),
            PathBuf::from("/var/lib/provisio/vault.db-shm")
        );
    }
}

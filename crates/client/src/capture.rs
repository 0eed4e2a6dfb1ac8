//! Opt-in recording of the HTTP bodies this crate's clients send and receive, for tests that
//! scan everything a run exposed (`crates/cli/tests/secret_scan.rs`, hardening issue 26).
//!
//! Inert until a program calls [`enable`]: `provisio demo` does when `PROVISIO_CAPTURE_DIR`
//! is set; `provisio serve` and other callers never do. When on, each body is written as is to
//! a file of its own, `requests/NNNNNN.body` or `responses/NNNNNN.body` in the directory, and
//! `index.txt` gets a line `NNNNNN request|response <status> <method> <url>` (the status is 0
//! for a request, the method `-` for a response). Bodies are written byte for byte, so a scan sees exactly what travelled.
//! The files hold whatever the bodies held, secrets included: the directory is a test's own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

static DIR: OnceLock<PathBuf> = OnceLock::new();
static SEQ: AtomicU64 = AtomicU64::new(0);
static INDEX: Mutex<()> = Mutex::new(());

/// Turns the capture on for the rest of the process, into `dir` (created if missing). A
/// second call keeps the first directory.
pub fn enable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("requests"))?;
    std::fs::create_dir_all(dir.join("responses"))?;
    let _ = DIR.set(dir.to_path_buf());
    Ok(())
}

/// Whether [`enable`] was called.
pub fn is_enabled() -> bool {
    DIR.get().is_some()
}

/// Records a request body sent to `url`.
pub fn request(method: &str, url: &str, body: &[u8]) {
    record("request", 0, method, url, body);
}

/// Records a response body received from `url` with `status`.
pub fn response(status: u16, url: &str, body: &[u8]) {
    record("response", status, "-", url, body);
}

/// Best effort: a capture that cannot be written leaves fewer files, which the scanning test
/// notices (it refuses an empty or incomplete capture); the call being captured goes on.
fn record(kind: &str, status: u16, method: &str, url: &str, body: &[u8]) {
    let Some(dir) = DIR.get() else {
        return;
    };
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let _ = std::fs::write(dir.join(format!("{kind}s/{n:06}.body")), body);
    let _guard = INDEX.lock();
    if let Ok(mut index) = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("index.txt"))
    {
        let _ = writeln!(index, "{n:06} {kind} {status} {method} {url}");
    }
}

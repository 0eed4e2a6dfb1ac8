//! The database a test runs on.
//!
//! Tests run on SQLite. With `PROVISIO_TEST_POSTGRES_URL` set (a PostgreSQL server and a
//! database the user may create databases from), they run on a fresh PostgreSQL database each
//! instead; an unreachable server is then a failure, not a skip.

use std::path::Path;

/// The variable that turns the PostgreSQL runs on.
pub const POSTGRES_ENV: &str = "PROVISIO_TEST_POSTGRES_URL";

/// Says how to enable the PostgreSQL runs, once per test binary. Written to the process's
/// standard error directly, so the test harness's capture does not hide it.
fn note_postgres_skipped() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL runs skipped; set {POSTGRES_ENV}=postgres://user@host:port/db (a user that may CREATE DATABASE) to run them"
        );
    });
}

/// A fresh, empty database on the PostgreSQL server [`POSTGRES_ENV`] names, or `None` when it
/// is not set.
///
/// # Panics
/// When the variable is set but the server cannot be reached or refuses: the run must fail.
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
        note_postgres_skipped();
        return None;
    };
    let mut name = [0u8; 8];
    getrandom(&mut name);
    let db = format!("provisio_t_{}", hex::encode(name));
    if let Err(e) = crate::raw::execute(&admin_url, &format!("CREATE DATABASE {db}")) {
        panic!("{POSTGRES_ENV} is set but a test database cannot be created there: {e}");
    }
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Some(format!("{base}/{db}"))
}

/// The database URL a test store opens: a fresh PostgreSQL database when [`POSTGRES_ENV`] is
/// set, else a SQLite file `name` in `dir`.
pub async fn store_url(dir: &Path, name: &str) -> String {
    match fresh_postgres_url().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.join(name).display()),
    }
}

fn getrandom(buf: &mut [u8]) {
    use provisio_crypto::CryptoProvider;
    provisio_crypto::AwsLcProvider::new()
        .fill_random(buf)
        .unwrap_or_else(|e| panic!("no randomness: {e}"));
}

//! Test support shared by Provisio's test suites. Only ever a dev-dependency: nothing here is
//! part of a production crate's API.
//!
//! - [`postgres`]: the database a test runs on (SQLite by default, a fresh PostgreSQL
//!   database when `PROVISIO_TEST_POSTGRES_URL` is set).
//! - [`python`]: the independent implementations the interop tests check against (Python
//!   `jwcrypto` and `cryptography`), installed on first use into a virtual environment under
//!   `target/`, so `cargo test --workspace` needs only `python3` on the machine.
//! - [`raw`]: plain SQL on a test's database, to look at what is at rest.
//! - [`free_port`]: a loopback port for a server a test starts as a process.

// Test support fails the test run loudly.
#![allow(clippy::panic, clippy::expect_used)]

pub mod postgres;
pub mod python;
pub mod raw;

/// A loopback TCP port free at the time of the call, for a child process to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

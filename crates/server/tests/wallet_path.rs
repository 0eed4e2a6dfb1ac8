//! Wallet-initiated provisioning (docs/protocol.md §17.2) and the issuer's decisioning
//! (§17.3), through HTTP, on SQLite and (with `PROVISIO_TEST_POSTGRES_URL`) PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

/// The tests, one file each in `wallet_path/`.
mod wallet_path {
    mod activation;
    mod decisioning;
    mod requests;
    mod support;
}

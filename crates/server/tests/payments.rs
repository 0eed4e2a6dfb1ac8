//! Paying with the token (docs/protocol.md §16), through HTTP on the configured store: a
//! network registers, de-tokenises approved payments, and is declined with the contract's
//! reasons; each (token, ATC) approved once, also under concurrency and across instances.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

/// The tests, one file each in `payments/`.
mod payments {
    mod support;

    mod authorize;
    mod concurrency;
    mod registration;
}

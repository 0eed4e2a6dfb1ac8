//! The token's life (docs/protocol.md §15) over the real router and store: reading and
//! searching tokens as each participant, the state machine and its refusals, concurrent
//! changes, "already in wallet", card-level changes and reissue, signed events to a real
//! HTTP receiver with retries and dead letters, the sweep of pending tokens, and the
//! notification settings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

/// The tests, one file each in `token_life/`.
mod token_life {
    mod support;

    mod cards;
    mod changes;
    mod events;
    mod reads;
    mod settings;
}

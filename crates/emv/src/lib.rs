//! EMV payment cryptograms as the token service's wire contract fixes them (docs/protocol.md
//! §16.1): the session key of EMV Book 2 A1.3.1 (common session key derivation with AES), the
//! transaction data `D`, and the ARQC, the first 8 bytes of AES-CMAC (RFC 4493) over `D`.
//!
//! The device (the wallet core without a secure element, the payment applet with one) and the
//! verifier (the token service at authorisation time) call the same functions, so the two can
//! only disagree on their inputs.

mod cryptogram;
mod transaction;

pub use cryptogram::{Arqc, arqc, session_key, verify};
pub use transaction::{Atc, Transaction, TransactionError};

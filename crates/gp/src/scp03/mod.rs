//! SCP03, the AES secure channel protocol of GlobalPlatform Card Specification Amendment D
//! (v1.1.2), in S8 mode with the pseudo-random card challenge.
//!
//! ```text
//!  host (TSM)                                              card (security domain)
//!  HostHandshake ── INITIALIZE UPDATE (KVN, host challenge) ──► counter += 1
//!                ◄─ div data, KVN 03 i, card challenge, card cryptogram, counter ─ CardHandshake
//!  check card cryptogram, derive S-ENC, S-MAC, S-RMAC
//!                ── EXTERNAL AUTHENTICATE (level, host cryptogram, C-MAC) ──► check
//!  HostChannel  ◄──────────── wrapped commands and responses ─────────────►  CardChannel
//! ```
//!
//! Both halves are sans-IO: they take and return APDUs. Key material lives in
//! [`provisio_crypto::AesKey`] (zeroized on drop, redacted in `Debug`); MACs and cryptograms
//! are compared in constant time.

mod card;
mod channel;
mod host;
mod init_update;
pub mod kdf;
mod keys;
mod level;

pub use card::{CARD_I, CardChannel, CardHandshake, MAX_COUNTER};
pub use channel::{CLA_SECURE_MESSAGING, MAC_LEN, pad, unpad};
pub use host::{Derivation, HostChannel, HostHandshake, INS_EXTERNAL_AUTHENTICATE};
pub use init_update::{
    INS_INITIALIZE_UPDATE, InitUpdateResponse, i_param, parse_command as parse_initialize_update,
};
pub use keys::{SessionKeys, StaticKeys};
pub use level::SecurityLevel;

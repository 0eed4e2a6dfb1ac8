//! Domain newtypes for Provisio.
//!
//! Every value that arrives from a peer is parsed once into one of these types, at the edge, and
//! is valid from then on ("parse, don't validate"). Types that hold cardholder data (`Pan`,
//! `TokenPan`) mask themselves in `Debug`, have no `Display`, and zeroize on drop, so they cannot
//! reach a log line by accident (PCI DSS 4.0 requirements 3.4 and 10).

mod code;
mod expiry;
mod ids;
mod luhn;
mod pan;
mod text;

pub use code::{Code, Fault, Refusal};
pub use expiry::{Expiry, ExpiryError};
pub use ids::{
    DeviceId, IdError, IssuerId, NetworkId, SessionId, TokenRefId, TokenRequestorId, WalletUserId,
};
pub use luhn::{luhn_check_digit, luhn_valid};
pub use pan::{Pan, PanError, TokenPan};
pub use text::is_plain_text;

/// A point in time as whole seconds since the Unix epoch (docs/protocol.md §1).
pub type UnixSeconds = i64;

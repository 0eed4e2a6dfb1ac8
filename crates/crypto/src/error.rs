//! The crypto crate's error type.

/// What went wrong in a cryptographic operation.
///
/// Deliberately coarse: an authentication failure never says which check failed, so that a
/// peer learns nothing from the error it provokes (RFC 7516 section 11.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The peer's input is not a valid key (off the curve, wrong length, wrong encoding).
    #[error("invalid key")]
    InvalidKey,
    /// A signature, MAC or authentication tag did not verify, or an unwrap failed its
    /// integrity check.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The caller passed a key or buffer of the wrong size.
    #[error("invalid length")]
    InvalidLength,
    /// The underlying library failed (out of entropy, internal error).
    #[error("cryptographic library failure")]
    Internal,
}

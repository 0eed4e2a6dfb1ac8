//! The JOSE crate's error type.

/// Why a JOSE object was refused. Variants are grouped by whose fault it is; none of them
/// carries payload or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    // The peer sent something malformed or forbidden.
    /// Not the compact serialization, bad base64url, bad JSON, or a missing member.
    #[error("malformed JOSE object: {0}")]
    Malformed(&'static str),
    /// An algorithm, encryption or header member outside the accepted policy.
    #[error("header refused by policy: {0}")]
    Policy(&'static str),
    /// The `kid` names no key we hold.
    #[error("unknown key id")]
    UnknownKey,
    /// A key in the object (an `epk`) or a JWK is not a valid P-256 public key.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// Key unwrap or content decryption failed its integrity check.
    #[error("decryption failed")]
    Decryption,
    /// The JWS signature does not verify.
    #[error("signature does not verify")]
    Signature,
    // Our side failed.
    /// The crypto provider failed.
    #[error("cryptographic provider failure")]
    Internal,
}

impl From<provisio_crypto::CryptoError> for JoseError {
    fn from(e: provisio_crypto::CryptoError) -> Self {
        use provisio_crypto::CryptoError as C;
        match e {
            C::InvalidKey => Self::InvalidKey("not a P-256 point"),
            C::AuthenticationFailed => Self::Decryption,
            _ => Self::Internal,
        }
    }
}

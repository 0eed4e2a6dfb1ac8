//! Why a push provisioning request was refused.

/// A refusal, with the stable code of PROTOCOL.md section 4.
///
/// Grouped by whose fault it is. `detail` strings never contain PAN, keys or payload data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    // The caller (the wallet or the issuer app behind it) sent something we refuse.
    /// The JWE is malformed, names an unknown key, or does not decrypt.
    #[error("the encrypted payload cannot be decrypted")]
    PayloadUndecryptable,
    /// The inner JWS is malformed or does not verify under the issuer's registered key.
    #[error("the request data signature is invalid")]
    SignatureInvalid,
    /// `iss` names no registered issuer.
    #[error("the request data names an unknown issuer")]
    UnknownIssuer,
    /// `aud` is not this token service.
    #[error("the request data is addressed to another token service")]
    AudienceMismatch,
    /// An inner binding differs from the outer request or the caller.
    #[error("the request data is bound to a different {0}")]
    BindingMismatch(&'static str),
    /// `iat` is outside the freshness window.
    #[error("the request data timestamp is outside the accepted window")]
    StaleTimestamp,
    /// The session id or `jti` was used before.
    #[error("the {0} was already used")]
    Replayed(&'static str),
    /// The PAN or the expiry is not acceptable.
    #[error("the account data is invalid: {0}")]
    InvalidAccount(&'static str),
    /// The body or the signed claims are not the documented JSON.
    #[error("malformed request: {0}")]
    Malformed(String),
    // Our side.
    /// The configuration is not usable.
    #[error("configuration error: {0}")]
    Config(&'static str),
    /// A cryptographic operation of ours failed.
    #[error("internal cryptographic failure")]
    Internal,
}

impl PushError {
    /// The stable machine-readable code (PROTOCOL.md section 4).
    pub fn code(&self) -> &'static str {
        match self {
            Self::PayloadUndecryptable => "payload_undecryptable",
            Self::SignatureInvalid => "signature_invalid",
            Self::UnknownIssuer => "unknown_issuer",
            Self::AudienceMismatch => "audience_mismatch",
            Self::BindingMismatch(_) => "binding_mismatch",
            Self::StaleTimestamp => "stale_timestamp",
            Self::Replayed(_) => "replayed_request",
            Self::InvalidAccount(_) => "invalid_account",
            Self::Malformed(_) => "malformed_request",
            Self::Config(_) | Self::Internal => "internal_error",
        }
    }

    /// The HTTP status PROTOCOL.md section 4 assigns.
    pub fn status(&self) -> u16 {
        match self {
            Self::Replayed(_) => 409,
            Self::Config(_) | Self::Internal => 500,
            _ => 400,
        }
    }
}

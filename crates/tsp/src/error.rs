//! Why a push provisioning request was refused.

use provisio_types::{Code, Fault, Refusal};

/// A refusal, with the stable code of docs/protocol.md §4.
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
    /// A hosted wallet's user has no `ACTIVE` account on this device (the text says why).
    #[error("the wallet user's account {0}; activate it before provisioning")]
    AccountNotActive(String),
    /// A hosted wallet's push names another binding key than the account's device has.
    #[error(
        "device.binding_jwk is not the binding key registered with the wallet account's device"
    )]
    DeviceKeyMismatch,
    /// The device already holds a live token of this card for this wallet.
    #[error("the device already holds a live token of this card for this wallet: {token_ref_id}")]
    AlreadyInWallet {
        /// The existing token.
        token_ref_id: String,
    },
    // Our side.
    /// The configuration is not usable.
    #[error("configuration error: {0}")]
    Config(&'static str),
    /// A cryptographic operation of ours failed.
    #[error("internal cryptographic failure")]
    Internal,
}

impl Refusal for PushError {
    fn code(&self) -> Code {
        match self {
            Self::PayloadUndecryptable => Code::PayloadUndecryptable,
            Self::SignatureInvalid => Code::SignatureInvalid,
            Self::UnknownIssuer => Code::UnknownIssuer,
            Self::AudienceMismatch => Code::AudienceMismatch,
            Self::BindingMismatch(_) => Code::BindingMismatch,
            Self::StaleTimestamp => Code::StaleTimestamp,
            Self::Replayed(_) => Code::ReplayedRequest,
            Self::InvalidAccount(_) => Code::InvalidAccount,
            Self::Malformed(_) => Code::MalformedRequest,
            Self::AccountNotActive(_) => Code::AccountNotActive,
            Self::DeviceKeyMismatch => Code::DeviceKeyMismatch,
            Self::AlreadyInWallet { .. } => Code::AlreadyInWallet,
            Self::Config(_) | Self::Internal => Code::InternalError,
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Config(_) => Fault::Caller,
            Self::Internal => Fault::Internal,
            _ => Fault::Peer,
        }
    }

    fn token_ref_id(&self) -> Option<&str> {
        match self {
            Self::AlreadyInWallet { token_ref_id } => Some(token_ref_id),
            _ => None,
        }
    }
}

//! The app cores' error type.

/// What went wrong in an app core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The token service's JWKS has no usable encryption key.
    #[error("the token service publishes no ECDH-ES+A256KW encryption key")]
    NoTspEncryptionKey,
    /// The access data did not decrypt with this device's binding key, or is not the
    /// documented JSON.
    #[error("the access data cannot be opened on this device")]
    AccessData,
    /// The script cannot run on this wallet (version or target).
    #[error("the installation script cannot run here: {0}")]
    Script(&'static str),
    /// The wallet module manifest was refused (tampered, untrusted, downgrade, SDK too old).
    #[error("wallet module refused: {0}")]
    Module(#[from] provisio_accounts::ManifestError),
    /// No verified wallet module is installed yet.
    #[error("install the wallet module (GET /v1/wallet-module) first")]
    ModuleNotInstalled,
    /// A TSM sent the OTA client something it cannot relay.
    #[error("OTA relay: {0}")]
    Ota(&'static str),
    /// No installed card has this token reference id (the caller's mistake).
    #[error("no card in this wallet has this token_ref_id")]
    UnknownCard,
    /// The card has no cryptogram key: its script's `STORE_KEYS` step did not run.
    #[error("the card has no cryptogram key")]
    NoCryptogramKey,
    /// The card made a cryptogram with ATC `FFFF`, the last one: it must be provisioned again.
    #[error("the card's transaction counter is exhausted; provision the token again")]
    AtcExhausted,
    /// The caller's `persist` port did not store the payment state, so no cryptogram was
    /// released; the ATC stays spent.
    #[error("the payment state was not stored: {0}")]
    PaymentStateNotStored(String),
    /// A cryptographic operation failed.
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] provisio_jose::JoseError),
}

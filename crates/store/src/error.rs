//! The store's error type.

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// The push session id was accepted before.
    SessionId,
    /// The issuer's `jti` (or, wallet-initiated, the token requestor's) was accepted before.
    Jti,
    /// The issuer-app activation data's nonce was accepted before.
    ActivationNonce,
    /// The minted token PAN exists (mint again).
    TokenPan,
    /// The device already holds a live token of this card for this token requestor.
    LiveToken,
    /// The token changed since it was read (its sequence moved on).
    TokenVersion,
    /// The idempotency key was used by a concurrent request.
    IdempotencyKey,
    /// The issuer id is registered.
    IssuerId,
    /// A card range prefix belongs to another issuer.
    BinRange,
    /// The token requestor id is registered.
    TokenRequestorId,
    /// The network id is registered.
    NetworkId,
    /// The step-up changed since it was read (optimistic concurrency).
    StepUpVersion,
    /// The script was completed already.
    ScriptCompleted,
    /// The wallet user has an account that is not expired.
    WalletAccount,
    /// The account changed since it was read (optimistic concurrency).
    AccountVersion,
    /// A question drawn for an account was asked of it before.
    QuestionRepeated,
    /// Another constraint.
    Other,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule refused the write; nothing was written.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A referenced row does not exist (e.g. an unknown issuer in a provisioning).
    #[error("a referenced record does not exist")]
    MissingReference,
    /// The database aborted the write to resolve contention with a concurrent one (a
    /// deadlock); nothing was written, and it may be tried again.
    #[error("the database aborted the write to resolve contention: {0}")]
    Contended(String),
    /// The database could not be reached or failed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database's schema is newer than this binary: an old binary must not write into a
    /// schema it does not understand.
    #[error(
        "the database schema is version {found}, newer than this binary's {known}; upgrade provisio"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// This binary's.
        known: i64,
    },
    /// Stored data is not what this version expects (or the schema is newer than this
    /// binary).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

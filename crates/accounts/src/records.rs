//! What the store keeps of hosted accounts, as this core writes and reads it: every secret in
//! it sealed (the `sealed` bytes come from [`crate::AtRest`]), every fact of an enrolment as a
//! keyed hash (docs/protocol.md §9.1).

use provisio_crypto::{CryptoError, CryptoProvider};
use provisio_types::UnixSeconds;

use crate::SecurityLevel;
use crate::wire::SourceKind;

/// A new account, as created in `PENDING_ACTIVATION`.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Id.
    pub account_id: String,
    /// The wallet provider.
    pub token_requestor_id: String,
    /// Its user.
    pub wallet_user_id: String,
    /// The card issuer.
    pub issuer_id: String,
    /// The issuer's customer reference.
    pub customer_ref: String,
    /// The device.
    pub device_id: String,
    /// Its model.
    pub device_model: String,
    /// Its operating system.
    pub device_os: String,
    /// Its secure element.
    pub secure_element_id: Option<String>,
    /// Its binding key, public JWK JSON.
    pub binding_jwk: String,
    /// Name, phone and e-mail, sealed.
    pub user_sealed: Vec<u8>,
    /// The level.
    pub security_level: SecurityLevel,
    /// Its points.
    pub level_score: u32,
    /// The rules that fired, JSON array.
    pub level_reasons: String,
    /// The question source at creation.
    pub kba_source: SourceKind,
    /// Unix seconds.
    pub created_at: UnixSeconds,
    /// When it expires if still pending.
    pub expires_at: UnixSeconds,
}

/// What the issuer has on file for a customer, as keyed hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRecord {
    /// The issuer.
    pub issuer_id: String,
    /// Its customer reference.
    pub customer_ref: String,
    /// Keyed hash of the normalised name.
    pub name_hash: [u8; 32],
    /// Keyed hash of the normalised phone.
    pub phone_hash: [u8; 32],
    /// Keyed hash of the normalised e-mail.
    pub email_hash: [u8; 32],
    /// When the customer joined.
    pub customer_since: Option<UnixSeconds>,
    /// When the issuer loaded it.
    pub loaded_at: UnixSeconds,
}

/// A sealed question with the keyed hash of its right option: in the bank, or drawn for an
/// account's attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionRecord {
    /// Id.
    pub question_id: String,
    /// The question, sealed.
    pub sealed: Vec<u8>,
    /// Keyed hash of the right option (bank questions); `None` when an HTTP source checks.
    pub answer_mac: Option<[u8; 32]>,
}

/// An issuer's question source (docs/protocol.md §2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbaSourceRecord {
    /// Kind.
    pub kind: SourceKind,
    /// Base URL of an HTTP source.
    pub url: Option<String>,
    /// The bearer credential for it, sealed.
    pub credential: Option<Vec<u8>>,
}

/// A new record's id: `prefix` and 128 random bits, base64url.
pub(crate) fn random_id(crypto: &dyn CryptoProvider, prefix: &str) -> Result<String, CryptoError> {
    let mut bytes = [0u8; 16];
    crypto.fill_random(&mut bytes)?;
    Ok(format!("{prefix}{}", provisio_jose::b64_encode(&bytes)))
}

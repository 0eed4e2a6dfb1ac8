//! Rows of hosted wallet accounts and knowledge-based verification.

use provisio_accounts::wire::SourceKind;
use provisio_accounts::{AccountProgress, AccountState, SecurityLevel};
use provisio_tsp::Sealed;

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
    pub user_sealed: Sealed,
    /// The level.
    pub security_level: SecurityLevel,
    /// Its points.
    pub level_score: u32,
    /// The rules that fired, JSON array.
    pub level_reasons: String,
    /// The question source at creation.
    pub kba_source: SourceKind,
    /// Unix seconds.
    pub created_at: i64,
    /// When it expires if still pending.
    pub expires_at: i64,
}

/// A stored account with its verification progress.
#[derive(Debug, Clone)]
pub struct AccountRecord {
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
    /// Name, phone and e-mail, sealed.
    pub user_sealed: Sealed,
    /// The question source.
    pub kba_source: SourceKind,
    /// Unix seconds.
    pub created_at: i64,
    /// When it became active.
    pub activated_at: Option<i64>,
    /// State, level, attempts and the open attempt.
    pub progress: AccountProgress,
}

/// What push provisioning needs to know about a wallet user's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGate {
    /// State.
    pub state: AccountState,
    /// The device it lives on.
    pub device_id: String,
    /// When it expires if still pending.
    pub expires_at: i64,
    /// The binding key registered with the account's device, public JWK JSON.
    pub binding_jwk: String,
}

/// Who a new account is for, to look up the security level's facts.
#[derive(Debug, Clone)]
pub struct AccountFactsQuery {
    /// The wallet provider.
    pub token_requestor_id: String,
    /// Its user.
    pub wallet_user_id: String,
    /// The device.
    pub device_id: String,
    /// The issuer.
    pub issuer_id: String,
    /// The issuer's customer reference.
    pub customer_ref: String,
}

/// The stored facts for a new account's security level.
#[derive(Debug, Clone, Default)]
pub struct AccountFacts {
    /// The device is on the block list.
    pub device_blocklisted: bool,
    /// Other wallet users with live accounts on the device.
    pub other_users_on_device: u32,
    /// Locked accounts of this wallet user or issuer customer.
    pub prior_locked_accounts: u32,
    /// The issuer's enrolment of the customer.
    pub enrolment: Option<EnrolmentRecord>,
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
    pub customer_since: Option<i64>,
    /// When the issuer loaded it.
    pub loaded_at: i64,
}

/// A sealed question with the keyed hash of its right option, from the bank or as drawn for
/// an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionRecord {
    /// Id.
    pub question_id: String,
    /// The question, sealed.
    pub sealed: Vec<u8>,
    /// Keyed hash of the right option; `None` for questions an HTTP source checks.
    pub answer_mac: Option<[u8; 32]>,
}

/// An issuer's question source.
#[derive(Debug, Clone)]
pub struct KbaSourceRecord {
    /// Kind.
    pub kind: SourceKind,
    /// Base URL of an HTTP source.
    pub url: Option<String>,
    /// The bearer credential for it, sealed.
    pub credential: Option<Sealed>,
}

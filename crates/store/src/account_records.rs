//! Rows of hosted wallet accounts and knowledge-based verification. The records the accounts
//! core writes and reads are its own types (`provisio_accounts`); here are what the store
//! answers besides.

use provisio_accounts::{AccountState, CreationFacts};

pub use provisio_accounts::{
    AccountRecord, EnrolmentRecord, KbaSourceRecord, NewAccount, QuestionRecord,
};

use crate::IdempotencyRecord;

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

/// What one account creation reads before its core runs (docs/architecture.md §4).
#[derive(Debug, Clone)]
pub struct AccountFactsQuery {
    /// The caller and its `Idempotency-Key`, when it sent one.
    pub idempotency: Option<(String, String)>,
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

/// What [`AccountFactsQuery`] found.
#[derive(Debug, Clone)]
pub struct AccountFacts {
    /// The stored answer for the idempotency key.
    pub idempotency: Option<IdempotencyRecord>,
    /// The issuer, its question source, the device, the user's and customer's history and
    /// the customer's enrolment.
    pub new_account: CreationFacts,
}

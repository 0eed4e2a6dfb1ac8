//! What the push flow asks the store to commit. The store persists these as they are; every
//! secret in them is already sealed.

use crate::script_format::Script;
use crate::stepup::MethodRecord;
use crate::wire::Decision;
use crate::{Sealed, TsmHandoff};

pub use crate::lifecycle::TokenStatus;

/// How a provisioning request came in (docs/protocol.md §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Pushed by the issuer's app (§3): its session id and `(issuer_id, jti)` are unique.
    Push,
    /// Entered in the wallet (§17.2): its `jti` is unique per token requestor. It has no push
    /// session, so the store keeps its provisioning id where a push keeps its session id and
    /// `jti`.
    Wallet,
}

impl Origin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "PUSH",
            Self::Wallet => "WALLET",
        }
    }
}

/// One processed provisioning request. A push's `session_id` and `(issuer_id, jti)`, and a
/// wallet-initiated request's `(token_requestor_id, jti)`, are unique in the store:
/// committing a second one is the replay the protocol forbids.
#[derive(Debug, Clone)]
pub struct NewProvisioning {
    /// Our id.
    pub provisioning_id: String,
    /// How it came in.
    pub origin: Origin,
    /// `sid`, unique forever (wallet-initiated: the provisioning id).
    pub session_id: String,
    /// `iss`, or the issuer of the card's range.
    pub issuer_id: String,
    /// `jti`: the issuer's, unique per issuer forever; or the wallet's, unique per token
    /// requestor forever.
    pub jti: String,
    /// The caller.
    pub token_requestor_id: String,
    /// `uid`.
    pub wallet_user_id: String,
    /// `did`.
    pub device_id: String,
    /// The outcome.
    pub decision: Decision,
    /// The risk decision as recorded (both levels, the final one, the merge rule, every fired
    /// rule, the policy version), JSON.
    pub risk_json: String,
    /// Keyed hash of the funding PAN (velocity and list signals).
    pub pan_hash: [u8; 32],
    /// Unix seconds.
    pub created_at: i64,
    /// The token, unless declined.
    pub token: Option<NewToken>,
    /// The offered step-up methods, when step-up is required.
    pub step_up: Option<Vec<MethodRecord>>,
    /// The installation script, when approved.
    pub script: Option<Script>,
    /// The job for the issuer's TSM, when approved for a secure element.
    pub handoff: Option<TsmHandoff>,
}

/// A minted token. The token PAN is unique in the store by its lookup hash.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// EMVCo token reference id.
    pub token_ref_id: String,
    /// Keyed hash of the token PAN (lookups, uniqueness).
    pub token_pan_hash: [u8; 32],
    /// The token PAN, sealed.
    pub token_pan: Sealed,
    /// Keyed hash of the funding PAN.
    pub pan_hash: [u8; 32],
    /// The funding PAN, sealed.
    pub pan: Sealed,
    /// Last four digits of the token PAN.
    pub token_last4: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// Status.
    pub status: TokenStatus,
    /// The device it is bound to.
    pub device_id: String,
    /// The device binding key (public JWK JSON).
    pub binding_jwk: String,
    /// The device-bound cryptogram key, sealed.
    pub cryptogram_key: Sealed,
    /// The device's secure element, if the credential goes there.
    pub secure_element_id: Option<String>,
    /// The funding account's reference (docs/protocol.md §15.1).
    pub account_ref: String,
    /// The funding card's expiry month.
    pub card_exp_month: u8,
    /// The funding card's expiry year.
    pub card_exp_year: u16,
    /// The `TOKEN_CREATED` events (sequence 1), one per party with a notification URL.
    pub events: Vec<crate::token_records::EventRow>,
}

//! Rows the store reads and writes besides the token service core's records.

use provisio_tsp::Sealed;
use provisio_tsp::records::TokenStatus;

/// The role an API key grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Registers participants.
    Admin,
    /// A card issuer (its app backend).
    Issuer,
    /// A wallet provider.
    TokenRequestor,
    /// A payment network (or a processor's authorisation switch).
    Network,
}

impl Role {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Issuer => "issuer",
            Self::TokenRequestor => "token_requestor",
            Self::Network => "network",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Admin,
            Self::Issuer,
            Self::TokenRequestor,
            Self::Network,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// The holder of an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its role.
    pub role: Role,
    /// Its id (issuer id, token requestor id, or `admin`).
    pub id: String,
    /// A token requestor whose wallet accounts Provisio hosts (`wallet_accounts: hosted`).
    pub hosted_accounts: bool,
}

/// A registered issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRecord {
    /// Id (`iss`).
    pub issuer_id: String,
    /// Display name.
    pub name: String,
    /// The `kid` of its signing key.
    pub signing_kid: String,
    /// Its signing key, public JWK JSON.
    pub signing_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Where its token events are posted.
    pub notification_url: Option<String>,
    /// Its pushes still step up in the step-up band (it opted out of the trusted push).
    pub push_step_up: bool,
    /// Its card ranges (6 to 11 digit prefixes).
    pub bin_ranges: Vec<String>,
    /// Its decisioning endpoint and the key card data is sealed to, if it registered one.
    pub decisioning: Option<Decisioning>,
}

/// Where an issuer decides on cards entered in a wallet (docs/protocol.md §17.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisioning {
    /// The endpoint (https, or http to a loopback address).
    pub url: String,
    /// The EC P-256 public JWK (with `kid`) the card data is sealed to, as JSON.
    pub encryption_jwk: String,
}

/// A registered wallet provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequestorRecord {
    /// 11 digits.
    pub token_requestor_id: String,
    /// Display name.
    pub name: String,
    /// `external` or `hosted`.
    pub wallet_accounts: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Where its token events are posted.
    pub notification_url: Option<String>,
}

/// A registered payment network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRecord {
    /// Its id.
    pub network_id: String,
    /// Display name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// The first answer to a POST with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Caller id.
    pub principal: String,
    /// The header value.
    pub key: String,
    /// SHA-256 of method, path and body.
    pub request_hash: [u8; 32],
    /// HTTP status of the answer.
    pub status: u16,
    /// Body of the answer.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A stored token (secrets still sealed).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Reference id.
    pub token_ref_id: String,
    /// The provisioning that made it.
    pub provisioning_id: String,
    /// The card's issuer.
    pub issuer_id: String,
    /// Sealed token PAN.
    pub token_pan: Sealed,
    /// Sealed funding PAN.
    pub pan: Sealed,
    /// Last four of the token PAN.
    pub token_last4: String,
    /// Status.
    pub status: TokenStatus,
    /// The device it is bound to.
    pub device_id: String,
    /// Sealed device-bound cryptogram key.
    pub cryptogram_key: Sealed,
    /// The device binding key, public JWK JSON.
    pub binding_jwk: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// The device's secure element, if the credential goes there.
    pub secure_element_id: Option<String>,
    /// When the completion report made it payment-ready.
    pub installed_at: Option<i64>,
    /// The token's requestor.
    pub token_requestor_id: String,
    /// The funding account's reference.
    pub account_ref: String,
    /// Its changes so far.
    pub event_seq: u64,
    /// Whether the issuer has a notification URL.
    pub issuer_notified: bool,
    /// Whether the token requestor has a notification URL.
    pub token_requestor_notified: bool,
}

/// What the risk signals are counted for.
#[derive(Debug, Clone)]
pub struct SignalQuery {
    /// Keyed hash of the funding PAN.
    pub pan_hash: [u8; 32],
    /// The PAN's first 8 digits (BIN lists match prefixes of it).
    pub bin8: String,
    /// The device.
    pub device_id: String,
    /// The wallet provider.
    pub token_requestor_id: String,
    /// The wallet user.
    pub wallet_user_id: String,
    /// Unix seconds the windows end at.
    pub now: i64,
}

/// An allow or block list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListName {
    /// Lowers risk.
    Allow,
    /// Raises risk to the block rule's floor.
    Block,
}

/// What a list entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// A device id.
    Device,
    /// A PAN, by the hex of its keyed hash.
    Pan,
    /// A BIN prefix (6 to 8 digits).
    Bin,
}

impl ListName {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
        }
    }
}

impl ListKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Pan => "pan",
            Self::Bin => "bin",
        }
    }
}

/// A provisioning's owner and installation state, for the script report.
#[derive(Debug, Clone)]
pub struct ScriptRecord {
    /// The script as sent, JSON.
    pub body: String,
    /// The provisioning's wallet provider.
    pub token_requestor_id: String,
    /// Its wallet user.
    pub wallet_user_id: String,
    /// Its device.
    pub device_id: String,
    /// The token.
    pub token_ref_id: String,
    /// When the report completed it.
    pub completed_at: Option<i64>,
    /// For a secure-element script: the keyed hash of the token its TSM reports with.
    pub report_token_hash: Option<Vec<u8>>,
    /// Why the TSM could not install it, if it failed.
    pub failure: Option<String>,
}

/// An issuer's TSM, as the token service reaches it.
#[derive(Debug, Clone)]
pub struct SpTsmRecord {
    /// The issuer.
    pub issuer_id: String,
    /// The SP-TSM's base URL.
    pub url: String,
    /// The token service's caller key there, sealed.
    pub api_key: Sealed,
    /// The SP-TSM's public key (JWK JSON).
    pub encryption_jwk: String,
    /// The issuer's AID range (hex).
    pub aid_prefix: String,
}

/// What one push provisioning reads before its core runs (docs/architecture.md §4).
#[derive(Debug, Clone)]
pub struct PushFactsQuery {
    /// The caller and its `Idempotency-Key`, when it sent one.
    pub idempotency: Option<(String, String)>,
    /// The issuer the request data names, unless the caller holds its key already.
    pub issuer_id: Option<String>,
    /// The token requestor and wallet user, when the wallet's accounts are hosted here.
    pub hosted_account: Option<(String, String)>,
    /// What the risk signals are counted for, when the request data names a card.
    pub signals: Option<SignalQuery>,
    /// The issuer whose TSM installs the credential, for a phone with a secure element.
    pub sp_tsm_of: Option<String>,
    /// The card the request data names, for its account reference and "already in wallet".
    pub card: Option<CardQuery>,
}

/// A card as a push names it (not yet verified), and where it would go.
#[derive(Debug, Clone)]
pub struct CardQuery {
    /// Keyed hash of the funding PAN.
    pub pan_hash: [u8; 32],
    /// The issuer the request data names.
    pub issuer_id: String,
    /// The wallet.
    pub token_requestor_id: String,
    /// The device.
    pub device_id: String,
    /// Whether to look for the device's live token of the card (only a push that lost the
    /// race for it needs to know which).
    pub on_device: bool,
}

/// What [`PushFactsQuery`] found.
#[derive(Debug, Clone)]
pub struct PushFacts {
    /// The stored answer for the idempotency key.
    pub idempotency: Option<IdempotencyRecord>,
    /// The issuer.
    pub issuer: Option<IssuerRecord>,
    /// The wallet user's live account.
    pub account: Option<crate::AccountGate>,
    /// The service's risk signals (everything but `trusted_push`), when asked for.
    pub signals: Option<provisio_risk::Signals>,
    /// The issuer's TSM.
    pub sp_tsm: Option<SpTsmRecord>,
    /// What the store knows of the card, when asked.
    pub card: Option<provisio_tsp::CardFacts>,
}

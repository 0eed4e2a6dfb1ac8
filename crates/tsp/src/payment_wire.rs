//! The authorisation messages as they travel (docs/protocol.md §16.3).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the payment reached the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// Tapped at a terminal (NFC).
    Contactless,
    /// In a merchant's app on the device.
    InApp,
    /// A card-not-present payment on the web.
    Ecommerce,
}

impl Channel {
    /// Its wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contactless => "CONTACTLESS",
            Self::InApp => "IN_APP",
            Self::Ecommerce => "ECOMMERCE",
        }
    }
}

/// `POST /v1/network/authorizations` body. `Debug` shows neither the token PAN nor the
/// cryptogram.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRequest {
    /// The token PAN the terminal read (12 to 19 digits).
    #[schema(min_length = 12, max_length = 19, pattern = "^[0-9]{12,19}$")]
    pub token_pan: String,
    /// The token's expiry month (1 to 12).
    #[schema(minimum = 1, maximum = 12)]
    pub exp_month: u8,
    /// The token's expiry year (four digits).
    pub exp_year: u16,
    /// The amount in minor units (at most 12 digits).
    #[schema(maximum = 999_999_999_999_u64)]
    pub amount_minor: u64,
    /// ISO 4217 numeric currency code, 3 digits.
    #[schema(pattern = "^[0-9]{3}$")]
    pub currency: String,
    /// ISO 3166 numeric country code of the terminal, 3 digits.
    #[schema(pattern = "^[0-9]{3}$")]
    pub country: String,
    /// The transaction date, YYMMDD.
    #[schema(pattern = "^[0-9]{6}$")]
    pub transaction_date: String,
    /// The terminal's unpredictable number, 8 hexadecimal characters.
    #[schema(pattern = "^[0-9A-Fa-f]{8}$")]
    pub unpredictable_number: String,
    /// The application transaction counter the device used (1 to 65535).
    #[schema(minimum = 1, maximum = 65535)]
    pub atc: u32,
    /// The ARQC, 16 hexadecimal characters.
    #[schema(pattern = "^[0-9A-Fa-f]{16}$")]
    pub cryptogram: String,
    /// How the payment was made.
    pub channel: Channel,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("amount_minor", &self.amount_minor)
            .field("currency", &self.currency)
            .field("atc", &self.atc)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// Whether the token may pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizationDecision {
    /// The token, its cryptogram and its counter are good: the funding PAN is in the answer.
    Approved,
    /// See the reason.
    Declined,
}

impl AuthorizationDecision {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::Declined => "DECLINED",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approved, Self::Declined]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Why an authorisation was declined (docs/protocol.md §16.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// No token has this token PAN and expiry.
    UnknownToken,
    /// The token is `INACTIVE`, `SUSPENDED` or `DELETED`.
    TokenNotActive,
    /// The token's expiry has passed.
    TokenExpired,
    /// The cryptogram is not the one the token's key makes for this transaction and ATC.
    CryptogramInvalid,
    /// This ATC was approved before, or is too far behind the highest approved.
    AtcReplayed,
    /// The token may not pay through this channel.
    ChannelNotAllowed,
}

impl DeclineReason {
    /// Every reason.
    pub const ALL: [Self; 6] = [
        Self::UnknownToken,
        Self::TokenNotActive,
        Self::TokenExpired,
        Self::CryptogramInvalid,
        Self::AtcReplayed,
        Self::ChannelNotAllowed,
    ];

    /// Its wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownToken => "unknown_token",
            Self::TokenNotActive => "token_not_active",
            Self::TokenExpired => "token_expired",
            Self::CryptogramInvalid => "cryptogram_invalid",
            Self::AtcReplayed => "atc_replayed",
            Self::ChannelNotAllowed => "channel_not_allowed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `POST /v1/network/authorizations` answer (200 whatever the decision). The funding `pan`
/// and its expiry only when approved; `reason` only when declined. `Debug` masks the PAN.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationAnswer {
    /// This authorisation's id.
    pub authorization_id: String,
    /// `APPROVED` or `DECLINED`.
    pub decision: AuthorizationDecision,
    /// Why it was declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeclineReason>,
    /// The token, when one has this token PAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ref_id: Option<String>,
    /// The funding PAN (approved only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pan: Option<String>,
    /// The funding card's expiry month (approved only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_month: Option<u8>,
    /// The funding card's expiry year (approved only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_year: Option<u16>,
    /// The funding account's reference, when a token has this token PAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<String>,
}

impl fmt::Debug for AuthorizationAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationAnswer")
            .field("authorization_id", &self.authorization_id)
            .field("decision", &self.decision)
            .field("reason", &self.reason)
            .field("token_ref_id", &self.token_ref_id)
            .field("pan", &self.pan.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

/// A token's authorisations, as its view shows them (docs/protocol.md §15.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenUsage {
    /// Authorisations approved.
    pub approved: u64,
    /// Authorisations declined.
    pub declined: u64,
    /// The last authorisation, Unix seconds (none yet: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
}

//! The token-life messages as they travel (docs/protocol.md §15).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::payment_wire::TokenUsage;
use crate::token_records::{HistoryEntry, TokenView};

/// A token as its issuer, its requestor or the operator reads it. Never the PAN or the token
/// PAN: the last four digits of the token PAN only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenAnswer {
    /// EMVCo token reference id.
    pub token_ref_id: String,
    /// `INACTIVE`, `ACTIVE`, `SUSPENDED` or `DELETED`.
    pub status: String,
    /// Last four digits of the token PAN.
    pub last4: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// The card's issuer.
    pub issuer_id: String,
    /// The wallet provider.
    pub token_requestor_id: String,
    /// The wallet's user.
    pub wallet_user_id: String,
    /// The device.
    pub device_id: String,
    /// The funding account's reference: the same for every token of the card at its issuer.
    pub account_ref: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Its authorisations: how many approved and declined, and the last one's time
    /// (docs/protocol.md §16).
    pub authorizations: TokenUsage,
    /// Every change, oldest first (the creation is the first).
    pub history: Vec<HistoryItem>,
}

/// One entry of a token's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    /// The status the change left.
    pub status: String,
    /// `LOST`, `STOLEN`, `FRAUD`, `CUSTOMER_REQUEST`, `ACCOUNT_CLOSED`, `FOUND` or `OTHER`.
    pub reason: String,
    /// `ISSUER`, `TOKEN_REQUESTOR`, `ADMIN` or `SYSTEM`.
    pub actor: String,
    /// The issuer's call-centre agent, when one activated the token (docs/protocol.md §17.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// `{"tokens": [...]}`: a search's or a card-level change's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    /// The tokens, oldest first.
    pub tokens: Vec<TokenAnswer>,
}

/// `POST /v1/tokens/{token_ref_id}/suspend|resume|delete` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// `LOST`, `STOLEN`, `FRAUD`, `CUSTOMER_REQUEST`, `ACCOUNT_CLOSED`, `FOUND` or `OTHER`.
    #[schema(pattern = "^(LOST|STOLEN|FRAUD|CUSTOMER_REQUEST|ACCOUNT_CLOSED|FOUND|OTHER)$")]
    pub reason: String,
}

/// `POST /v1/tokens/search` body: an issuer names a card, a token requestor a user or a
/// device (or both), the operator either. Its schema is [`SearchRequest::schema`]'s.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The card's PAN (issuer, admin). In the body only, never in a URL.
    #[serde(default)]
    pub pan: Option<String>,
    /// The wallet's user (token requestor).
    #[serde(default)]
    pub wallet_user_id: Option<String>,
    /// The device (token requestor).
    #[serde(default)]
    pub device_id: Option<String>,
}

/// The PAN as a schema can say it (12 to 19 digits; the Luhn check it cannot).
const PAN_PATTERN: &str = "^[0-9]{12,19}$";
/// A wallet user or device id: 1 to 128 printable ASCII characters, no spaces.
const WALLET_ID_PATTERN: &str = "^[!-~]{1,128}$";

impl utoipa::PartialSchema for SearchRequest {
    /// One of the two shapes the roles send: `pan` alone (an issuer, the operator), or
    /// `wallet_user_id` and/or `device_id` (a token requestor). Which one a caller may send
    /// is its role's (400 `malformed_request` otherwise); a `null` member is as if absent.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let text = |description: &str, pattern: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
                .pattern(Some(pattern))
        };
        let card = ObjectBuilder::new()
            .title(Some("By card"))
            .property(
                "pan",
                text(
                    "The card's PAN (issuer, admin). In the body only, never in a URL.",
                    PAN_PATTERN,
                ),
            )
            .required("pan")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let wallet = ObjectBuilder::new()
            .title(Some("By wallet user or device"))
            .property(
                "wallet_user_id",
                text("The wallet's user (token requestor).", WALLET_ID_PATTERN),
            )
            .property(
                "device_id",
                text("The device (token requestor).", WALLET_ID_PATTERN),
            )
            .min_properties(Some(1))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .description(Some(
                "`POST /v1/tokens/search` body: an issuer or the operator names a card, a token requestor a user or a device (or both).",
            ))
            .item(card)
            .item(wallet)
            .into()
    }
}

impl ToSchema for SearchRequest {}

/// `POST /v1/cards/suspend|resume|delete` body: every live token of the card at once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardChangeRequest {
    /// The card's PAN: 12 to 19 digits, Luhn-valid.
    #[schema(pattern = "^[0-9]{12,19}$")]
    pub pan: String,
    /// The reason code.
    #[schema(pattern = "^(LOST|STOLEN|FRAUD|CUSTOMER_REQUEST|ACCOUNT_CLOSED|FOUND|OTHER)$")]
    pub reason: String,
}

/// `POST /v1/cards/reissue` body: the card got a new expiry and perhaps a new number; its
/// live tokens are relinked and keep working.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReissueRequest {
    /// The card's PAN as the tokens know it.
    pub pan: String,
    /// The new PAN, when the number changed.
    #[serde(default)]
    pub new_pan: Option<String>,
    /// The new expiry month (1-12).
    pub exp_month: u8,
    /// The new expiry year (four digits).
    pub exp_year: u16,
}

// The PANs of these bodies never show in `Debug` (a log line, a panic message).
const HIDDEN: &str = "<PAN hidden>";

impl std::fmt::Debug for SearchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchRequest")
            .field("pan", &self.pan.as_ref().map(|_| HIDDEN))
            .field("wallet_user_id", &self.wallet_user_id)
            .field("device_id", &self.device_id)
            .finish()
    }
}

impl std::fmt::Debug for CardChangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardChangeRequest")
            .field("pan", &HIDDEN)
            .field("reason", &self.reason)
            .finish()
    }
}

impl std::fmt::Debug for ReissueRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReissueRequest")
            .field("pan", &HIDDEN)
            .field("new_pan", &self.new_pan.as_ref().map(|_| HIDDEN))
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish()
    }
}

/// `PUT /v1/admin/issuers/{id}/notifications` (and token requestors) body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Where token events are posted (`https://`, or `http://` to a loopback address), at
    /// most 2,048 characters; `null` stops them.
    #[schema(max_length = 2048)]
    pub url: Option<String>,
}

/// A dead-lettered token event, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadEventAnswer {
    /// The outbox message id (what a re-drive names).
    pub message_id: String,
    /// `issuer:<id>:<token>` or `token_requestor:<id>:<token>`.
    pub ordering_key: String,
    /// The token's event sequence.
    pub sequence: u64,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was dead-lettered (Unix seconds).
    pub dead_at: i64,
}

/// `GET /v1/admin/events/dead` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadEventList {
    /// Oldest first.
    pub events: Vec<DeadEventAnswer>,
}

impl From<&TokenView> for TokenAnswer {
    fn from(v: &TokenView) -> Self {
        Self {
            token_ref_id: v.token_ref_id.clone(),
            status: v.status.as_str().into(),
            last4: v.last4.clone(),
            exp_month: v.exp_month,
            exp_year: v.exp_year,
            issuer_id: v.issuer_id.clone(),
            token_requestor_id: v.token_requestor_id.clone(),
            wallet_user_id: v.wallet_user_id.clone(),
            device_id: v.device_id.clone(),
            account_ref: v.account_ref.clone(),
            authorizations: v.usage,
            created_at: v.created_at,
            history: v.history.iter().map(HistoryItem::from).collect(),
        }
    }
}

impl From<&HistoryEntry> for HistoryItem {
    fn from(h: &HistoryEntry) -> Self {
        Self {
            status: h.status.as_str().into(),
            reason: h.reason.clone(),
            actor: h.actor.clone(),
            agent_id: h.agent_id.clone(),
            at: h.at,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn card_bodies_never_show_the_pan_in_debug() {
        let pan = "4000123456789017";
        let shown = [
            format!(
                "{:?}",
                super::SearchRequest {
                    pan: Some(pan.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                super::CardChangeRequest {
                    pan: pan.into(),
                    reason: "LOST".into()
                }
            ),
            format!(
                "{:?}",
                super::ReissueRequest {
                    pan: pan.into(),
                    new_pan: Some(pan.into()),
                    exp_month: 1,
                    exp_year: 2031
                }
            ),
        ];
        for s in shown {
            assert!(!s.contains(pan) && s.contains("<PAN hidden>"), "{s}");
        }
    }
}

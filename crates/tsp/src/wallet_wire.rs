//! The JSON of the second way in (docs/protocol.md §17.2, §17.3), as it travels.

use std::fmt;

use provisio_risk::IssuerDecision;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contact::Contact;
use crate::wire::{DeviceInfo, ReasonInfo, WalletRiskInfo};

/// `POST /v1/provisionings` body: a card typed or scanned in the wallet (docs/protocol.md
/// §17.2).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletProvisioningRequest {
    /// The card, encrypted by the wallet to the token service: a JWE (ECDH-ES+A256KW,
    /// A256GCM, `kid` of a TSP encryption key) of the JSON of [`CardEntry`].
    pub encrypted_card: String,
    /// The wallet's user id: 1 to 128 printable ASCII characters, no spaces.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub wallet_user_id: String,
    /// The wallet's device id: 1 to 128 printable ASCII characters, no spaces.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub device_id: String,
    /// The device the token is bound to.
    pub device: DeviceInfo,
    /// The wallet's own risk assessment (US 10,140,615), optional.
    #[serde(default, deserialize_with = "crate::wire::wallet_risk_object")]
    pub wallet_risk: Option<WalletRiskInfo>,
}

/// The card the wallet encrypts. `Debug` shows no card data.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardEntry {
    /// The PAN, 12 to 19 digits, Luhn-valid.
    pub pan: String,
    /// 1 to 12.
    pub exp_month: u32,
    /// Four-digit year.
    pub exp_year: u32,
    /// The cardholder's name as entered.
    pub name: String,
    /// The card verification code, for the issuer's decisioning only; never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc2: Option<String>,
    /// When the wallet made this (Unix seconds); within the freshness window.
    pub iat: i64,
    /// Unique id of this request, accepted once per token requestor.
    pub jti: String,
}

impl zeroize::Zeroize for CardEntry {
    fn zeroize(&mut self) {
        self.pan.zeroize();
        self.name.zeroize();
        self.cvc2.zeroize();
    }
}

impl fmt::Debug for CardEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardEntry")
            .field("iat", &self.iat)
            .field("jti", &self.jti)
            .finish_non_exhaustive()
    }
}

/// The card as the issuer's decisioning receives it, encrypted to its key.
#[derive(Serialize)]
pub(crate) struct IssuerCard<'a> {
    pub(crate) pan: &'a str,
    pub(crate) exp_month: u8,
    pub(crate) exp_year: u16,
    pub(crate) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cvc2: Option<&'a str>,
}

/// The claims the token service signs when it asks the issuer (docs/protocol.md §17.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRequest {
    /// The provisioning request's id (the answer's `provisioning_id` to be).
    pub request_id: String,
    /// The card, a JWE (ECDH-ES+A256KW, A256GCM) to the issuer's registered encryption key.
    pub card: String,
    /// The wallet.
    pub token_requestor_id: String,
    /// The wallet's user.
    pub wallet_user_id: String,
    /// The device.
    pub device_id: String,
    /// The wallet's risk as it sent it.
    #[serde(default)]
    pub wallet_risk: Option<WalletRiskInfo>,
    /// The service's own assessment before the issuer's answer.
    pub tsp_risk: TspRisk,
    /// When it was made (Unix seconds).
    pub iat: i64,
}

/// The service's level and its reasons, as the issuer is told them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TspRisk {
    /// The service's level, 0 to 99.
    pub level: u8,
    /// Why.
    pub reasons: Vec<ReasonInfo>,
}

impl From<&provisio_risk::RiskDecision> for TspRisk {
    fn from(d: &provisio_risk::RiskDecision) -> Self {
        Self {
            level: d.service_level,
            reasons: crate::mint::reason_infos(&d.reasons),
        }
    }
}

/// The issuer's answer, 200 JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct DecisionAnswer {
    /// `APPROVE`, `REQUIRE_AUTHENTICATION` or `DECLINE`.
    pub decision: IssuerDecision,
    /// The activation methods it allows (`OTP_SMS`, `OTP_EMAIL`, ...); empty: every method
    /// the service can offer.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Where codes may go.
    #[serde(default)]
    pub contact: Option<Contact>,
}

//! The JSON of docs/protocol.md §3, as it travels. Parsing into these types checks shape
//! only; meaning is checked by the push flow.

use std::fmt;

use provisio_risk::{WalletInput, WalletRisk};

use crate::contact::Contact;
use crate::script_format::{Script, StepReport};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a body is not the documented JSON, in words that never quote a value of it: serde's
/// messages quote the value of a member of the wrong type or an unknown variant (an OTP code,
/// a PAN sent as a number), so those say only what was expected. Member names (missing,
/// unknown) are kept: they are the documented names.
pub fn json_error_detail(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // serde_json appends " at line L column C"; the position is given once, at the end.
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    let what = match e.classify() {
        serde_json::error::Category::Data => {
            let quoting = [
                "invalid type: ",
                "invalid value: ",
                "invalid length ",
                "unknown variant ",
            ];
            if quoting.iter().any(|p| message.starts_with(p)) {
                match message.split_once(", expected ") {
                    Some((_, expected)) => {
                        format!("a member has the wrong type or value (expected {expected})")
                    }
                    None => "a member has the wrong type or value".to_owned(),
                }
            } else if let Some(rest) = message.strip_prefix("unknown field `") {
                // The name is the peer's text: echoed only when it looks like a member name,
                // never when it could be a value that ran into it (a PAN, a code).
                let name = rest.split_once('`').map_or(rest, |(name, _)| name);
                if is_plain_member_name(name) {
                    format!("unknown member `{name}`")
                } else {
                    "an unknown member".to_owned()
                }
            } else {
                message.to_owned()
            }
        }
        serde_json::error::Category::Eof => "it ends too early".to_owned(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
            "it is not JSON".to_owned()
        }
    };
    format!(
        "the body is not the documented JSON: {what} (line {}, column {})",
        e.line(),
        e.column()
    )
}

/// A name of at most 40 letters, digits and `_` with no run of four digits or more.
fn is_plain_member_name(name: &str) -> bool {
    let mut digits = 0;
    name.len() <= 40
        && name.chars().all(|c| {
            digits = if c.is_ascii_digit() { digits + 1 } else { 0 };
            (c.is_ascii_alphanumeric() || c == '_') && digits < 4
        })
}

/// `POST /v1/push-provisioning` body (docs/protocol.md §3.3).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushProvisioningRequest {
    /// The issuer app's request data: a JWE (ECDH-ES+A256KW, A256GCM) wrapping a JWS (ES256).
    pub encrypted_payload: String,
    /// The session id the issuer app chose (step 1): 22 to 128 base64url characters.
    #[schema(pattern = "^[A-Za-z0-9_-]{22,128}$")]
    pub session_id: String,
    /// The wallet's user id (step 2): 1 to 128 printable ASCII characters, no spaces.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub wallet_user_id: String,
    /// The wallet's device id (step 2): 1 to 128 printable ASCII characters, no spaces.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub device_id: String,
    /// The device the token is bound to.
    pub device: DeviceInfo,
    /// The wallet's own risk assessment (US 10,140,615), optional.
    #[serde(default, deserialize_with = "wallet_risk_object")]
    pub wallet_risk: Option<WalletRiskInfo>,
}

/// `wallet_risk` as an object, `null` or absent. Serde's derive would also read a JSON array
/// into the struct, member by position; the contract's member is an object.
pub(crate) fn wallet_risk_object<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<WalletRiskInfo>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v @ serde_json::Value::Object(_)) => serde_json::from_value(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(_) => Err(serde::de::Error::custom(
            "wallet_risk must be an object (or null)",
        )),
    }
}

/// The device a token is bound to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// EC P-256 public JWK: `access_data` is encrypted to it.
    #[schema(value_type = EcPublicJwk)]
    pub binding_jwk: provisio_jose::Jwk,
    /// Device type, e.g. `PHONE`.
    #[serde(rename = "type")]
    pub device_type: String,
    /// The secure element id, for phones with one.
    #[serde(default)]
    pub secure_element_id: Option<String>,
}

/// The wallet's risk assessment. `level` absent or null means the wallet tried and could not
/// assess; the whole object absent means it sent none. Both are their own cases in the merge.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletRiskInfo {
    /// 0 to 99, higher is riskier; null when the wallet could not assess.
    #[serde(default)]
    #[schema(maximum = 99)]
    pub level: Option<u8>,
    /// The wallet's level is a floor the token service may not lower.
    #[serde(default)]
    pub non_override: bool,
    /// The wallet's reason codes.
    #[serde(default)]
    pub reason_codes: Vec<String>,
    /// The wallet's device score, 0 to 99, higher is riskier.
    #[serde(default)]
    #[schema(maximum = 99)]
    pub device_score: Option<u8>,
    /// The wallet's account score, 0 to 99, higher is riskier.
    #[serde(default)]
    #[schema(maximum = 99)]
    pub account_score: Option<u8>,
}

impl WalletRiskInfo {
    /// A wallet's level, the way most wallets send it.
    pub fn level(level: u8, non_override: bool) -> Self {
        Self {
            level: Some(level),
            non_override,
            ..Self::default()
        }
    }

    /// What the risk merge reads from the optional `wallet_risk`, range-checked.
    pub fn to_input(wallet_risk: Option<&Self>) -> Result<WalletInput, &'static str> {
        let Some(w) = wallet_risk else {
            return Ok(WalletInput::Missing);
        };
        let in_range = |v: Option<u8>| v.is_none_or(|v| v <= 99);
        if !in_range(w.level) || !in_range(w.device_score) || !in_range(w.account_score) {
            return Err("wallet_risk levels and scores must be 0 to 99");
        }
        Ok(match w.level {
            None => WalletInput::Unassessable {
                reason_codes: w.reason_codes.clone(),
            },
            Some(level) => WalletInput::Assessed(WalletRisk {
                level,
                non_override: w.non_override,
                reason_codes: w.reason_codes.clone(),
                device_score: w.device_score,
                account_score: w.account_score,
            }),
        })
    }
}

/// The schema of an EC P-256 public JWK as [`provisio_jose::Jwk::public_key`] takes it
/// (RFC 7518 6.2.1): `kty` `EC`, `crv` `P-256`, each coordinate the full 32 octets in
/// base64url without padding (43 characters, the last one's two spare bits zero). The point
/// must also be on the curve, which a schema cannot say, and a private part `d` is refused.
/// Documentation only: the wire type is `Jwk`.
#[derive(ToSchema)]
#[schema(example = json!({"kty": "EC", "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "rfc7515-a3"}))]
#[allow(dead_code)]
pub struct EcPublicJwk {
    /// Key type.
    #[schema(pattern = "^(EC)$")]
    kty: String,
    /// Curve.
    #[schema(pattern = "^(P-256)$")]
    crv: String,
    /// x coordinate.
    #[schema(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    x: String,
    /// y coordinate.
    #[schema(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    y: String,
    /// Key id.
    kid: Option<String>,
    /// Intended use: `enc` or `sig`.
    #[schema(rename = "use", pattern = "^(enc|sig)$")]
    key_use: Option<String>,
    /// Intended algorithm.
    alg: Option<String>,
}

/// [`EcPublicJwk`] with a non-empty `kid`, as a registered key must have (an issuer's signing
/// key, its decisioning encryption key). Documentation only.
#[derive(ToSchema)]
#[schema(example = json!({"kty": "EC", "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "rfc7515-a3"}))]
#[allow(dead_code)]
pub struct EcPublicJwkWithKid {
    /// Key type.
    #[schema(pattern = "^(EC)$")]
    kty: String,
    /// Curve.
    #[schema(pattern = "^(P-256)$")]
    crv: String,
    /// x coordinate.
    #[schema(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    x: String,
    /// y coordinate.
    #[schema(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    y: String,
    /// Key id.
    #[schema(min_length = 1)]
    kid: String,
    /// Intended use: `enc` or `sig`.
    #[schema(rename = "use", pattern = "^(enc|sig)$")]
    key_use: Option<String>,
    /// Intended algorithm.
    alg: Option<String>,
}

/// The claims of the issuer app's signed request data (docs/protocol.md §3.2).
#[derive(Clone, Serialize, Deserialize)]
pub struct RequestClaims {
    /// issuer_id.
    pub iss: String,
    /// The TSP's id.
    pub aud: String,
    /// When the request data was made (Unix seconds).
    pub iat: i64,
    /// Unique id of this request data.
    pub jti: String,
    /// session_id.
    pub sid: String,
    /// wallet_user_id.
    pub uid: String,
    /// device_id.
    pub did: String,
    /// token_requestor_id.
    pub trid: String,
    /// The funding account.
    pub acct: AccountData,
    /// Where step-up codes may go (optional; without it a step-up decision is a decline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// The funding account inside the signed claims: exactly the documented members (a card
/// field the contract does not name, such as a CVV, is refused rather than carried along
/// unread). `Debug` masks the PAN.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountData {
    /// The PAN, 12 to 19 digits.
    pub pan: String,
    /// 1 to 12.
    pub exp_month: u32,
    /// Four-digit year.
    pub exp_year: u32,
    /// Cardholder name.
    pub name: String,
}

impl fmt::Debug for RequestClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestClaims")
            .field("iss", &self.iss)
            .field("jti", &self.jti)
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AccountData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountData([REDACTED])")
    }
}

/// The decision of a push provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Provisioned.
    Approved,
    /// Created inactive; further authentication needed.
    StepUpRequired,
    /// Refused.
    Declined,
}

impl Decision {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::StepUpRequired => "STEP_UP_REQUIRED",
            Self::Declined => "DECLINED",
        }
    }
}

/// `200` answer of `POST /v1/push-provisioning`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushProvisioningResponse {
    /// Id of this provisioning.
    pub provisioning_id: String,
    /// Approve, step up or decline.
    pub decision: Decision,
    /// Both levels, the final one, and why.
    pub risk: RiskInfo,
    /// The token, when approved or pending step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
    /// JWE (ECDH-ES, A256GCM) to the device's binding key, when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_data: Option<String>,
    /// Allowed step-up methods, when step-up is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
    /// The steps the device executes to install the credential, when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Script>,
}

/// The risk part of the answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskInfo {
    /// The wallet's level; null when it sent none.
    pub wallet_level: Option<u8>,
    /// The token service's own level.
    pub tsp_level: u8,
    /// The level the decision is based on.
    pub final_level: u8,
    /// Whether the wallet marked its level non-override.
    pub non_override: bool,
    /// The merge rule applied.
    pub merge_rule: String,
    /// The risk policy version that decided.
    pub policy_version: String,
    /// Every reason that contributed.
    pub reasons: Vec<ReasonInfo>,
    /// On the wallet path with decisioning: what the issuer said (`decision`, `latency_ms`)
    /// or the `fallback` that stood in for it (docs/protocol.md §17.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub issuer: Option<provisio_risk::IssuerVerdict>,
}

/// One reason.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonInfo {
    /// Stable code.
    pub code: String,
    /// Sentence.
    pub text: String,
}

/// The token, without its number.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// EMVCo token reference id.
    pub token_ref_id: String,
    /// Last four digits of the token PAN.
    pub last4: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// The funding account's reference: the same for every token of this card at this issuer
    /// (docs/protocol.md §15.1).
    pub account_ref: String,
}

/// Step-up methods.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepUp {
    /// The methods the cardholder may use.
    pub methods: Vec<StepUpMethod>,
}

/// `POST /v1/provisionings/{id}/step-up/otp` body: send a code by one of the offered methods.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpSendRequest {
    /// One of `step_up.methods[].method_id`.
    pub method_id: String,
    /// The wallet user the provisioning is for.
    pub wallet_user_id: String,
    /// The device the provisioning is for.
    pub device_id: String,
}

/// `201` answer: a code is on its way.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OtpSent {
    /// Quote it when verifying.
    pub otp_id: String,
    /// The masked destination.
    pub destination: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// How many more codes may be sent.
    pub resends_left: u32,
}

/// `POST /v1/provisionings/{id}/step-up/issuer-app` body (docs/protocol.md §17.4).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerAppActivationRequest {
    /// The `ISSUER_APP` method's id from the step-up answer.
    pub method_id: String,
    /// The wallet user the provisioning is for.
    pub wallet_user_id: String,
    /// The device the provisioning is for.
    pub device_id: String,
    /// The issuer app's compact JWS (ES256, the issuer's registered key) over
    /// `{"token_ref_id", "device_id", "nonce", "iat"}`.
    pub activation_data: String,
}

/// `POST /v1/tokens/{token_ref_id}/activate` body (docs/protocol.md §17.5).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCenterActivationRequest {
    /// The call-centre agent who authenticated the cardholder (1 to 64 printable characters);
    /// the token's history names them.
    pub agent_id: String,
}

/// `POST /v1/tokens/{token_ref_id}/activate` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallCenterActivated {
    /// The token.
    pub token_ref_id: String,
    /// `ACTIVE`.
    pub status: String,
    /// The agent, as the token's history names them.
    pub agent_id: String,
}

/// `POST /v1/provisionings/{id}/step-up/call-center` body (docs/protocol.md §17.5).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCenterCollectRequest {
    /// The `CALL_CENTER` method's id from the step-up answer.
    pub method_id: String,
    /// The wallet user the provisioning is for.
    pub wallet_user_id: String,
    /// The device the provisioning is for.
    pub device_id: String,
}

/// The claims of the issuer app's activation data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivationClaims {
    /// The token the step-up holds.
    pub token_ref_id: String,
    /// The device it is for.
    pub device_id: String,
    /// At least 128 random bits, base64url; accepted once per issuer.
    pub nonce: String,
    /// When the issuer app signed it (Unix seconds).
    pub iat: i64,
}

/// `POST /v1/provisionings/{id}/step-up/verify` body.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpVerifyRequest {
    /// The code's id from [`OtpSent`].
    pub otp_id: String,
    /// The six digits the cardholder received.
    pub code: String,
    /// The wallet user the provisioning is for.
    pub wallet_user_id: String,
    /// The device the provisioning is for.
    pub device_id: String,
}

impl fmt::Debug for OtpVerifyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpVerifyRequest")
            .field("otp_id", &self.otp_id)
            .finish_non_exhaustive()
    }
}

/// `200` answer to a right code: the token is active and its access data released.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepUpPassed {
    /// The provisioning.
    pub provisioning_id: String,
    /// The token, now `ACTIVE`.
    pub token: TokenInfo,
    /// JWE (ECDH-ES, A256GCM) to the device's binding key.
    pub access_data: String,
    /// The steps the device executes to install the credential.
    pub script: Script,
}

/// `POST /v1/provisionings/{id}/script-report` body: how the device ran the script.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptReportRequest {
    /// The script run.
    pub script_id: String,
    /// The wallet user the provisioning is for.
    pub wallet_user_id: String,
    /// The device the provisioning is for.
    pub device_id: String,
    /// Every step, in order.
    pub steps: Vec<StepReport>,
}

/// `200` answer to a completion report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScriptReportResponse {
    /// The token.
    pub token_ref_id: String,
    /// `ACTIVE`.
    pub status: String,
    /// True: the credential is installed and the token can pay.
    pub payment_ready: bool,
}

/// `PUT /v1/admin/issuers/{issuer_id}/sp-tsm`: the issuer's TSM, which installs its tokens
/// on secure elements. The answer echoes everything but `api_key`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SpTsmConfig {
    /// The SP-TSM's base URL (https, or http to this host).
    pub url: String,
    /// The token service's caller key at the SP-TSM; stored sealed, never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The SP-TSM's EC P-256 public key (its `GET /v1/sp/keys/handover`): credentials are
    /// sealed to it.
    #[schema(value_type = EcPublicJwk)]
    pub encryption_jwk: provisio_jose::Jwk,
    /// The issuer's AID range, hex, 5 to 11 bytes: each token's domain and applet AIDs are
    /// made inside it.
    #[schema(pattern = "^([0-9A-Fa-f]{2}){5,11}$")]
    pub aid_prefix: String,
}

impl fmt::Debug for SpTsmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpTsmConfig")
            .field("url", &self.url)
            .field("aid_prefix", &self.aid_prefix)
            .finish_non_exhaustive()
    }
}

/// Where a credential's installation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstallationState {
    /// The script is out; no report yet.
    Pending,
    /// Reported done: the token can pay.
    Installed,
    /// The issuer's TSM could not install it.
    Failed,
}

impl InstallationState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Installed => "INSTALLED",
            Self::Failed => "FAILED",
        }
    }
}

/// `GET /v1/provisionings/{provisioning_id}/installation`: where the credential's installation
/// stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Installation {
    /// The token.
    pub token_ref_id: String,
    /// The script.
    pub script_id: String,
    /// `HCE` (the device reports) or `SECURE_ELEMENT` (the issuer's TSM reports).
    pub target: crate::ScriptTarget,
    /// Where it stands.
    pub state: InstallationState,
    /// True once the credential is installed: the token can pay.
    pub payment_ready: bool,
    /// The TSM's reason, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// One step-up method.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepUpMethod {
    /// Id to use when choosing it.
    pub method_id: String,
    /// `OTP_SMS`, `OTP_EMAIL`, `ISSUER_APP`, `CALL_CENTER`.
    #[serde(rename = "type")]
    pub method_type: String,
    /// Masked destination.
    pub destination: String,
}

/// What `access_data` decrypts to, with the device's binding key only.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessData {
    /// The token PAN.
    pub token_pan: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// Token reference id.
    pub token_ref_id: String,
    /// The device-bound key for transaction cryptograms, base64url (16 bytes).
    pub cryptogram_key: String,
    /// The cryptogram algorithm the key is for.
    pub cryptogram_alg: String,
}

impl fmt::Debug for AccessData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessData")
            .field("token_ref_id", &self.token_ref_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Decision;

    #[test]
    fn an_unknown_member_is_named_only_when_it_cannot_be_a_value() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[allow(dead_code)]
            amount_minor: Option<u64>,
        }
        let detail =
            |body: &str| super::json_error_detail(&serde_json::from_str::<Body>(body).unwrap_err());
        assert!(detail(r#"{"cvv": 1}"#).contains("unknown member `cvv`"));
        // A lost closing quote runs the name on over the value that follows it.
        for body in [
            r#"{"amount_minor:4000123456789017, "x": 1}"#,
            r#"{"4000123456789017": 1}"#,
        ] {
            let d = detail(body);
            assert!(
                !d.contains("4000123456789017") && d.contains("an unknown member"),
                "{d}"
            );
        }
    }

    #[test]
    fn a_decisions_stored_name_is_its_wire_name() {
        for d in [
            Decision::Approved,
            Decision::StepUpRequired,
            Decision::Declined,
        ] {
            assert_eq!(
                serde_json::to_value(d).unwrap(),
                serde_json::json!(d.as_str())
            );
        }
    }
}

//! Asking the issuer about a card entered in a wallet (docs/protocol.md §17.3), sans-IO: the
//! signed request the server posts, and what the answer (or its absence) counts as.
//!
//! ```text
//!  EnteredCard ──decision_request(service's decision, issuer key)──► JWS ──server POSTs, within the budget──►
//!     Asked (answered, timed out, unreachable) ──read_answer(fallback)──► IssuerAnswer
//! ```

use provisio_crypto::EcPublicKey;
use provisio_jose::{EncryptOptions, KeyManagement};
use provisio_risk::{IssuerDecision, IssuerVerdict, RiskDecision};

use crate::contact::Contact;
use crate::stepup::MethodType;
use crate::wallet_wire::{DecisionAnswer, DecisionRequest, TspRisk};
use crate::{EnteredCard, PushContext, PushError};

/// How the issuer is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisioningConfig {
    /// How long the answer may take, in milliseconds (default 1,000).
    pub budget_ms: u64,
    /// What counts when the issuer gives no usable answer in time (default
    /// `REQUIRE_AUTHENTICATION`).
    pub fallback: IssuerDecision,
}

impl Default for DecisioningConfig {
    fn default() -> Self {
        Self {
            budget_ms: 1_000,
            fallback: IssuerDecision::RequireAuthentication,
        }
    }
}

/// The `typ` of the signed request.
pub const DECISION_TYP: &str = "provisio-decision+jws";

/// What became of the call.
#[derive(Debug, Clone)]
pub enum Asked {
    /// The issuer answered with this status and body.
    Answered {
        /// The HTTP status.
        status: u16,
        /// The body (at most what the server reads).
        body: Vec<u8>,
        /// How long it took.
        latency_ms: u32,
    },
    /// No answer within the budget.
    TimedOut {
        /// The budget.
        latency_ms: u32,
    },
    /// The call failed (connection refused, TLS, reset).
    Unreachable {
        /// How long until it failed.
        latency_ms: u32,
    },
}

/// The issuer's answer as it counts: a verdict for the merge, and for a step-up the methods it
/// allows and where codes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerAnswer {
    /// What the merge reads and the decision records.
    pub verdict: IssuerVerdict,
    /// The methods the issuer allows; `None`: every method the service can offer.
    pub methods: Option<Vec<MethodType>>,
    /// Where codes may go.
    pub contact: Contact,
}

/// The compact JWS (ES256, the service's signing key) the server posts to the issuer about
/// `card`: the card encrypted to the issuer's key (`issuer_kid`), the wallet's request, and
/// the service's own decision `tsp` before the issuer's answer.
pub fn decision_request(
    ctx: &PushContext<'_>,
    card: &EnteredCard,
    tsp: &RiskDecision,
    request_id: &str,
    issuer_key: &EcPublicKey,
    issuer_kid: &str,
) -> Result<String, PushError> {
    let plaintext = zeroize::Zeroizing::new(
        serde_json::to_vec(&card.for_issuer()).map_err(|_| PushError::Internal)?,
    );
    let sealed = provisio_jose::encrypt(
        ctx.crypto,
        issuer_key,
        &EncryptOptions {
            alg: KeyManagement::EcdhEsA256Kw,
            kid: Some(issuer_kid),
            cty: None,
        },
        &plaintext,
    )
    .map_err(|_| PushError::Internal)?;
    let request = card.request();
    let claims = DecisionRequest {
        request_id: request_id.to_owned(),
        card: sealed,
        token_requestor_id: ctx.caller_trid.to_owned(),
        wallet_user_id: request.wallet_user_id.as_str().to_owned(),
        device_id: request.device_id.as_str().to_owned(),
        wallet_risk: request.body.wallet_risk.clone(),
        tsp_risk: TspRisk::from(tsp),
        iat: ctx.now,
    };
    let payload = serde_json::to_vec(&claims).map_err(|_| PushError::Internal)?;
    let key = ctx.keys.current_sig();
    provisio_jose::sign(ctx.crypto, &key.key, &key.kid, Some(DECISION_TYP), &payload)
        .map_err(|_| PushError::Internal)
}

/// What the call counts as: the issuer's answer when it is a 200 with the documented JSON
/// (one document, a known decision, known methods, a well-formed contact); otherwise the
/// configured fallback, saying why.
pub fn read_answer(asked: &Asked, config: &DecisioningConfig) -> IssuerAnswer {
    let fallback = |why: &str, latency_ms: u32| IssuerAnswer {
        verdict: IssuerVerdict {
            decision: config.fallback,
            fallback: Some(why.to_owned()),
            latency_ms,
        },
        methods: None,
        contact: Contact::default(),
    };
    let (status, body, latency_ms) = match asked {
        Asked::TimedOut { latency_ms } => return fallback("timeout", *latency_ms),
        Asked::Unreachable { latency_ms } => return fallback("unreachable", *latency_ms),
        Asked::Answered {
            status,
            body,
            latency_ms,
        } => (*status, body, *latency_ms),
    };
    if status != 200 {
        return fallback("http_status", latency_ms);
    }
    // serde_json refuses trailing data: an answer given twice in one body is malformed.
    let Ok(answer) = serde_json::from_slice::<DecisionAnswer>(body) else {
        return fallback("malformed", latency_ms);
    };
    let methods: Option<Vec<MethodType>> = answer
        .methods
        .iter()
        .map(|m| MethodType::parse(m))
        .collect();
    let Some(methods) = methods else {
        return fallback("malformed", latency_ms);
    };
    let contact = answer.contact.unwrap_or_default();
    if contact.check().is_err() {
        return fallback("malformed", latency_ms);
    }
    IssuerAnswer {
        verdict: IssuerVerdict {
            decision: answer.decision,
            fallback: None,
            latency_ms,
        },
        methods: (!methods.is_empty()).then_some(methods),
        contact,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answered(status: u16, body: &str) -> Asked {
        Asked::Answered {
            status,
            body: body.as_bytes().to_vec(),
            latency_ms: 7,
        }
    }

    #[test]
    fn only_a_well_formed_200_counts_as_the_issuers_answer() {
        let config = DecisioningConfig::default();
        let a = read_answer(
            &answered(
                200,
                r#"{"decision": "REQUIRE_AUTHENTICATION", "methods": ["OTP_SMS"], "contact": {"phone": "+15550001234"}}"#,
            ),
            &config,
        );
        assert_eq!(a.verdict.decision, IssuerDecision::RequireAuthentication);
        assert_eq!(a.verdict.fallback, None);
        assert_eq!(a.methods, Some(vec![MethodType::OtpSms]));
        assert_eq!(a.contact.phone.as_deref(), Some("+15550001234"));
        let why = |asked: Asked| read_answer(&asked, &config).verdict.fallback;
        for (asked, reason) in [
            (answered(500, r#"{"decision": "APPROVE"}"#), "http_status"),
            (answered(200, "garbage"), "malformed"),
            (
                answered(200, r#"{"decision": "APPROVE"}{"decision": "DECLINE"}"#),
                "malformed",
            ),
            (answered(200, r#"{"decision": "MAYBE"}"#), "malformed"),
            (
                answered(
                    200,
                    r#"{"decision": "APPROVE", "methods": ["CARRIER_PIGEON"]}"#,
                ),
                "malformed",
            ),
            (
                answered(
                    200,
                    r#"{"decision": "APPROVE", "contact": {"phone": "555"}}"#,
                ),
                "malformed",
            ),
            (Asked::TimedOut { latency_ms: 1000 }, "timeout"),
            (Asked::Unreachable { latency_ms: 3 }, "unreachable"),
        ] {
            assert_eq!(why(asked).as_deref(), Some(reason));
        }
        let strict = DecisioningConfig {
            fallback: IssuerDecision::Decline,
            ..config
        };
        let a = read_answer(&Asked::TimedOut { latency_ms: 1000 }, &strict);
        assert_eq!(
            (a.verdict.decision, a.verdict.latency_ms),
            (IssuerDecision::Decline, 1000)
        );
    }
}

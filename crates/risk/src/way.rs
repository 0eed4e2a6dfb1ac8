//! Which way a card came in, and what its issuer said of it: inputs of the merge beside the
//! two levels (docs/protocol.md §17).

use serde::{Deserialize, Serialize};

/// How the provisioning request reached the token service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Way {
    /// Pushed by the issuer's app (US 10,243,958 claim 1): the request data is signed by the
    /// issuer after it authenticated the cardholder, "thereby allowing the second application
    /// to be provisioned with the access data without requiring the second application to
    /// perform a step-up authentication process". A level in the step-up band is approved,
    /// unless the issuer asked that its pushes still step up (`step_up`).
    IssuerApp {
        /// The issuer registered `push_step_up: true`.
        #[serde(default)]
        step_up: bool,
    },
    /// Typed or scanned in the wallet: no issuer signature. The issuer's decisioning answer is
    /// part of the service's "additional information" (US 10,140,615) when it was asked.
    Wallet {
        /// What the issuer's decisioning said, or the fallback that stood in for it.
        #[serde(default)]
        issuer: Option<IssuerVerdict>,
    },
}

impl Default for Way {
    /// The issuer-app push, trusted: what every provisioning was before the wallet path.
    fn default() -> Self {
        Self::IssuerApp { step_up: false }
    }
}

impl Way {
    /// Whether the request data is signed by the issuer (the trusted path).
    pub fn is_issuer_app(&self) -> bool {
        matches!(self, Self::IssuerApp { .. })
    }
}

/// The issuer's decisioning answer as the merge reads it and the decision records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerVerdict {
    /// What the issuer decided, or the configured fallback.
    pub decision: IssuerDecision,
    /// Why the fallback stood in (`timeout`, `unreachable`, `http_status`, `malformed`), when
    /// the issuer gave no usable answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// How long the call took, in milliseconds (the budget, on a timeout).
    #[serde(default)]
    pub latency_ms: u32,
}

/// The issuer's answer (docs/protocol.md §17.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IssuerDecision {
    /// The issuer agrees; the merge decides.
    Approve,
    /// At least step-up, with the methods the issuer allows.
    RequireAuthentication,
    /// Declined whatever the levels.
    Decline,
}

impl IssuerDecision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "APPROVE",
            Self::RequireAuthentication => "REQUIRE_AUTHENTICATION",
            Self::Decline => "DECLINE",
        }
    }
}

//! Merging the wallet's level with the service's into one decision (US 10,140,615).

use serde::{Deserialize, Serialize};

use crate::assess::{FiredRule, ServiceAssessment, assess};
use crate::policy::{MergeSettings, Policy};
use crate::signals::{Signals, WalletInput};
use crate::way::{IssuerDecision, IssuerVerdict, Way};

/// Band boundaries: approve below `step_up_from`, decline from `decline_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Lowest level that requires step-up (default 40).
    pub step_up_from: u8,
    /// Lowest level that is declined (default 80; 100 never declines).
    pub decline_from: u8,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            step_up_from: 40,
            decline_from: 80,
        }
    }
}

impl Thresholds {
    /// The outcome a level falls in.
    pub fn band(self, level: u8) -> Outcome {
        if level >= self.decline_from {
            Outcome::Decline
        } else if level >= self.step_up_from {
            Outcome::StepUp
        } else {
            Outcome::Approve
        }
    }
}

/// What happens to the provisioning request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Green: provision.
    Approve,
    /// Yellow: provision only after further authentication.
    StepUp,
    /// Red: refuse.
    Decline,
}

/// Which merge rule produced the final level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeRule {
    /// Non-override, wallet level below the service's: the service's level is final and the
    /// credential is not provisioned without further authentication (declined in the decline
    /// band).
    NonOverrideServiceHigher,
    /// Non-override, wallet level at or above the service's: the wallet's level is final; in
    /// the approve band provisioning goes ahead.
    NonOverrideWalletFloor,
    /// No non-override: the service's level is final, lowered by the trusted-push credit on
    /// the issuer-app path.
    ServiceLevel,
    /// The wallet sent no risk: the service's level, at least the policy's stand-in level.
    NoWalletRisk,
    /// The wallet could not assess: the service's level, at least the policy's stand-in level.
    WalletRiskUnassessable,
    /// A pushed request whose level fell in the step-up band, approved because the issuer's
    /// app authenticated the cardholder (US 10,243,958 claim 1); the level is the merge's.
    IssuerAppAuthenticated,
}

impl MergeRule {
    /// The stable name (as recorded and sent).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NonOverrideServiceHigher => "non_override_service_higher",
            Self::NonOverrideWalletFloor => "non_override_wallet_floor",
            Self::ServiceLevel => "service_level",
            Self::NoWalletRisk => "no_wallet_risk",
            Self::WalletRiskUnassessable => "wallet_risk_unassessable",
            Self::IssuerAppAuthenticated => "issuer_app_authenticated",
        }
    }
}

/// One reason behind a decision: a stable machine code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable sentence.
    pub text: String,
}

/// The merged decision, with everything needed to explain it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskDecision {
    /// The policy version that decided.
    pub policy_version: String,
    /// The wallet's level, if it sent one.
    pub wallet_level: Option<u8>,
    /// The service's level (before the trusted-push credit).
    pub service_level: u8,
    /// The level the outcome is based on.
    pub final_level: u8,
    /// Whether the wallet marked its level non-override.
    pub non_override: bool,
    /// The rule applied.
    pub merge_rule: MergeRule,
    /// The outcome.
    pub outcome: Outcome,
    /// Every policy rule that fired.
    pub fired: Vec<FiredRule>,
    /// The fired rules' and the merge's reasons, in order.
    pub reasons: Vec<Reason>,
    /// On the wallet path: what the issuer's decisioning said (or the fallback), with its
    /// latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerVerdict>,
}

/// Evaluates `policy` for `issuer_id` and merges with the wallet's level. A pure function of
/// its inputs.
pub fn evaluate(
    policy: &Policy,
    issuer_id: &str,
    wallet: &WalletInput,
    signals: &Signals,
    way: &Way,
) -> RiskDecision {
    let profile = policy.profile(issuer_id);
    let service = assess(profile, signals, wallet);
    let mut d = decide(wallet, &service, way, profile.merge, profile.thresholds());
    d.policy_version.clone_from(&profile.version);
    d
}

/// Merges the wallet's and the service's levels, as US 10,140,615 claims it:
///
/// - non-override, wallet lower: the service's level is final and the credential is not
///   provisioned without further authentication (step-up at least; decline in that band);
/// - non-override, wallet higher or equal: the wallet's level is final;
/// - no non-override: the service decides, and on the trusted issuer-app path it may lower
///   its level by the credit (never below a rule's floor);
/// - a missing or unassessable wallet risk: the service's level, at least a stand-in level.
///
/// Then the way in: a trusted push in the step-up band is approved (US 10,243,958); on the
/// wallet path the issuer's decline declines and its "require authentication" makes at least
/// step-up.
pub fn decide(
    wallet: &WalletInput,
    service: &ServiceAssessment,
    way: &Way,
    merge: MergeSettings,
    thresholds: Thresholds,
) -> RiskDecision {
    let trusted_push = way.is_issuer_app();
    let s = service.level();
    let mut reasons: Vec<Reason> = service
        .fired
        .iter()
        .map(|f| Reason {
            code: f.code.clone(),
            text: f.text.clone(),
        })
        .collect();
    // Without non-override the service may lower its level on the trusted issuer-app path,
    // never below a rule's floor.
    let credited = if trusted_push && !wallet.non_override() {
        service
            .weighted
            .saturating_sub(merge.trusted_push_credit)
            .max(service.floor)
    } else {
        s
    };
    if credited < s {
        reasons.push(Reason {
            code: "trusted_issuer_push".into(),
            text: format!(
                "The issuer's app signed the request after authenticating the cardholder; the service lowers its level by up to {}.",
                merge.trusted_push_credit
            ),
        });
    }
    let (final_level, mut merge_rule, mut outcome) = match wallet {
        WalletInput::Assessed(w) if w.non_override && w.level < s => {
            reasons.push(Reason {
                code: "non_override_service_higher".into(),
                text: "The wallet's non-override level is below the service's: the service's level is final and the credential needs further authentication.".into(),
            });
            let outcome = thresholds.band(s).max(Outcome::StepUp);
            (s, MergeRule::NonOverrideServiceHigher, outcome)
        }
        WalletInput::Assessed(w) if w.non_override => {
            reasons.push(Reason {
                code: "non_override_wallet_floor".into(),
                text: "The wallet's non-override level is at or above the service's: the wallet's level is final.".into(),
            });
            (
                w.level,
                MergeRule::NonOverrideWalletFloor,
                thresholds.band(w.level),
            )
        }
        WalletInput::Assessed(_) => (credited, MergeRule::ServiceLevel, thresholds.band(credited)),
        WalletInput::Missing | WalletInput::Unassessable { .. } => {
            let (stand_in, rule, code, what) = match wallet {
                WalletInput::Missing => (
                    merge.missing_wallet_level,
                    MergeRule::NoWalletRisk,
                    "wallet_risk_missing",
                    "sent no risk assessment",
                ),
                _ => (
                    merge.unassessable_wallet_level,
                    MergeRule::WalletRiskUnassessable,
                    "wallet_risk_unassessable",
                    "could not assess the risk",
                ),
            };
            reasons.push(Reason {
                code: code.into(),
                text: format!("The wallet {what}; the final level is at least {stand_in}."),
            });
            let l = credited.max(stand_in);
            (l, rule, thresholds.band(l))
        }
    };
    match way {
        Way::IssuerApp { step_up: false } if outcome == Outcome::StepUp => {
            reasons.push(Reason {
                code: "issuer_app_authenticated".into(),
                text: "The issuer's app authenticated the cardholder and signed the request data, so the credential is provisioned without step-up (US 10,243,958).".into(),
            });
            merge_rule = MergeRule::IssuerAppAuthenticated;
            outcome = Outcome::Approve;
        }
        Way::Wallet { issuer: Some(v) } => {
            let (code, text) = match (v.decision, v.fallback.is_some()) {
                (IssuerDecision::Decline, _) => {
                    outcome = Outcome::Decline;
                    (
                        "issuer_declined",
                        "The issuer declined the card for this wallet.",
                    )
                }
                (IssuerDecision::RequireAuthentication, fallback) => {
                    outcome = outcome.max(Outcome::StepUp);
                    if fallback {
                        (
                            "issuer_decision_unavailable",
                            "The issuer's decisioning gave no usable answer in time; the fallback requires authentication.",
                        )
                    } else {
                        (
                            "issuer_requires_authentication",
                            "The issuer requires the cardholder to authenticate.",
                        )
                    }
                }
                (IssuerDecision::Approve, _) => {
                    ("issuer_approved", "The issuer approved; the levels decide.")
                }
            };
            reasons.push(Reason {
                code: code.into(),
                text: text.into(),
            });
        }
        _ => {}
    }
    RiskDecision {
        policy_version: String::new(),
        wallet_level: wallet.level(),
        service_level: s,
        final_level,
        non_override: wallet.non_override(),
        merge_rule,
        outcome,
        fired: service.fired.clone(),
        reasons,
        issuer: match way {
            Way::Wallet { issuer } => issuer.clone(),
            Way::IssuerApp { .. } => None,
        },
    }
}

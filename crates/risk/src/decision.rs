//! Merging two risk levels into one decision.

use serde::{Deserialize, Serialize};

/// The wallet's own risk assessment, as sent in `wallet_risk` (PROTOCOL.md section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletRisk {
    /// 0 to 99, higher is riskier (the "first risk level" of US 10,140,615).
    pub level: u8,
    /// When set, the wallet's level is a floor the service may not lower.
    pub non_override: bool,
    /// The wallet's reason codes, kept for the record.
    pub reason_codes: Vec<String>,
}

/// One reason behind a level: a stable machine code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable sentence.
    pub text: String,
}

/// The token service's own level (the "second risk level") and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAssessment {
    /// 0 to 99.
    pub level: u8,
    /// Every rule that contributed.
    pub reasons: Vec<Reason>,
}

/// Band boundaries: approve below `step_up_from`, decline from `decline_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Lowest level that requires step-up (default 40).
    pub step_up_from: u8,
    /// Lowest level that is declined (default 80).
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
    fn band(self, level: u8) -> Outcome {
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
    /// credential is not provisioned without further authentication.
    NonOverrideServiceHigher,
    /// Non-override, wallet level at or above the service's: the wallet's level is final.
    NonOverrideWalletFloor,
    /// No non-override: the service's level is final.
    ServiceLevel,
    /// The wallet sent no risk: the service's level is final, and the absence is recorded.
    NoWalletRisk,
}

/// The merged decision, with everything needed to explain it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskDecision {
    /// The wallet's level, if it sent one.
    pub wallet_level: Option<u8>,
    /// The service's level.
    pub service_level: u8,
    /// The level the outcome is based on.
    pub final_level: u8,
    /// Whether the wallet marked its level non-override.
    pub non_override: bool,
    /// The rule applied.
    pub merge_rule: MergeRule,
    /// The outcome.
    pub outcome: Outcome,
    /// The service's reasons, and the merge's own.
    pub reasons: Vec<Reason>,
}

/// Merges the wallet's and the service's levels, exactly as US 10,140,615 claims it.
///
/// A pure function of its inputs.
pub fn decide(
    wallet: Option<&WalletRisk>,
    service: &ServiceAssessment,
    thresholds: Thresholds,
) -> RiskDecision {
    let mut reasons = service.reasons.clone();
    let (final_level, merge_rule, outcome) = match wallet {
        None => {
            reasons.push(Reason {
                code: "wallet_risk_missing".into(),
                text: "The wallet sent no risk assessment; the service's level alone decides."
                    .into(),
            });
            (
                service.level,
                MergeRule::NoWalletRisk,
                thresholds.band(service.level),
            )
        }
        Some(w) if w.non_override && w.level < service.level => {
            // The service's level is final, and the credential is not provisioned without
            // further authentication, even inside the approve band.
            let outcome = thresholds.band(service.level).max(Outcome::StepUp);
            (service.level, MergeRule::NonOverrideServiceHigher, outcome)
        }
        Some(w) if w.non_override => (
            w.level,
            MergeRule::NonOverrideWalletFloor,
            thresholds.band(w.level),
        ),
        Some(_) => (
            service.level,
            MergeRule::ServiceLevel,
            thresholds.band(service.level),
        ),
    };
    RiskDecision {
        wallet_level: wallet.map(|w| w.level),
        service_level: service.level,
        final_level,
        non_override: wallet.is_some_and(|w| w.non_override),
        merge_rule,
        outcome,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(level: u8) -> ServiceAssessment {
        ServiceAssessment {
            level,
            reasons: vec![],
        }
    }

    fn wallet(level: u8, non_override: bool) -> WalletRisk {
        WalletRisk {
            level,
            non_override,
            reason_codes: vec![],
        }
    }

    #[test]
    fn branches() {
        let t = Thresholds::default();
        let d = decide(Some(&wallet(10, true)), &service(35), t);
        assert_eq!(
            (d.final_level, d.merge_rule, d.outcome),
            (35, MergeRule::NonOverrideServiceHigher, Outcome::StepUp)
        );
        let d = decide(Some(&wallet(90, true)), &service(35), t);
        assert_eq!((d.final_level, d.outcome), (90, Outcome::Decline));
        let d = decide(Some(&wallet(30, true)), &service(10), t);
        assert_eq!(
            (d.final_level, d.merge_rule, d.outcome),
            (30, MergeRule::NonOverrideWalletFloor, Outcome::Approve)
        );
        let d = decide(Some(&wallet(90, false)), &service(10), t);
        assert_eq!((d.final_level, d.outcome), (10, Outcome::Approve));
        let d = decide(None, &service(85), t);
        assert_eq!(
            (d.merge_rule, d.outcome),
            (MergeRule::NoWalletRisk, Outcome::Decline)
        );
        assert!(d.reasons.iter().any(|r| r.code == "wallet_risk_missing"));
    }

    proptest::proptest! {
        #[test]
        fn non_override_is_a_floor(w in 0u8..100, s in 0u8..100) {
            let d = decide(Some(&wallet(w, true)), &service(s), Thresholds::default());
            proptest::prop_assert!(d.final_level >= w);
            proptest::prop_assert!(d.final_level >= s);
        }

        #[test]
        fn raising_the_service_level_never_lowers_the_outcome(w in 0u8..100, s in 0u8..99, n in proptest::bool::ANY) {
            let t = Thresholds::default();
            let lo = decide(Some(&wallet(w, n)), &service(s), t);
            let hi = decide(Some(&wallet(w, n)), &service(s + 1), t);
            proptest::prop_assert!(hi.final_level >= lo.final_level);
            proptest::prop_assert!(hi.outcome >= lo.outcome);
        }
    }
}

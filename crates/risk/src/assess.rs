//! The token service's own level (the "second risk level" of US 10,140,615) from its signals.

use serde::Serialize;

use crate::policy::{Effect, Profile};
use crate::signals::{SignalKind, Signals, WalletInput};

/// One rule that fired: its code, its sentence and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FiredRule {
    /// Stable machine code.
    pub code: String,
    /// Sentence for people.
    pub text: String,
    /// The weight it added (negative: a credit), when it is a weighted rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// The floor it set, when it is a floor rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<u8>,
}

/// The service's level and how it came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAssessment {
    /// Base level plus the fired weights, clamped to 0..=99.
    pub weighted: u8,
    /// The highest floor of a fired rule (0 if none).
    pub floor: u8,
    /// Every rule that fired, in policy order.
    pub fired: Vec<FiredRule>,
}

impl ServiceAssessment {
    /// The service's level: the weighted level, at least the floor.
    pub fn level(&self) -> u8 {
        self.weighted.max(self.floor)
    }

    /// An assessment of exactly `level`, with no rules (for tests and tools).
    pub fn fixed(level: u8) -> Self {
        Self {
            weighted: level.min(99),
            floor: 0,
            fired: Vec::new(),
        }
    }
}

/// Evaluates the profile's rules on the signals. A pure function of its inputs.
pub fn assess(profile: &Profile, signals: &Signals, wallet: &WalletInput) -> ServiceAssessment {
    let mut sum = i32::from(profile.base_level);
    let mut floor = 0u8;
    let mut fired = Vec::new();
    for rule in &profile.rules {
        let Some(value) = rule.signal.value(signals, wallet) else {
            continue;
        };
        let fires = match rule.signal.kind() {
            SignalKind::RiskCount => value >= rule.threshold,
            SignalKind::RiskAge => value < rule.threshold,
            SignalKind::RiskFlag | SignalKind::MitigatingFlag => value != 0,
        };
        if !fires {
            continue;
        }
        let (weight, rule_floor) = match rule.effect {
            Effect::Weight(w) => {
                sum += w;
                (Some(w), None)
            }
            Effect::Floor(f) => {
                floor = floor.max(f);
                (None, Some(f))
            }
        };
        fired.push(FiredRule {
            code: rule.code.clone(),
            text: rule.text.clone(),
            weight,
            floor: rule_floor,
        });
    }
    ServiceAssessment {
        // Clamped to 0..=99 first, so the cast is exact.
        weighted: sum.clamp(0, 99) as u8,
        floor,
        fired,
    }
}

//! The security level the service assigns a new account's user, from configurable rules on
//! device risk, data mismatches and account history. It sets how many knowledge-based
//! questions each attempt asks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How much proof the user must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityLevel {
    /// Nothing raised doubt.
    Low,
    /// Some doubt.
    Medium,
    /// Strong doubt.
    High,
}

/// What the service knows about a new account's device, data and history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelFacts {
    /// The device is on the block list.
    pub device_blocklisted: bool,
    /// The wallet's own device risk score (0–99), if it sent one.
    pub device_risk_score: Option<u8>,
    /// Other wallet users with accounts on this device.
    pub other_users_on_device: u32,
    /// The issuer loaded no enrolment for this customer (only known for the bank source).
    pub customer_unknown: bool,
    /// The name differs from the issuer's enrolment.
    pub name_mismatch: bool,
    /// The phone number differs from the issuer's enrolment.
    pub phone_mismatch: bool,
    /// The e-mail address differs from the issuer's enrolment.
    pub email_mismatch: bool,
    /// Days the customer has been with the issuer, when the enrolment says.
    pub customer_days: Option<i64>,
    /// Earlier accounts of this wallet user or issuer customer that were locked.
    pub prior_locked_accounts: u32,
}

/// Points per rule and the thresholds between levels. Every weight is configurable; the
/// level is `HIGH` at `high_at` points or more, `MEDIUM` at `medium_at` or more.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelRules {
    /// Points for a blocklisted device.
    pub device_blocklisted: u32,
    /// Points when the wallet's device risk score is at least `device_risk_threshold`.
    pub device_risk_high: u32,
    /// The score from which `device_risk_high` applies.
    pub device_risk_threshold: u8,
    /// Points when other users have accounts on the device.
    pub device_shared: u32,
    /// Points when the issuer has no enrolment for the customer.
    pub customer_unknown: u32,
    /// Points for a name mismatch.
    pub name_mismatch: u32,
    /// Points for a phone mismatch.
    pub phone_mismatch: u32,
    /// Points for an e-mail mismatch.
    pub email_mismatch: u32,
    /// Points when the customer is newer than `new_customer_days`.
    pub new_customer: u32,
    /// The age in days below which a customer is new.
    pub new_customer_days: i64,
    /// Points for an earlier locked account.
    pub prior_locked_account: u32,
    /// The threshold for `MEDIUM`.
    pub medium_at: u32,
    /// The threshold for `HIGH`.
    pub high_at: u32,
}

/// The level and the rules that led to it (kept for audit, not told to the wallet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelDecision {
    /// The level.
    pub level: SecurityLevel,
    /// The points.
    pub score: u32,
    /// The codes of the rules that fired.
    pub reasons: Vec<&'static str>,
}

impl SecurityLevel {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl Default for LevelRules {
    fn default() -> Self {
        Self {
            device_blocklisted: 100,
            device_risk_high: 40,
            device_risk_threshold: 70,
            device_shared: 30,
            customer_unknown: 40,
            name_mismatch: 25,
            phone_mismatch: 25,
            email_mismatch: 15,
            new_customer: 15,
            new_customer_days: 90,
            prior_locked_account: 40,
            medium_at: 30,
            high_at: 60,
        }
    }
}

impl LevelRules {
    /// Refuses thresholds that make a level unreachable or out of order.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.medium_at == 0 || self.high_at <= self.medium_at {
            return Err("security level thresholds need 0 < medium_at < high_at");
        }
        Ok(())
    }

    /// The level for `facts`.
    pub fn decide(&self, facts: &LevelFacts) -> LevelDecision {
        let rules: [(bool, u32, &'static str); 9] = [
            (
                facts.device_blocklisted,
                self.device_blocklisted,
                "device_blocklisted",
            ),
            (
                facts
                    .device_risk_score
                    .is_some_and(|s| s >= self.device_risk_threshold),
                self.device_risk_high,
                "device_risk_high",
            ),
            (
                facts.other_users_on_device > 0,
                self.device_shared,
                "device_shared",
            ),
            (
                facts.customer_unknown,
                self.customer_unknown,
                "customer_unknown",
            ),
            (facts.name_mismatch, self.name_mismatch, "name_mismatch"),
            (facts.phone_mismatch, self.phone_mismatch, "phone_mismatch"),
            (facts.email_mismatch, self.email_mismatch, "email_mismatch"),
            (
                facts
                    .customer_days
                    .is_some_and(|d| d < self.new_customer_days),
                self.new_customer,
                "new_customer",
            ),
            (
                facts.prior_locked_accounts > 0,
                self.prior_locked_account,
                "prior_locked_account",
            ),
        ];
        let fired: Vec<_> = rules.iter().filter(|(on, _, _)| *on).collect();
        let score = fired
            .iter()
            .map(|(_, w, _)| *w)
            .fold(0u32, u32::saturating_add);
        let level = if score >= self.high_at {
            SecurityLevel::High
        } else if score >= self.medium_at {
            SecurityLevel::Medium
        } else {
            SecurityLevel::Low
        };
        LevelDecision {
            level,
            score,
            reasons: fired.iter().map(|(_, _, code)| *code).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_facts_are_low_and_rules_add_up_to_the_thresholds() {
        let rules = LevelRules::default();
        let low = rules.decide(&LevelFacts::default());
        assert_eq!((low.level, low.score), (SecurityLevel::Low, 0));
        assert!(low.reasons.is_empty());

        let medium = rules.decide(&LevelFacts {
            phone_mismatch: true,
            email_mismatch: true,
            ..LevelFacts::default()
        });
        assert_eq!(medium.level, SecurityLevel::Medium);
        assert_eq!(medium.score, 40);
        assert_eq!(medium.reasons, ["phone_mismatch", "email_mismatch"]);

        let high = rules.decide(&LevelFacts {
            device_blocklisted: true,
            ..LevelFacts::default()
        });
        assert_eq!(high.level, SecurityLevel::High);
    }

    #[test]
    fn device_score_and_customer_age_use_their_thresholds() {
        let rules = LevelRules::default();
        let at = |score, days| {
            rules
                .decide(&LevelFacts {
                    device_risk_score: Some(score),
                    customer_days: Some(days),
                    ..LevelFacts::default()
                })
                .reasons
        };
        assert!(at(69, 90).is_empty());
        assert_eq!(at(70, 89), ["device_risk_high", "new_customer"]);
    }

    #[test]
    fn thresholds_must_be_ordered() {
        let mut rules = LevelRules::default();
        assert!(rules.check().is_ok());
        rules.high_at = rules.medium_at;
        assert!(rules.check().is_err());
    }
}

//! Configuration of account activation: the `[accounts]` table of the server's config file.

use serde::Deserialize;

use crate::{LevelRules, SecurityLevel};

/// Limits of activation and knowledge-based verification. The defaults follow NIST SP
/// 800-63A section 5.3.2 (at most three attempts, two minutes per question, at least four
/// options per multiple-choice question, at least four questions at every level).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// How long an account may stay `PENDING_ACTIVATION` (default 30 days).
    pub pending_ttl_s: i64,
    /// Time to answer one question; exceeding it fails the attempt (default 120).
    pub question_time_limit_s: i64,
    /// Attempts before the account is locked (default 3, the most 800-63A allows).
    pub max_attempts: u32,
    /// Questions per attempt at `LOW` (default 4, at least [`MIN_QUESTIONS`]).
    pub questions_low: u32,
    /// Questions per attempt at `MEDIUM` (default 5).
    pub questions_medium: u32,
    /// Questions per attempt at `HIGH` (default 6).
    pub questions_high: u32,
    /// Options per question the bank builds (default 4, at least 4).
    pub options_per_question: u32,
    /// The module version the manifest announces.
    pub module_version: String,
    /// The oldest wallet SDK that may install the module.
    pub min_sdk_version: String,
    /// The security level rules.
    pub level: LevelRules,
}

/// The fewest questions an attempt may ask, at any level: NIST SP 800-63A section 5.3.2 asks
/// knowledge-based verification for a minimum of four questions.
pub const MIN_QUESTIONS: u32 = 4;
/// The most questions an attempt may ask.
pub const MAX_QUESTIONS: u32 = 10;

/// Longest question or option text a source may send, in bytes.
pub(crate) const MAX_TEXT: usize = 300;
/// Most options per question a source may send.
pub(crate) const MAX_OPTIONS: usize = 8;

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            pending_ttl_s: 30 * 86_400,
            question_time_limit_s: 120,
            max_attempts: 3,
            questions_low: 4,
            questions_medium: 5,
            questions_high: 6,
            options_per_question: 4,
            module_version: "1.0.0".into(),
            min_sdk_version: env!("CARGO_PKG_VERSION").into(),
            level: LevelRules::default(),
        }
    }
}

impl AccountsConfig {
    /// Questions per attempt at `level`.
    pub fn questions_for(&self, level: SecurityLevel) -> u32 {
        match level {
            SecurityLevel::Low => self.questions_low,
            SecurityLevel::Medium => self.questions_medium,
            SecurityLevel::High => self.questions_high,
        }
    }

    /// Refuses settings that break the rules this service promises.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=3).contains(&self.max_attempts) {
            return Err("accounts.max_attempts must be 1 to 3 (NIST SP 800-63A 5.3.2)".into());
        }
        if self.question_time_limit_s <= 0 || self.pending_ttl_s <= 0 {
            return Err("accounts: time limits must be positive".into());
        }
        let counts = [
            self.questions_low,
            self.questions_medium,
            self.questions_high,
        ];
        if counts
            .iter()
            .any(|c| !(MIN_QUESTIONS..=MAX_QUESTIONS).contains(c))
            || !counts.is_sorted()
        {
            return Err(format!(
                "accounts: questions_low <= questions_medium <= questions_high, each \
                 {MIN_QUESTIONS} to {MAX_QUESTIONS} (NIST SP 800-63A 5.3.2: at least four questions)"
            ));
        }
        if !(4..=MAX_OPTIONS as u32).contains(&self.options_per_question) {
            return Err(format!(
                "accounts.options_per_question must be 4 to {MAX_OPTIONS}"
            ));
        }
        for v in [&self.module_version, &self.min_sdk_version] {
            semver::Version::parse(v)
                .map_err(|e| format!("accounts: {v:?} is not a semantic version: {e}"))?;
        }
        self.level.check().map_err(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_counts_follow_the_level() {
        let c = AccountsConfig::default();
        c.check().unwrap();
        assert_eq!(
            [
                SecurityLevel::Low,
                SecurityLevel::Medium,
                SecurityLevel::High
            ]
            .map(|l| c.questions_for(l)),
            [4, 5, 6]
        );
    }

    #[test]
    fn fewer_than_four_questions_are_refused_at_every_level() {
        for (low, medium, high) in [(3, 5, 6), (1, 4, 4), (3, 3, 3)] {
            let c = AccountsConfig {
                questions_low: low,
                questions_medium: medium,
                questions_high: high,
                ..AccountsConfig::default()
            };
            let e = c.check().unwrap_err();
            assert!(e.contains("at least four questions"), "{e}");
        }
        let four_everywhere = AccountsConfig {
            questions_low: 4,
            questions_medium: 4,
            questions_high: 4,
            ..AccountsConfig::default()
        };
        four_everywhere.check().unwrap();
    }

    #[test]
    fn out_of_rule_settings_are_refused() {
        let bad = [
            AccountsConfig {
                max_attempts: 4,
                ..AccountsConfig::default()
            },
            AccountsConfig {
                options_per_question: 3,
                ..AccountsConfig::default()
            },
            AccountsConfig {
                questions_low: 7,
                ..AccountsConfig::default()
            },
            AccountsConfig {
                module_version: "one".into(),
                ..AccountsConfig::default()
            },
        ];
        for c in bad {
            assert!(c.check().is_err(), "{c:?}");
        }
    }
}

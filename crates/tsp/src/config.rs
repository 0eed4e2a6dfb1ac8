//! Token service configuration.

use provisio_risk::Policy;

use crate::{PushError, StepUpConfig};

/// The token BIN range tokens are minted from: a fixed prefix and a total length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBin {
    prefix: String,
    length: usize,
}

impl TokenBin {
    /// A range of `length`-digit numbers starting with `prefix` (6 to 11 digits; length 13 to
    /// 19, leaving at least two free digits plus the Luhn check digit).
    pub fn new(prefix: &str, length: usize) -> Result<Self, PushError> {
        let ok = (6..=11).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && (13..=19).contains(&length)
            && length >= prefix.len() + 3;
        if !ok {
            return Err(PushError::Config(
                "token BIN: 6-11 digit prefix, length 13-19",
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            length,
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The total number of digits.
    pub fn length(&self) -> usize {
        self.length
    }
}

/// What the token service needs to know besides its keys.
#[derive(Debug, Clone)]
pub struct TspConfig {
    /// The TSP's id: the `aud` every request must carry (default `provisio`).
    pub tsp_id: String,
    /// Allowed `|received_at - iat|` in seconds (default 300).
    pub freshness_window_s: i64,
    /// Token BIN range.
    pub token_bin: TokenBin,
    /// Token lifetime in months from issuance (default 36).
    pub token_validity_months: u32,
    /// Step-up limits.
    pub step_up: StepUpConfig,
    /// The risk policy (default: the built-in one).
    pub risk_policy: Policy,
    /// How token events are retried and when they are dead-lettered.
    pub events: crate::EventConfig,
    /// How long a token may stay `INACTIVE` (step-up never completed) before it is deleted,
    /// in seconds (default 30 days; docs/protocol.md §15.4).
    pub pending_token_ttl_s: i64,
    /// How authorisations are decided (docs/protocol.md §16).
    pub payments: crate::PaymentConfig,
    /// How issuers' decisioning is asked (docs/protocol.md §17.3).
    pub decisioning: crate::DecisioningConfig,
}

impl Default for TspConfig {
    fn default() -> Self {
        Self {
            tsp_id: "provisio".into(),
            freshness_window_s: 300,
            // A prefix in the 4 range reserved here for Provisio demo tokens; deployments set
            // the BIN range their network assigned.
            token_bin: TokenBin {
                prefix: "4895370".into(),
                length: 16,
            },
            token_validity_months: 36,
            step_up: StepUpConfig::default(),
            risk_policy: Policy::builtin(),
            events: crate::EventConfig::default(),
            pending_token_ttl_s: 30 * 24 * 3600,
            payments: crate::PaymentConfig::default(),
            decisioning: crate::DecisioningConfig::default(),
        }
    }
}

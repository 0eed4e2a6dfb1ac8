//! What a risk decision is made from: the wallet's own assessment and the token service's
//! signals (US 10,140,615: the "first" and the inputs of the "second" risk level).

use serde::{Deserialize, Serialize};

/// The wallet's risk assessment as it arrived. A missing or unassessable assessment is its
/// own case, never read as "low".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WalletInput {
    /// The wallet sent no `wallet_risk`.
    Missing,
    /// The wallet sent `wallet_risk` without a level: it tried and could not assess.
    Unassessable {
        /// The wallet's reason codes.
        #[serde(default)]
        reason_codes: Vec<String>,
    },
    /// The wallet's level.
    Assessed(WalletRisk),
}

/// The wallet's risk assessment (docs/protocol.md §5.1, `wallet_risk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletRisk {
    /// 0 to 99, higher is riskier.
    pub level: u8,
    /// When set, the wallet's level is a floor the service may not lower.
    #[serde(default)]
    pub non_override: bool,
    /// The wallet's reason codes, kept for the record.
    #[serde(default)]
    pub reason_codes: Vec<String>,
    /// The wallet's device score, 0 to 99, higher is riskier.
    #[serde(default)]
    pub device_score: Option<u8>,
    /// The wallet's account score, 0 to 99, higher is riskier.
    #[serde(default)]
    pub account_score: Option<u8>,
}

impl WalletInput {
    /// The wallet's level, when it sent one.
    pub fn level(&self) -> Option<u8> {
        match self {
            Self::Assessed(w) => Some(w.level),
            _ => None,
        }
    }

    /// Whether the wallet marked its level non-override.
    pub fn non_override(&self) -> bool {
        matches!(self, Self::Assessed(w) if w.non_override)
    }
}

/// The most any count of [`Signals`] reads: 100 means "100 or more". The store stops counting
/// there, so that a card, device or user with a flood of attempts costs each later request a
/// bounded read (docs/flows/risk.md); a policy cannot test a count beyond it.
pub const COUNT_CAP: u32 = 100;

/// The token service's own signals, gathered from its store before the evaluation.
///
/// Counts are over sliding windows ending at the request; "attempts" are processed push
/// requests whatever their outcome. Every count reads at most [`COUNT_CAP`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Signals {
    /// Attempts for this card (by PAN hash) in the last hour.
    pub card_attempts_1h: u32,
    /// Attempts for this card in the last 24 hours.
    pub card_attempts_24h: u32,
    /// Attempts from this device in the last hour.
    pub device_attempts_1h: u32,
    /// Attempts from this device in the last 24 hours.
    pub device_attempts_24h: u32,
    /// Attempts by this wallet user in the last 24 hours.
    pub user_attempts_24h: u32,
    /// Tokens already bound to this device.
    pub device_tokens: u32,
    /// Distinct cards provisioned to this device in the last 24 hours, this one included.
    pub device_distinct_cards_24h: u32,
    /// Days since the wallet account was created (hosted accounts) or since the service first
    /// saw the wallet user (wallets with their own accounts); 0 for a new one.
    pub account_age_days: u32,
    /// Declined requests for this card, device or user in the last 30 days.
    pub recent_declines: u32,
    /// Failed step-up verifications for this card, device or user in the last 30 days.
    pub failed_step_ups: u32,
    /// The device id is on the block list.
    pub device_blocked: bool,
    /// The card (PAN hash) is on the block list.
    pub pan_blocked: bool,
    /// The card's BIN is on the block list.
    pub bin_blocked: bool,
    /// The device id is on the allow list.
    pub device_allowed: bool,
    /// The card is on the allow list.
    pub pan_allowed: bool,
}

/// A signal a policy rule can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// [`Signals::card_attempts_1h`].
    CardAttempts1h,
    /// [`Signals::card_attempts_24h`].
    CardAttempts24h,
    /// [`Signals::device_attempts_1h`].
    DeviceAttempts1h,
    /// [`Signals::device_attempts_24h`].
    DeviceAttempts24h,
    /// [`Signals::user_attempts_24h`].
    UserAttempts24h,
    /// [`Signals::device_tokens`].
    DeviceTokens,
    /// [`Signals::device_distinct_cards_24h`].
    DeviceDistinctCards24h,
    /// [`Signals::recent_declines`].
    RecentDeclines,
    /// [`Signals::failed_step_ups`].
    FailedStepUps,
    /// The wallet's level (only when it sent one without non-override).
    WalletLevel,
    /// The wallet's device score (only when it sent one without non-override).
    WalletDeviceScore,
    /// The wallet's account score (only when it sent one without non-override).
    WalletAccountScore,
    /// [`Signals::account_age_days`]; younger is riskier.
    AccountAgeDays,
    /// [`Signals::device_blocked`].
    DeviceBlocked,
    /// [`Signals::pan_blocked`].
    PanBlocked,
    /// [`Signals::bin_blocked`].
    BinBlocked,
    /// [`Signals::device_allowed`]; lowers risk.
    DeviceAllowed,
    /// [`Signals::pan_allowed`]; lowers risk.
    PanAllowed,
}

/// How a rule compares a signal, which follows from the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// A count or score where more is riskier: rules say `at_least = N`.
    RiskCount,
    /// An age where less is riskier: rules say `below = N`.
    RiskAge,
    /// A flag that raises risk when set.
    RiskFlag,
    /// A flag that lowers risk when set: only non-positive weights.
    MitigatingFlag,
}

impl Signal {
    /// Every signal, for parsing and for tests.
    pub const ALL: [Signal; 18] = [
        Self::CardAttempts1h,
        Self::CardAttempts24h,
        Self::DeviceAttempts1h,
        Self::DeviceAttempts24h,
        Self::UserAttempts24h,
        Self::DeviceTokens,
        Self::DeviceDistinctCards24h,
        Self::RecentDeclines,
        Self::FailedStepUps,
        Self::WalletLevel,
        Self::WalletDeviceScore,
        Self::WalletAccountScore,
        Self::AccountAgeDays,
        Self::DeviceBlocked,
        Self::PanBlocked,
        Self::BinBlocked,
        Self::DeviceAllowed,
        Self::PanAllowed,
    ];

    /// The name policies use.
    pub fn name(self) -> &'static str {
        match self {
            Self::CardAttempts1h => "card_attempts_1h",
            Self::CardAttempts24h => "card_attempts_24h",
            Self::DeviceAttempts1h => "device_attempts_1h",
            Self::DeviceAttempts24h => "device_attempts_24h",
            Self::UserAttempts24h => "user_attempts_24h",
            Self::DeviceTokens => "device_tokens",
            Self::DeviceDistinctCards24h => "device_distinct_cards_24h",
            Self::RecentDeclines => "recent_declines",
            Self::FailedStepUps => "failed_step_ups",
            Self::WalletLevel => "wallet_level",
            Self::WalletDeviceScore => "wallet_device_score",
            Self::WalletAccountScore => "wallet_account_score",
            Self::AccountAgeDays => "account_age_days",
            Self::DeviceBlocked => "device_blocked",
            Self::PanBlocked => "pan_blocked",
            Self::BinBlocked => "bin_blocked",
            Self::DeviceAllowed => "device_allowed",
            Self::PanAllowed => "pan_allowed",
        }
    }

    /// Parses a policy's signal name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// How rules compare it.
    pub fn kind(self) -> SignalKind {
        match self {
            Self::AccountAgeDays => SignalKind::RiskAge,
            Self::DeviceBlocked | Self::PanBlocked | Self::BinBlocked => SignalKind::RiskFlag,
            Self::DeviceAllowed | Self::PanAllowed => SignalKind::MitigatingFlag,
            _ => SignalKind::RiskCount,
        }
    }

    /// The signal's value: a number, `1`/`0` for flags, `None` when the wallet did not send
    /// the score or level it names.
    ///
    /// A non-override wallet level is the first level of US 10,140,615 claim 1, and the
    /// second must come from "additional information ... different than the first set of
    /// information": so the wallet's own level and scores are not service signals then.
    pub(crate) fn value(self, s: &Signals, wallet: &WalletInput) -> Option<u32> {
        let assessed = match wallet {
            WalletInput::Assessed(w) if !w.non_override => Some(w),
            _ => None,
        };
        Some(match self {
            Self::CardAttempts1h => s.card_attempts_1h,
            Self::CardAttempts24h => s.card_attempts_24h,
            Self::DeviceAttempts1h => s.device_attempts_1h,
            Self::DeviceAttempts24h => s.device_attempts_24h,
            Self::UserAttempts24h => s.user_attempts_24h,
            Self::DeviceTokens => s.device_tokens,
            Self::DeviceDistinctCards24h => s.device_distinct_cards_24h,
            Self::RecentDeclines => s.recent_declines,
            Self::FailedStepUps => s.failed_step_ups,
            Self::WalletLevel => u32::from(assessed?.level),
            Self::WalletDeviceScore => u32::from(assessed?.device_score?),
            Self::WalletAccountScore => u32::from(assessed?.account_score?),
            Self::AccountAgeDays => s.account_age_days,
            Self::DeviceBlocked => u32::from(s.device_blocked),
            Self::PanBlocked => u32::from(s.pan_blocked),
            Self::BinBlocked => u32::from(s.bin_blocked),
            Self::DeviceAllowed => u32::from(s.device_allowed),
            Self::PanAllowed => u32::from(s.pan_allowed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Signal::ALL {
            assert_eq!(Signal::parse(s.name()), Some(s));
        }
        assert_eq!(Signal::parse("nope"), None);
    }
}

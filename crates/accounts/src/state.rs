//! The life cycle of a hosted mobile payment account (US 10,699,267).
//!
//! ```text
//!                    ┌── KBA passed / issuer verified ──► ACTIVE
//!  (created) ──► PENDING_ACTIVATION ── KBA failed too often ──► LOCKED
//!                    └── pending time elapsed ──► EXPIRED
//! ```
//!
//! `PENDING_ACTIVATION` is one-time: no transition leads back to it. Every other pair of
//! state and event is an [`IllegalTransition`], never a silent no-op, and every transition
//! that happens is recorded as a [`Transition`] in the append-only audit table.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountState {
    /// Created, not yet verified; cannot be used for anything that pays.
    PendingActivation,
    /// Verified; cards may be provisioned to it on its device.
    Active,
    /// Verification failed too often.
    Locked,
    /// Not verified in time.
    Expired,
}

/// What happened to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// Every question of an attempt was answered right in time.
    KbaPassed,
    /// The last allowed attempt failed (`reason`: wrong answers or a time-out).
    KbaFailed {
        /// `kba_wrong_answers` or `kba_timeout`.
        reason: &'static str,
    },
    /// The issuer verified the user by another method after an opt-out.
    IssuerVerified {
        /// How (`CALL_CENTER`, `BRANCH`, `ISSUER_APP`).
        method: &'static str,
    },
    /// The pending time elapsed.
    PendingExpired,
}

/// Who caused a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// The wallet, on behalf of its user.
    Wallet,
    /// The card issuer.
    Issuer,
    /// The service itself (expiry).
    System,
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The account.
    pub account_id: String,
    /// The state before; `None` when the account was created.
    pub from: Option<AccountState>,
    /// The state after.
    pub to: AccountState,
    /// Who caused it.
    pub channel: Channel,
    /// Why, as a stable code.
    pub reason: String,
    /// Unix seconds.
    pub at: i64,
}

/// An event that is not allowed in the account's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an account in state {from} cannot take the event {event}")]
pub struct IllegalTransition {
    /// The current state.
    pub from: AccountState,
    /// What was attempted.
    pub event: &'static str,
}

impl AccountState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingActivation => "PENDING_ACTIVATION",
            Self::Active => "ACTIVE",
            Self::Locked => "LOCKED",
            Self::Expired => "EXPIRED",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::PendingActivation,
            Self::Active,
            Self::Locked,
            Self::Expired,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The state after `event`, or why it cannot happen.
    pub fn on(self, event: &AccountEvent) -> Result<Self, IllegalTransition> {
        match (self, event) {
            (Self::PendingActivation, AccountEvent::KbaPassed)
            | (Self::PendingActivation, AccountEvent::IssuerVerified { .. }) => Ok(Self::Active),
            (Self::PendingActivation, AccountEvent::KbaFailed { .. }) => Ok(Self::Locked),
            (Self::PendingActivation, AccountEvent::PendingExpired) => Ok(Self::Expired),
            (from, event) => Err(IllegalTransition {
                from,
                event: event.name(),
            }),
        }
    }
}

impl AccountEvent {
    /// A stable name for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::KbaPassed => "kba_passed",
            Self::KbaFailed { .. } => "kba_failed",
            Self::IssuerVerified { .. } => "issuer_verified",
            Self::PendingExpired => "pending_expired",
        }
    }

    /// The reason recorded with the transition.
    pub fn reason(&self) -> String {
        match self {
            Self::KbaFailed { reason } => (*reason).to_owned(),
            Self::IssuerVerified { method } => format!("issuer_verified:{method}"),
            other => other.name().to_owned(),
        }
    }

    /// Who causes it.
    pub fn channel(&self) -> Channel {
        match self {
            Self::KbaPassed | Self::KbaFailed { .. } => Channel::Wallet,
            Self::IssuerVerified { .. } => Channel::Issuer,
            Self::PendingExpired => Channel::System,
        }
    }
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wallet => "WALLET",
            Self::Issuer => "ISSUER",
            Self::System => "SYSTEM",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Wallet, Self::Issuer, Self::System]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: [AccountEvent; 4] = [
        AccountEvent::KbaPassed,
        AccountEvent::KbaFailed {
            reason: "kba_wrong_answers",
        },
        AccountEvent::IssuerVerified { method: "BRANCH" },
        AccountEvent::PendingExpired,
    ];

    #[test]
    fn pending_is_left_by_every_event_and_never_reentered() {
        let after: Vec<_> = EVENTS
            .iter()
            .map(|e| AccountState::PendingActivation.on(e).unwrap())
            .collect();
        assert_eq!(
            after,
            [
                AccountState::Active,
                AccountState::Locked,
                AccountState::Active,
                AccountState::Expired
            ]
        );
        for state in [
            AccountState::Active,
            AccountState::Locked,
            AccountState::Expired,
        ] {
            for event in &EVENTS {
                let err = state.on(event).unwrap_err();
                assert_eq!(err.from, state);
                assert_eq!(err.event, event.name());
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in [
            AccountState::PendingActivation,
            AccountState::Active,
            AccountState::Locked,
            AccountState::Expired,
        ] {
            assert_eq!(AccountState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AccountState::parse("active"), None);
    }
}

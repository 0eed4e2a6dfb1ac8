//! Life cycle states (GPC 2.3 sections 5.1 to 5.3, table 11-24 for the coding).

use serde::{Deserialize, Serialize};

/// The card's life cycle (GPC 5.1).
///
/// ```text
///  OP_READY ─► INITIALIZED ─► SECURED ◄─► CARD_LOCKED
///      └────────────┴────────────┴────────────┴──► TERMINATED (irreversible)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardLifeCycle {
    /// Runtime ready, issuer security domain installed.
    OpReady,
    /// Initialised by the card issuer.
    Initialized,
    /// Issued: the normal state in the field.
    Secured,
    /// Locked: only the issuer security domain can be selected.
    CardLocked,
    /// Terminated: no more management, ever.
    Terminated,
}

impl CardLifeCycle {
    /// The coding GET STATUS and SET STATUS use.
    pub fn byte(self) -> u8 {
        match self {
            Self::OpReady => 0x01,
            Self::Initialized => 0x07,
            Self::Secured => 0x0F,
            Self::CardLocked => 0x7F,
            Self::Terminated => 0xFF,
        }
    }

    /// The state coded by `byte`.
    pub fn from_byte(byte: u8) -> Option<Self> {
        [
            Self::OpReady,
            Self::Initialized,
            Self::Secured,
            Self::CardLocked,
            Self::Terminated,
        ]
        .into_iter()
        .find(|s| s.byte() == byte)
    }

    /// Whether GPC 5.1.1 allows going from `self` to `to`.
    pub fn can_become(self, to: Self) -> bool {
        use CardLifeCycle::*;
        matches!(
            (self, to),
            (OpReady, Initialized)
                | (OpReady | Initialized, Secured)
                | (Secured, CardLocked)
                | (CardLocked, Secured)
                | (OpReady | Initialized | Secured | CardLocked, Terminated)
        )
    }
}

/// Application life cycle codings (GPC table 11-4 and 11-5).
pub mod app_state {
    /// Installed, not yet selectable.
    pub const INSTALLED: u8 = 0x03;
    /// Selectable.
    pub const SELECTABLE: u8 = 0x07;
    /// A security domain with its keys: personalised.
    pub const PERSONALIZED: u8 = 0x0F;
    /// The locked bit, kept together with the state before the lock.
    pub const LOCKED_BIT: u8 = 0x80;

    /// Whether the application can be selected (selectable, not locked).
    pub fn is_selectable(state: u8) -> bool {
        state & LOCKED_BIT == 0 && state & SELECTABLE == SELECTABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_gpc_5_1() {
        use CardLifeCycle::*;
        assert!(OpReady.can_become(Secured));
        assert!(Secured.can_become(CardLocked) && CardLocked.can_become(Secured));
        assert!(!Secured.can_become(OpReady), "never backwards");
        assert!(!Terminated.can_become(Secured), "terminated is final");
        assert!(!CardLocked.can_become(Initialized));
        for s in [OpReady, Initialized, Secured, CardLocked, Terminated] {
            assert_eq!(CardLifeCycle::from_byte(s.byte()), Some(s));
        }
        assert!(app_state::is_selectable(0x0F));
        assert!(!app_state::is_selectable(0x83));
        assert!(!app_state::is_selectable(0x03));
    }
}

//! Status words (ISO/IEC 7816-4 section 5.6, GlobalPlatform Card Specification 2.3 section
//! 11.1.3), with names for the ones a GlobalPlatform card uses.

use std::fmt;

/// A two-byte status word, SW1 SW2.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// Normal processing.
    pub const OK: Self = Self(0x9000);
    /// GET STATUS: more data available (GPC 11.4.3).
    pub const MORE_DATA: Self = Self(0x6310);
    /// Warning: selected file or application is locked, or card life cycle is CARD_LOCKED.
    pub const SELECTED_FILE_INVALIDATED: Self = Self(0x6283);
    /// EXTERNAL AUTHENTICATE: authentication of host cryptogram failed (GPC 11.5.3).
    pub const AUTHENTICATION_FAILED: Self = Self(0x6300);
    /// Memory failure.
    pub const MEMORY_FAILURE: Self = Self(0x6581);
    /// Wrong length (Lc or Le).
    pub const WRONG_LENGTH: Self = Self(0x6700);
    /// Logical channel not supported.
    pub const CHANNEL_NOT_SUPPORTED: Self = Self(0x6881);
    /// Secure messaging not supported (a MAC where none is expected).
    pub const SECURE_MESSAGING_NOT_SUPPORTED: Self = Self(0x6882);
    /// Security status not satisfied: no session, too low a level, a wrong MAC.
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    /// Conditions of use not satisfied: wrong life cycle state, missing privilege.
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    /// Incorrect values in the command data.
    pub const INCORRECT_DATA: Self = Self(0x6A80);
    /// Function not supported (for example, card locked).
    pub const FUNCTION_NOT_SUPPORTED: Self = Self(0x6A81);
    /// Application or file not found.
    pub const NOT_FOUND: Self = Self(0x6A82);
    /// Not enough memory space.
    pub const NOT_ENOUGH_MEMORY: Self = Self(0x6A84);
    /// Incorrect P1 P2.
    pub const INCORRECT_P1P2: Self = Self(0x6A86);
    /// Referenced data not found (key version, GET DATA tag).
    pub const REFERENCED_DATA_NOT_FOUND: Self = Self(0x6A88);
    /// Instruction not supported.
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    /// Class not supported.
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);
    /// No precise diagnosis.
    pub const UNKNOWN: Self = Self(0x6F00);

    /// SW1.
    pub fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// SW2.
    pub fn sw2(self) -> u8 {
        (self.0 & 0xFF) as u8
    }

    /// Both bytes, in wire order.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// 9000, or a warning (62xx, 63xx) after which the command was still processed; the
    /// responses SCP03 protects with an R-MAC (Amendment D 6.2.5).
    pub fn is_success_or_warning(self) -> bool {
        matches!(self.sw1(), 0x90 | 0x62 | 0x63) && !(self.sw1() == 0x90 && self.sw2() != 0)
    }

    /// A short name for the status word, for transcripts and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::OK => "ok",
            Self::MORE_DATA => "more data available",
            Self::SELECTED_FILE_INVALIDATED => "selected file invalidated / card locked",
            Self::AUTHENTICATION_FAILED => "authentication failed",
            Self::MEMORY_FAILURE => "memory failure",
            Self::WRONG_LENGTH => "wrong length",
            Self::CHANNEL_NOT_SUPPORTED => "logical channel not supported",
            Self::SECURE_MESSAGING_NOT_SUPPORTED => "secure messaging not supported",
            Self::SECURITY_STATUS_NOT_SATISFIED => "security status not satisfied",
            Self::CONDITIONS_NOT_SATISFIED => "conditions of use not satisfied",
            Self::INCORRECT_DATA => "incorrect data",
            Self::FUNCTION_NOT_SUPPORTED => "function not supported",
            Self::NOT_FOUND => "application not found",
            Self::NOT_ENOUGH_MEMORY => "not enough memory",
            Self::INCORRECT_P1P2 => "incorrect P1 P2",
            Self::REFERENCED_DATA_NOT_FOUND => "referenced data not found",
            Self::INS_NOT_SUPPORTED => "instruction not supported",
            Self::CLA_NOT_SUPPORTED => "class not supported",
            Self::UNKNOWN => "no precise diagnosis",
            sw if sw.sw1() == 0x61 => "response bytes still available",
            sw if sw.sw1() == 0x6C => "wrong Le",
            _ => "unknown status",
        }
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.0, self.name())
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classes() {
        assert_eq!(
            StatusWord(0x6982).to_string(),
            "6982 (security status not satisfied)"
        );
        assert_eq!(StatusWord(0x6110).name(), "response bytes still available");
        assert!(StatusWord::OK.is_success_or_warning());
        assert!(StatusWord::MORE_DATA.is_success_or_warning());
        assert!(!StatusWord(0x9001).is_success_or_warning());
        assert!(!StatusWord::SECURITY_STATUS_NOT_SATISFIED.is_success_or_warning());
        assert_eq!(StatusWord(0x6A82).to_bytes(), [0x6A, 0x82]);
    }
}

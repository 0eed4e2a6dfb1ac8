//! Primary account numbers: the funding card's PAN and the token PAN that stands in for it.

use std::fmt;

use zeroize::Zeroize;

use crate::luhn::luhn_valid;

/// A funding primary account number: 12 to 19 ASCII digits, Luhn-valid (ISO/IEC 7812-1).
///
/// `Debug` shows only the BIN and the last four digits (`489537******1234`), as PCI DSS 4.0
/// requirement 3.4.1 allows for display; the full number is reachable only through
/// [`Pan::expose`], which callers use to encrypt or hash it. Zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(String);

/// A token PAN (EMVCo Payment Tokenisation): same syntax as a PAN, from a token BIN range.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPan(Pan);

/// Why a string is not a PAN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PanError {
    /// Not 12 to 19 characters long.
    #[error("a PAN has 12 to 19 digits")]
    Length,
    /// A character other than an ASCII digit.
    #[error("a PAN has only digits")]
    NotDigits,
    /// The Luhn check digit is wrong.
    #[error("the PAN fails the Luhn check")]
    Luhn,
}

impl Pan {
    /// Parses a PAN. The error never contains the input.
    pub fn parse(s: &str) -> Result<Self, PanError> {
        if !(12..=19).contains(&s.len()) {
            return Err(PanError::Length);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PanError::NotDigits);
        }
        if !luhn_valid(s) {
            return Err(PanError::Luhn);
        }
        Ok(Self(s.to_owned()))
    }

    /// The full number. Use only to encrypt, hash or hand it to its rightful recipient.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four digits, which may be shown to the cardholder.
    pub fn last4(&self) -> &str {
        // Length is at least 12 by construction.
        self.0.get(self.0.len() - 4..).unwrap_or_default()
    }

    /// The first six digits (the BIN / IIN), which may be shown with the last four.
    pub fn bin(&self) -> &str {
        self.0.get(..6).unwrap_or_default()
    }

    /// The display form of PCI DSS 3.4.1: BIN, asterisks, last four.
    pub fn masked(&self) -> String {
        let hidden = self.0.len() - 10;
        format!("{}{}{}", self.bin(), "*".repeat(hidden), self.last4())
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Drop for Pan {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl TokenPan {
    /// Parses a token PAN (same syntax as a PAN).
    pub fn parse(s: &str) -> Result<Self, PanError> {
        Pan::parse(s).map(Self)
    }

    /// The token as a PAN-shaped number.
    pub fn as_pan(&self) -> &Pan {
        &self.0
    }

    /// The full token number.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        self.0.last4()
    }
}

impl fmt::Debug for TokenPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenPan({})", self.0.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let pan = Pan::parse("4895370012345678").unwrap_err();
        assert_eq!(pan, PanError::Luhn);
        let pan = Pan::parse("4111111111111111").unwrap();
        assert_eq!(format!("{pan:?}"), "411111******1111");
        assert_eq!(pan.last4(), "1111");
        let t = TokenPan::parse("4111111111111111").unwrap();
        assert!(!format!("{t:?}").contains("4111111111111111"));
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(Pan::parse("41111111111"), Err(PanError::Length));
        assert_eq!(Pan::parse("41111111111111111111"), Err(PanError::Length));
        assert_eq!(Pan::parse("4111 1111 1111 1111"), Err(PanError::NotDigits));
        assert_eq!(Pan::parse("411111111111111a"), Err(PanError::NotDigits));
        assert_eq!(Pan::parse("٤١١١١١١١١١١١"), Err(PanError::Length));
    }

    proptest::proptest! {
        #[test]
        fn debug_never_shows_middle_digits(body in "[0-9]{15}") {
            let d = crate::luhn_check_digit(&body).unwrap();
            let s = format!("{body}{d}");
            let pan = Pan::parse(&s).unwrap();
            let shown = format!("{pan:?}");
            proptest::prop_assert!(!shown.contains(&s[6..12]) || s[6..12].chars().all(|c| c == '*'));
            proptest::prop_assert_eq!(shown.len(), 16);
        }
    }
}

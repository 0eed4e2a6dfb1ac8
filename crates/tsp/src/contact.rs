//! Where step-up codes go: the cardholder's phone and e-mail, as the issuer signed them into
//! the request data (`contact` claim), and how they are shown masked.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The cardholder's contact points for step-up. `Debug` masks them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// E.164 phone number (`+` and 8 to 15 digits) for OTP by SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address for OTP by e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Contact {
    /// Checks the shapes; the message names the field, never the value.
    pub fn check(&self) -> Result<(), &'static str> {
        if let Some(p) = &self.phone {
            let digits = p.strip_prefix('+').unwrap_or("");
            if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("contact.phone must be E.164: + and 8 to 15 digits");
            }
        }
        if let Some(e) = &self.email {
            let ok = e.len() <= 254
                && e.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.contains('@')
                });
            if !ok {
                return Err("contact.email must be an e-mail address");
            }
        }
        Ok(())
    }
}

/// `***-***-1234`: only the last four digits.
pub(crate) fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let last4: String = phone
        .chars()
        .filter(char::is_ascii_digit)
        .skip(digits.saturating_sub(4))
        .collect();
    format!("***-***-{last4}")
}

/// `a***@example.com`: the first character of the local part and the domain.
pub(crate) fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("phone", &self.phone.as_deref().map(mask_phone))
            .field("email", &self.email.as_deref().map(mask_email))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_checks() {
        assert_eq!(mask_phone("+15551234567"), "***-***-4567");
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
        let c = Contact {
            phone: Some("+15551234567".into()),
            email: Some("alice@example.com".into()),
        };
        assert!(c.check().is_ok());
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("5551234567") && !dbg.contains("alice"),
            "{dbg}"
        );
        for bad in ["15551234567", "+1555", "+1555123456789012", "+1555abc4567"] {
            let c = Contact {
                phone: Some(bad.into()),
                email: None,
            };
            assert!(c.check().is_err(), "{bad}");
        }
        for bad in ["alice", "@example.com", "alice@localhost"] {
            let c = Contact {
                phone: None,
                email: Some(bad.into()),
            };
            assert!(c.check().is_err(), "{bad}");
        }
    }
}

//! Identifiers exchanged between the issuer app, the wallet app and the token service.

use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Empty, or longer than the identifier allows.
    #[error("{0} must be 1 to {1} characters")]
    Length(&'static str, usize),
    /// A character outside the identifier's alphabet.
    #[error("{0} has a character outside {1}")]
    Alphabet(&'static str, &'static str),
}

/// Printable ASCII without spaces: what we accept in opaque identifiers chosen by peers.
fn is_opaque_char(b: u8) -> bool {
    b.is_ascii_graphic()
}

fn is_base64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $label:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses the identifier: 1 to the maximum length of printable ASCII, no spaces.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if s.is_empty() || s.len() > $max {
                    return Err(IdError::Length($label, $max));
                }
                if !s.bytes().all(is_opaque_char) {
                    return Err(IdError::Alphabet($label, "printable ASCII without spaces"));
                }
                Ok(Self(s.to_owned()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// A card issuer's identifier, registered by an administrator (`iss` of the request data).
    IssuerId, "issuer_id", 64
);
opaque_id!(
    /// A payment network's (or authorisation switch's) identifier, registered by an
    /// administrator.
    NetworkId, "network_id", 64
);
opaque_id!(
    /// The wallet provider's identifier of its user (`uid`).
    WalletUserId, "wallet_user_id", 128
);
opaque_id!(
    /// The wallet's identifier of the phone (`did`).
    DeviceId, "device_id", 128
);
opaque_id!(
    /// The token service's reference to a token (EMVCo token reference id); never the token PAN.
    TokenRefId, "token_ref_id", 64
);

/// A push provisioning session id: at least 128 random bits, base64url without padding
/// (docs/protocol.md §3.1). 22 to 128 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// Parses a session id; fewer than 22 base64url characters cannot hold 128 bits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !(22..=128).contains(&s.len()) {
            return Err(IdError::Length("session_id (at least 22)", 128));
        }
        if !s.bytes().all(is_base64url_char) {
            return Err(IdError::Alphabet("session_id", "base64url"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The session id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({:?})", self.0)
    }
}

/// An EMVCo token requestor id: exactly 11 digits (docs/protocol.md §2.4).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenRequestorId(String);

impl TokenRequestorId {
    /// Parses an 11-digit token requestor id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() != 11 {
            return Err(IdError::Length("token_requestor_id (exactly 11)", 11));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Alphabet("token_requestor_id", "digits"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenRequestorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenRequestorId({})", self.0)
    }
}

impl fmt::Display for TokenRequestorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert!(TokenRequestorId::parse("40010030273").is_ok());
        assert!(TokenRequestorId::parse("4001003027").is_err());
        assert!(TokenRequestorId::parse("4001003027a").is_err());
        assert!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAAA").is_ok());
        assert!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAAA=").is_err());
        assert!(DeviceId::parse("").is_err());
        assert!(DeviceId::parse("dev 1").is_err());
        assert!(DeviceId::parse(&"d".repeat(129)).is_err());
        assert!(IssuerId::parse("bank-of-demo").is_ok());
    }
}

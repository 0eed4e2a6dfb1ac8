//! Application identifiers (ISO/IEC 7816-5): 5 to 16 bytes, a registered provider id first.

use std::fmt;
use std::str::FromStr;

use crate::GpError;

/// An application identifier.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aid(Vec<u8>);

impl Aid {
    /// The AID of a GlobalPlatform issuer security domain (GPC 2.3 annex H.1).
    pub fn isd() -> Self {
        Self(vec![0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00])
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `self` starts with `prefix` (partial selection, GPC 11.9.2.2).
    pub fn starts_with(&self, prefix: &[u8]) -> bool {
        self.0.starts_with(prefix)
    }
}

impl TryFrom<&[u8]> for Aid {
    type Error = GpError;

    fn try_from(bytes: &[u8]) -> Result<Self, GpError> {
        if !(5..=16).contains(&bytes.len()) {
            return Err(GpError::Malformed("AID must be 5 to 16 bytes"));
        }
        Ok(Self(bytes.to_vec()))
    }
}

impl FromStr for Aid {
    type Err = GpError;

    /// Hex, upper or lower case.
    fn from_str(s: &str) -> Result<Self, GpError> {
        let bytes = hex::decode(s).map_err(|_| GpError::Malformed("AID is not hex"))?;
        Self::try_from(bytes.as_slice())
    }
}

impl fmt::Display for Aid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(&self.0))
    }
}

impl serde::Serialize for Aid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Aid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Aid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aid({self})")
    }
}

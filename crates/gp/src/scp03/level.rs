//! Security levels (GPC Amendment D section 5.1, table 5-2: the P1 of EXTERNAL AUTHENTICATE).

use crate::GpError;

/// The protection a session applies, fixed by EXTERNAL AUTHENTICATE.
///
/// Only the six combinations SCP03 defines exist: 00, 01 (C-MAC), 03 (C-DECRYPTION and
/// C-MAC), 11 (C-MAC and R-MAC), 13 (C-DECRYPTION, C-MAC and R-MAC), 33 (all four, with
/// R-ENCRYPTION).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    /// No secure messaging: the session only authenticated the host.
    pub const NONE: Self = Self(0x00);
    /// C-MAC.
    pub const CMAC: Self = Self(0x01);
    /// C-DECRYPTION and C-MAC.
    pub const CDEC_CMAC: Self = Self(0x03);
    /// C-MAC and R-MAC.
    pub const CMAC_RMAC: Self = Self(0x11);
    /// C-DECRYPTION, C-MAC and R-MAC.
    pub const CDEC_CMAC_RMAC: Self = Self(0x13);
    /// C-DECRYPTION, C-MAC, R-ENCRYPTION and R-MAC.
    pub const FULL: Self = Self(0x33);
    /// All six, in increasing order of protection.
    pub const ALL: [Self; 6] = [
        Self::NONE,
        Self::CMAC,
        Self::CDEC_CMAC,
        Self::CMAC_RMAC,
        Self::CDEC_CMAC_RMAC,
        Self::FULL,
    ];

    /// The level coded by `byte`, if SCP03 defines it.
    pub fn from_byte(byte: u8) -> Result<Self, GpError> {
        match byte {
            0x00 | 0x01 | 0x03 | 0x11 | 0x13 | 0x33 => Ok(Self(byte)),
            other => Err(GpError::SecurityLevel(other)),
        }
    }

    /// The byte sent as P1 of EXTERNAL AUTHENTICATE.
    pub fn byte(self) -> u8 {
        self.0
    }

    /// Commands carry a C-MAC.
    pub fn c_mac(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Command data is encrypted.
    pub fn c_dec(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// Responses carry an R-MAC.
    pub fn r_mac(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// Response data is encrypted.
    pub fn r_enc(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// Whether this level gives at least every protection `required` does: the check a card
    /// makes against a domain's minimum level.
    pub fn covers(self, required: Self) -> bool {
        self.0 & required.0 == required.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_defined_levels_parse() {
        let defined: Vec<u8> = (0..=255u8)
            .filter(|b| SecurityLevel::from_byte(*b).is_ok())
            .collect();
        assert_eq!(defined, vec![0x00, 0x01, 0x03, 0x11, 0x13, 0x33]);
        assert!(SecurityLevel::FULL.covers(SecurityLevel::CDEC_CMAC));
        assert!(!SecurityLevel::CMAC_RMAC.covers(SecurityLevel::CDEC_CMAC));
        assert!(SecurityLevel::FULL.r_enc() && SecurityLevel::FULL.c_dec());
        assert!(!SecurityLevel::CMAC.r_mac());
    }
}

//! STORE DATA (GPC 2.3 section 11.11) and the data grouping identifiers (DGIs, EMV Card
//! Personalization Specification section 4.3) its blocks usually carry.
//!
//! ```text
//!  80 E2 P1 P2=block number data
//!  P1: b8 last block │ b7-b6 encryption: 00 none, 20 application dependent, 60 encrypted
//!      │ b5-b4 structure: 00 none, 08 DGI, 10 BER-TLV
//! ```

use crate::{Command, GpError};

/// INS of STORE DATA.
pub const INS_STORE_DATA: u8 = 0xE2;

/// How the data of a STORE DATA block is encrypted (P1 b7-b6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// No encryption information.
    None,
    /// Application dependent.
    ApplicationDependent,
    /// Encrypted under the data encryption key of the security domain.
    Encrypted,
}

/// How the data is structured (P1 b5-b4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// No information.
    None,
    /// DGI format.
    Dgi,
    /// BER-TLV format.
    BerTlv,
}

/// A STORE DATA block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreData {
    /// This is the last block.
    pub last: bool,
    /// Encryption indicator.
    pub encryption: Encryption,
    /// Data structure.
    pub structure: Structure,
    /// Block number, from 0.
    pub block: u8,
    /// The data.
    pub data: Vec<u8>,
}

impl StoreData {
    /// The command.
    pub fn command(&self) -> Command {
        let mut p1 = if self.last { 0x80 } else { 0x00 };
        p1 |= match self.encryption {
            Encryption::None => 0x00,
            Encryption::ApplicationDependent => 0x20,
            Encryption::Encrypted => 0x60,
        };
        p1 |= match self.structure {
            Structure::None => 0x00,
            Structure::Dgi => 0x08,
            Structure::BerTlv => 0x10,
        };
        Command::new(0x80, INS_STORE_DATA, p1, self.block)
            .with_data(self.data.clone())
            .with_ne(256)
    }

    /// Parses a STORE DATA command.
    pub fn parse(cmd: &Command) -> Result<Self, GpError> {
        if cmd.ins != INS_STORE_DATA {
            return Err(GpError::Malformed("STORE DATA header"));
        }
        let encryption = match cmd.p1 & 0x60 {
            0x00 => Encryption::None,
            0x20 => Encryption::ApplicationDependent,
            0x60 => Encryption::Encrypted,
            _ => return Err(GpError::Malformed("STORE DATA encryption bits (RFU value)")),
        };
        let structure = match cmd.p1 & 0x18 {
            0x00 => Structure::None,
            0x08 => Structure::Dgi,
            0x10 => Structure::BerTlv,
            _ => return Err(GpError::Malformed("STORE DATA structure bits (RFU value)")),
        };
        if cmd.p1 & 0x07 != 0 {
            return Err(GpError::Malformed("STORE DATA P1 RFU bits"));
        }
        Ok(Self {
            last: cmd.p1 & 0x80 != 0,
            encryption,
            structure,
            block: cmd.p2,
            data: cmd.data.clone(),
        })
    }
}

/// One DGI: a two-byte identifier and its data; the length is one byte, or `FF` and two bytes
/// from 255 up (EMV CPS 4.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dgi {
    /// The identifier.
    pub id: u16,
    /// The data.
    pub data: Vec<u8>,
}

impl Dgi {
    /// A DGI.
    pub fn new(id: u16, data: Vec<u8>) -> Self {
        Self { id, data }
    }

    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.id.to_be_bytes().to_vec();
        match self.data.len() {
            n @ 0..=254 => out.push(n as u8),
            n => out.extend_from_slice(&[0xFF, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Parses a sequence of DGIs that fills `data` exactly.
    pub fn parse_all(mut data: &[u8]) -> Result<Vec<Self>, GpError> {
        const WHAT: &str = "DGI";
        let mut out = Vec::new();
        while let [hi, lo, rest @ ..] = data {
            let (len, rest) = match rest {
                [0xFF, a, b, rest @ ..] => (usize::from(*a) << 8 | usize::from(*b), rest),
                [n, rest @ ..] => (usize::from(*n), rest),
                [] => return Err(GpError::Malformed(WHAT)),
            };
            if rest.len() < len {
                return Err(GpError::Malformed(WHAT));
            }
            let (value, rest) = rest.split_at(len);
            out.push(Self::new(u16::from_be_bytes([*hi, *lo]), value.to_vec()));
            data = rest;
        }
        if !data.is_empty() {
            return Err(GpError::Malformed(WHAT));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn flags_round_trip() {
        for (encryption, structure, last) in [
            (Encryption::Encrypted, Structure::Dgi, true),
            (Encryption::None, Structure::BerTlv, false),
            (Encryption::ApplicationDependent, Structure::None, true),
        ] {
            let sd = StoreData {
                last,
                encryption,
                structure,
                block: 3,
                data: vec![1, 2],
            };
            assert_eq!(StoreData::parse(&sd.command()).unwrap(), sd);
        }
        assert_eq!(
            StoreData {
                last: true,
                encryption: Encryption::Encrypted,
                structure: Structure::Dgi,
                block: 0,
                data: vec![]
            }
            .command()
            .p1,
            0xE8
        );
        let mut rfu = Command::new(0x80, INS_STORE_DATA, 0x40, 0);
        assert!(StoreData::parse(&rfu).is_err());
        rfu.p1 = 0x18;
        assert!(StoreData::parse(&rfu).is_err());
    }

    proptest! {
        #[test]
        fn dgis_round_trip(list in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..4)) {
            let dgis: Vec<Dgi> = list.into_iter().map(|(id, d)| Dgi::new(id, d)).collect();
            let wire: Vec<u8> = dgis.iter().flat_map(Dgi::encode).collect();
            prop_assert_eq!(Dgi::parse_all(&wire).unwrap(), dgis);
        }

        #[test]
        fn dgi_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Dgi::parse_all(&bytes);
        }
    }
}

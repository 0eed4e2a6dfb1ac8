//! GET DATA (GPC 2.3 section 11.3) and the key information template it returns for tag `00E0`.

use crate::tlv::Tlv;
use crate::{Command, GpError};

/// INS of GET DATA.
pub const INS_GET_DATA: u8 = 0xCA;
/// Tag of the key information template (GPC 11.3.3.1).
pub const TAG_KEY_INFORMATION: u16 = 0x00E0;
/// Tag of card recognition data (GPC H.2).
pub const TAG_CARD_DATA: u16 = 0x0066;
/// Tag of the sequence counter of the default key version (GPC 11.3.3).
pub const TAG_SEQUENCE_COUNTER: u16 = 0x00C1;
/// Tag of the card production life cycle data (GPC 11.3.3).
pub const TAG_CPLC: u16 = 0x9F7F;

/// GET DATA for `tag`: `80 CA tag-hi tag-lo 00`.
pub fn get_data(tag: u16) -> Command {
    let [p1, p2] = tag.to_be_bytes();
    Command::new(0x80, INS_GET_DATA, p1, p2).with_ne(256)
}

/// One key's entry in the key information template: `C0 { id, version, type, length }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key identifier (1: ENC, 2: MAC, 3: DEK for SCP03).
    pub id: u8,
    /// Key version number.
    pub version: u8,
    /// Key type (`88`: AES).
    pub key_type: u8,
    /// Key length in bytes.
    pub length: u8,
}

/// The key information template, `E0 { C0 …, C0 … }`.
pub fn key_information(keys: &[KeyInfo]) -> Vec<u8> {
    let inner: Vec<u8> = keys
        .iter()
        .flat_map(|k| Tlv::new(0xC0, vec![k.id, k.version, k.key_type, k.length]).encode())
        .collect();
    Tlv::new(0xE0, inner).encode()
}

/// Parses a key information template.
pub fn parse_key_information(data: &[u8]) -> Result<Vec<KeyInfo>, GpError> {
    let e0 = Tlv::parse_one(data)?;
    if e0.tag.0 != 0xE0 {
        return Err(GpError::Malformed("key information template tag"));
    }
    e0.children()?
        .into_iter()
        .map(|c| match (c.tag.0, c.value.as_slice()) {
            (0xC0, [id, version, key_type, length]) => Ok(KeyInfo {
                id: *id,
                version: *version,
                key_type: *key_type,
                length: *length,
            }),
            _ => Err(GpError::Malformed("key information entry")),
        })
        .collect()
}

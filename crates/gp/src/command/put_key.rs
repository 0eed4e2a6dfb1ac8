//! PUT KEY for an SCP03 key set (GPC 2.3 section 11.8, Amendment D section 7.3.1).
//!
//! ```text
//!  80 D8 P1=old KVN (00: add) P2=81 (key id 1, several keys)
//!  data: new KVN ‖ 3 × ( 88 ‖ L ‖ key length ‖ AES-CBC(K-DEK, IV 0, key) ‖ 03 ‖ KCV )
//!  response: new KVN ‖ 3 × KCV
//! ```
//!
//! The keys travel encrypted under the key-encryption key (K-DEK) of the session's own key
//! set, and each is followed by its check value, so the card detects a wrong DEK.

use provisio_crypto::AesKey;

use super::lv::LvReader;
use crate::scp03::StaticKeys;
use crate::{Command, GpError};

/// INS of PUT KEY.
pub const INS_PUT_KEY: u8 = 0xD8;
/// Key type of AES keys (GPC table 11-16).
pub const KEY_TYPE_AES: u8 = 0x88;

/// PUT KEY carrying `new` (ENC, MAC, DEK), encrypted under `dek`. `replaces`: the key version
/// to replace, or `None` to add a key set.
pub fn put_key(new: &StaticKeys, replaces: Option<u8>, dek: &AesKey) -> Command {
    let mut d = vec![new.kvn];
    for key in [&new.enc, &new.mac, &new.dek] {
        let wrapped = dek.wrap_key(key);
        d.push(KEY_TYPE_AES);
        d.push((1 + wrapped.len()) as u8);
        d.push(key.len() as u8);
        d.extend_from_slice(&wrapped);
        d.push(3);
        d.extend_from_slice(&key.check_value());
    }
    Command::new(0x80, INS_PUT_KEY, replaces.unwrap_or(0), 0x81)
        .with_data(d)
        .with_ne(256)
}

/// A PUT KEY as the card reads it: the key set decrypted with `dek`, every check value
/// verified. Returns the replaced version (if any) and the new key set.
pub fn parse_put_key(cmd: &Command, dek: &AesKey) -> Result<(Option<u8>, StaticKeys), GpError> {
    const WHAT: &str = "PUT KEY data";
    if cmd.ins != INS_PUT_KEY || cmd.p2 != 0x81 {
        return Err(GpError::Malformed(
            "PUT KEY header: only a whole key set (P2 81) is supported",
        ));
    }
    let mut r = LvReader::new(&cmd.data, WHAT);
    let kvn = r.byte()?;
    if !(0x01..=0x7F).contains(&kvn) {
        return Err(GpError::Malformed("PUT KEY: key version outside 01..7F"));
    }
    let mut keys = Vec::with_capacity(3);
    for _ in 0..3 {
        if r.byte()? != KEY_TYPE_AES {
            return Err(GpError::Malformed("PUT KEY: only AES keys (type 88)"));
        }
        let block = r.field()?;
        let (&len, wrapped) = block.split_first().ok_or(GpError::Malformed(WHAT))?;
        let key = dek
            .unwrap_key(wrapped, usize::from(len))
            .map_err(|_| GpError::Malformed("PUT KEY: key length"))?;
        let kcv = r.field()?;
        if kcv != key.check_value() {
            // A wrong DEK or a corrupted key: the check value is what tells.
            return Err(GpError::InvalidKey(
                "PUT KEY: key check value does not match",
            ));
        }
        keys.push(key);
    }
    r.finish()?;
    let [enc, mac, dek_new]: [AesKey; 3] = keys.try_into().map_err(|_| GpError::Malformed(WHAT))?;
    let replaces = if cmd.p1 == 0 { None } else { Some(cmd.p1) };
    Ok((replaces, StaticKeys::new(kvn, enc, mac, dek_new)?))
}

/// The card's answer: the new KVN and the three check values.
pub fn put_key_response(keys: &StaticKeys) -> Vec<u8> {
    let mut out = vec![keys.kvn];
    for key in [&keys.enc, &keys.mac, &keys.dek] {
        out.extend_from_slice(&key.check_value());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_detects_a_wrong_dek() {
        for len in [16, 24, 32] {
            let new =
                StaticKeys::from_bytes(0x31, &vec![1; len], &vec![2; len], &vec![3; len]).unwrap();
            let dek = AesKey::from_bytes(&[9; 16]).unwrap();
            let cmd = put_key(&new, Some(0x30), &dek);
            let (replaces, got) = parse_put_key(&cmd, &dek).unwrap();
            assert_eq!(replaces, Some(0x30));
            assert_eq!(put_key_response(&got), put_key_response(&new));
            let other = AesKey::from_bytes(&[8; 16]).unwrap();
            assert!(parse_put_key(&cmd, &other).is_err());
        }
    }
}

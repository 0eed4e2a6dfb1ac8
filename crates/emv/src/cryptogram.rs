//! The session key and the ARQC (docs/protocol.md §16.1).

use provisio_crypto::{AesKey, CryptoError, ct_eq};
use zeroize::Zeroizing;

use crate::{Atc, Transaction};

/// An application request cryptogram: 8 bytes.
pub type Arqc = [u8; 8];

/// The session key for one ATC: EMV Book 2 A1.3.1, common session key derivation with AES,
/// `SK = AES-128-ECB(key, ATC (2 bytes, big endian) ‖ F0 ‖ 00 × 13)`.
///
/// The key must be AES-128 ([`CryptoError::InvalidKey`] otherwise): for longer keys A1.3.1
/// derives a second block, which the contract does not use.
pub fn session_key(key: &AesKey, atc: Atc) -> Result<AesKey, CryptoError> {
    if key.len() != 16 {
        return Err(CryptoError::InvalidKey);
    }
    let [hi, lo] = atc.get().to_be_bytes();
    // Zeroized: once encrypted, the block is the session key.
    let mut block = Zeroizing::new([hi, lo, 0xF0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    key.encrypt_block(&mut block);
    AesKey::from_bytes(block.as_ref())
}

/// The ARQC: the first 8 bytes of `AES-CMAC(SK, D)` (RFC 4493), `D` the transaction data with
/// the ATC.
pub fn arqc(key: &AesKey, atc: Atc, transaction: &Transaction) -> Result<Arqc, CryptoError> {
    let sk = session_key(key, atc)?;
    let tag = sk.cmac(&[&transaction.data(atc)]);
    let mut out = [0u8; 8];
    out.copy_from_slice(&tag[..8]);
    Ok(out)
}

/// Whether `presented` is the ARQC for this key, ATC and transaction, compared in constant time.
pub fn verify(
    key: &AesKey,
    atc: Atc,
    transaction: &Transaction,
    presented: &[u8],
) -> Result<bool, CryptoError> {
    Ok(ct_eq(&arqc(key, atc, transaction)?, presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AesKey {
        AesKey::from_bytes(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap()
    }

    #[test]
    fn session_key_is_the_documented_block() {
        // The derivation block for ATC 0x0001 is 00 01 F0 00 .. 00; encrypting it with the key
        // directly must give the session key's bytes.
        let mut block = [0u8; 16];
        block[1] = 1;
        block[2] = 0xF0;
        key().encrypt_block(&mut block);
        let sk = session_key(&key(), Atc::FIRST).unwrap();
        assert_eq!(sk.export().expose(), &block);
    }

    #[test]
    fn only_aes_128_keys_derive() {
        for len in [24, 32] {
            let long = AesKey::from_bytes(&vec![7; len]).unwrap();
            assert_eq!(
                session_key(&long, Atc::FIRST).unwrap_err(),
                CryptoError::InvalidKey
            );
        }
    }

    #[test]
    fn every_input_changes_the_cryptogram() {
        let t = Transaction::parse(1250, "978", "250", "261203", "0a1b2c3d").unwrap();
        let base = arqc(&key(), Atc::FIRST, &t).unwrap();
        assert!(verify(&key(), Atc::FIRST, &t, &base).unwrap());
        let other = [
            arqc(&key(), Atc::new(2).unwrap(), &t).unwrap(),
            arqc(
                &key(),
                Atc::FIRST,
                &Transaction::parse(1251, "978", "250", "261203", "0a1b2c3d").unwrap(),
            )
            .unwrap(),
            arqc(
                &key(),
                Atc::FIRST,
                &Transaction::parse(1250, "840", "250", "261203", "0a1b2c3d").unwrap(),
            )
            .unwrap(),
            arqc(
                &key(),
                Atc::FIRST,
                &Transaction::parse(1250, "978", "276", "261203", "0a1b2c3d").unwrap(),
            )
            .unwrap(),
            arqc(
                &key(),
                Atc::FIRST,
                &Transaction::parse(1250, "978", "250", "261204", "0a1b2c3d").unwrap(),
            )
            .unwrap(),
            arqc(
                &key(),
                Atc::FIRST,
                &Transaction::parse(1250, "978", "250", "261203", "0a1b2c3e").unwrap(),
            )
            .unwrap(),
        ];
        for o in other {
            assert_ne!(o, base);
            assert!(!verify(&key(), Atc::FIRST, &t, &o).unwrap());
        }
        let mut flipped = base;
        flipped[7] ^= 1;
        assert!(!verify(&key(), Atc::FIRST, &t, &flipped).unwrap());
        assert!(!verify(&key(), Atc::FIRST, &t, &base[..7]).unwrap());
    }
}

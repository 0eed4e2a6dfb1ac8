//! AES keys for block-level protocols (GlobalPlatform SCP03): the raw block cipher, CBC without
//! padding, and AES-CMAC (RFC 4493, NIST SP 800-38B).
//!
//! JOSE uses AES only through the provider's AEAD and key wrap calls; SCP03 needs the block
//! cipher itself, which is why this is a key type rather than a provider method. The expanded key
//! schedule is computed once per key, so a secure channel pays only the block operations.

use std::fmt;

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};
use cmac::digest::core_api::CoreWrapper;
use cmac::digest::crypto_common::InnerInit;
use cmac::{Cmac, CmacCore, Mac};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes};

/// The AES block size in bytes.
pub const AES_BLOCK: usize = 16;

/// An AES-128, -192 or -256 key.
///
/// `Debug` shows only the length. The bytes and the key schedule are zeroized on drop.
#[derive(Clone)]
pub struct AesKey {
    bytes: Zeroizing<Vec<u8>>,
    cipher: Cipher,
}

#[derive(Clone)]
enum Cipher {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl AesKey {
    /// A key from 16, 24 or 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let cipher = match bytes.len() {
            16 => Cipher::A128(Aes128::new_from_slice(bytes).map_err(|_| CryptoError::InvalidKey)?),
            24 => Cipher::A192(Aes192::new_from_slice(bytes).map_err(|_| CryptoError::InvalidKey)?),
            32 => Cipher::A256(Aes256::new_from_slice(bytes).map_err(|_| CryptoError::InvalidKey)?),
            _ => return Err(CryptoError::InvalidKey),
        };
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            cipher,
        })
    }

    /// The key length in bytes (16, 24 or 32).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an AES key has 16, 24 or 32 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// AES-CMAC (RFC 4493) over the concatenation of `parts`, the full 16-byte tag.
    pub fn cmac(&self, parts: &[&[u8]]) -> [u8; AES_BLOCK] {
        macro_rules! tag {
            ($cipher:ty, $c:expr) => {{
                let mut mac: Cmac<$cipher> =
                    CoreWrapper::from_core(CmacCore::inner_init($c.clone()));
                for part in parts {
                    mac.update(part);
                }
                mac.finalize().into_bytes().into()
            }};
        }
        match &self.cipher {
            Cipher::A128(c) => tag!(Aes128, c),
            Cipher::A192(c) => tag!(Aes192, c),
            Cipher::A256(c) => tag!(Aes256, c),
        }
    }

    /// Encrypts one block in place (AES-ECB of a single block).
    pub fn encrypt_block(&self, block: &mut [u8; AES_BLOCK]) {
        let b = aes::Block::from_mut_slice(block);
        match &self.cipher {
            Cipher::A128(c) => c.encrypt_block(b),
            Cipher::A192(c) => c.encrypt_block(b),
            Cipher::A256(c) => c.encrypt_block(b),
        }
    }

    fn decrypt_block(&self, block: &mut [u8]) {
        let b = aes::Block::from_mut_slice(block);
        match &self.cipher {
            Cipher::A128(c) => c.decrypt_block(b),
            Cipher::A192(c) => c.decrypt_block(b),
            Cipher::A256(c) => c.decrypt_block(b),
        }
    }

    /// AES-CBC encryption in place, without padding: `data` must be whole blocks.
    pub fn cbc_encrypt(&self, iv: &[u8; AES_BLOCK], data: &mut [u8]) -> Result<(), CryptoError> {
        if !data.len().is_multiple_of(AES_BLOCK) {
            return Err(CryptoError::InvalidLength);
        }
        let mut chain = *iv;
        for block in data.chunks_exact_mut(AES_BLOCK) {
            for (c, p) in chain.iter_mut().zip(block.iter()) {
                *c ^= p;
            }
            self.encrypt_block(&mut chain);
            block.copy_from_slice(&chain);
        }
        Ok(())
    }

    /// AES-CBC decryption in place, without padding: `data` must be whole blocks.
    pub fn cbc_decrypt(&self, iv: &[u8; AES_BLOCK], data: &mut [u8]) -> Result<(), CryptoError> {
        if !data.len().is_multiple_of(AES_BLOCK) {
            return Err(CryptoError::InvalidLength);
        }
        let mut chain = *iv;
        for block in data.chunks_exact_mut(AES_BLOCK) {
            let mut next = [0u8; AES_BLOCK];
            next.copy_from_slice(block);
            self.decrypt_block(block);
            for (p, c) in block.iter_mut().zip(chain.iter()) {
                *p ^= c;
            }
            chain = next;
        }
        Ok(())
    }

    /// The key check value GlobalPlatform uses for AES keys: the first 3 bytes of the key
    /// encrypting a block of `01` bytes (GPC 2.3 section B.6, Amendment D section 7.3.1).
    pub fn check_value(&self) -> [u8; 3] {
        let mut block = [0x01; AES_BLOCK];
        self.encrypt_block(&mut block);
        [block[0], block[1], block[2]]
    }

    /// Encrypts another key's bytes under this one, AES-CBC with a zero IV, the form PUT KEY
    /// carries (GPC Amendment D 7.3.1). A 24-byte key is zero-padded to 32 bytes.
    pub fn wrap_key(&self, key: &AesKey) -> Vec<u8> {
        let mut out = key.bytes.to_vec();
        out.resize(key.len().div_ceil(AES_BLOCK) * AES_BLOCK, 0);
        // Whole blocks by construction, so cbc_encrypt cannot fail.
        let _ = self.cbc_encrypt(&[0; AES_BLOCK], &mut out);
        out
    }

    /// Reverses [`AesKey::wrap_key`] for a key of `len` bytes.
    pub fn unwrap_key(&self, wrapped: &[u8], len: usize) -> Result<AesKey, CryptoError> {
        if wrapped.len() != len.div_ceil(AES_BLOCK) * AES_BLOCK {
            return Err(CryptoError::InvalidLength);
        }
        let mut plain = Zeroizing::new(wrapped.to_vec());
        self.cbc_decrypt(&[0; AES_BLOCK], &mut plain)?;
        AesKey::from_bytes(plain.get(..len).ok_or(CryptoError::InvalidLength)?)
    }

    /// The key bytes, for the places that must hold them: a virtual secure element's memory
    /// image and the SCP03 debugging tool that prints session keys.
    pub fn export(&self) -> SecretBytes {
        SecretBytes::new(self.bytes.to_vec())
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AesKey([REDACTED; {}])", self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4493 section 4, all four examples.
    #[test]
    fn rfc4493_examples() {
        let key = AesKey::from_bytes(&h("2b7e151628aed2a6abf7158809cf4f3c")).unwrap();
        let msg = h(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                     30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        );
        let cases = [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ];
        for (len, tag) in cases {
            assert_eq!(key.cmac(&[&msg[..len]]).to_vec(), h(tag), "Mlen = {len}");
        }
        // Split input gives the same tag.
        assert_eq!(key.cmac(&[&msg[..7], &msg[7..40]]).to_vec(), h(cases[2].1));
    }

    /// NIST SP 800-38A F.2.1 / F.2.5 (CBC-AES128 and CBC-AES256), first two blocks.
    #[test]
    fn sp800_38a_cbc() {
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let plain = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        for (key, ct) in [
            (
                "2b7e151628aed2a6abf7158809cf4f3c",
                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2",
            ),
            (
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d",
            ),
        ] {
            let key = AesKey::from_bytes(&h(key)).unwrap();
            let mut data = plain.clone();
            key.cbc_encrypt(&iv, &mut data).unwrap();
            assert_eq!(data, h(ct));
            key.cbc_decrypt(&iv, &mut data).unwrap();
            assert_eq!(data, plain);
        }
    }

    #[test]
    fn wrap_round_trips_every_length_and_refuses_bad_sizes() {
        let dek = AesKey::from_bytes(&[7; 16]).unwrap();
        for len in [16, 24, 32] {
            let key = AesKey::from_bytes(&vec![len as u8; len]).unwrap();
            let wrapped = dek.wrap_key(&key);
            assert_eq!(wrapped.len() % 16, 0);
            let back = dek.unwrap_key(&wrapped, len).unwrap();
            assert_eq!(back.export(), key.export());
            assert_eq!(back.check_value(), key.check_value());
        }
        assert_eq!(
            dek.unwrap_key(&[0; 17], 16).unwrap_err(),
            CryptoError::InvalidLength
        );
        assert!(AesKey::from_bytes(&[0; 15]).is_err());
        let mut odd = [0u8; 15];
        assert!(dek.cbc_encrypt(&[0; 16], &mut odd).is_err());
    }

    #[test]
    fn debug_redacts() {
        let key = AesKey::from_bytes(&[0x42; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "AesKey([REDACTED; 32])");
    }
}

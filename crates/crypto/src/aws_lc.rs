//! The software [`CryptoProvider`], backed by aws-lc-rs (AWS-LC, FIPS 140-3 validated build
//! available).

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement;
use aws_lc_rs::digest;
use aws_lc_rs::hmac;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap};
use aws_lc_rs::rand::{self, SecureRandom};

use crate::{CryptoError, CryptoProvider, EcKeyPair, EcPublicKey, SecretBytes};

/// The aws-lc-rs implementation of [`CryptoProvider`].
#[derive(Debug, Default, Clone, Copy)]
pub struct AwsLcProvider;

impl AwsLcProvider {
    /// The provider. It holds no state; keys are values passed to each call.
    pub fn new() -> Self {
        Self
    }
}

impl CryptoProvider for AwsLcProvider {
    fn fill_random(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        rand::SystemRandom::new()
            .fill(out)
            .map_err(|_| CryptoError::Internal)
    }

    fn generate_ec_key(&self) -> Result<EcKeyPair, CryptoError> {
        let key = agreement::PrivateKey::generate(&agreement::ECDH_P256)
            .map_err(|_| CryptoError::Internal)?;
        let scalar: aws_lc_rs::encoding::EcPrivateKeyBin<'_> =
            aws_lc_rs::encoding::AsBigEndian::as_be_bytes(&key)
                .map_err(|_| CryptoError::Internal)?;
        EcKeyPair::from_scalar(scalar.as_ref())
    }

    fn ecdh(&self, key: &EcKeyPair, peer: &EcPublicKey) -> Result<SecretBytes, CryptoError> {
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer.uncompressed());
        agreement::agree(&key.agreement, peer, CryptoError::InvalidKey, |z| {
            Ok(SecretBytes::new(z.to_vec()))
        })
    }

    fn ecdh_ephemeral(
        &self,
        peer: &EcPublicKey,
    ) -> Result<(EcPublicKey, SecretBytes), CryptoError> {
        let eph = agreement::PrivateKey::generate(&agreement::ECDH_P256)
            .map_err(|_| CryptoError::Internal)?;
        let eph_pub = eph
            .compute_public_key()
            .map_err(|_| CryptoError::Internal)?;
        let eph_pub = EcPublicKey::from_uncompressed(eph_pub.as_ref())?;
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer.uncompressed());
        let z = agreement::agree(&eph, peer, CryptoError::InvalidKey, |z| {
            Ok(SecretBytes::new(z.to_vec()))
        })?;
        Ok((eph_pub, z))
    }

    fn sign_es256(&self, key: &EcKeyPair, message: &[u8]) -> Result<[u8; 64], CryptoError> {
        let sig = key
            .signing
            .sign(&rand::SystemRandom::new(), message)
            .map_err(|_| CryptoError::Internal)?;
        sig.as_ref().try_into().map_err(|_| CryptoError::Internal)
    }

    fn verify_es256(
        &self,
        key: &EcPublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        if signature.len() != 64 {
            return Err(CryptoError::AuthenticationFailed);
        }
        key.parsed()
            .verify_sig(message, signature)
            .map_err(|_| CryptoError::AuthenticationFailed)
    }

    fn aes256_gcm_seal(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, [u8; 16]), CryptoError> {
        let key = gcm_key(key)?;
        let mut buf = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CryptoError::Internal)?;
        let tag: [u8; 16] = tag.as_ref().try_into().map_err(|_| CryptoError::Internal)?;
        Ok((buf, tag))
    }

    fn aes256_gcm_open(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        if tag.len() != 16 {
            return Err(CryptoError::AuthenticationFailed);
        }
        let key = gcm_key(key)?;
        let mut buf = Vec::with_capacity(ciphertext.len() + 16);
        buf.extend_from_slice(ciphertext);
        buf.extend_from_slice(tag);
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        let len = plain.len();
        buf.truncate(len);
        Ok(SecretBytes::new(buf))
    }

    fn aes_kw_wrap(&self, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        kw_wrap(kek, key)
    }

    fn aes_kw_unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
        kw_unwrap(kek, wrapped)
    }

    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&key, data).as_ref());
        out
    }
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    if key.len() != 32 {
        return Err(CryptoError::InvalidLength);
    }
    let unbound =
        UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| CryptoError::InvalidLength)?;
    Ok(LessSafeKey::new(unbound))
}

pub(crate) fn kw_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    // RFC 3394 section 2: the key is at least two 64-bit blocks, a multiple of 64 bits.
    if kek.len() != 32 || key.len() < 16 || !key.len().is_multiple_of(8) {
        return Err(CryptoError::InvalidLength);
    }
    let kek = AesKek::new(&AES_256, kek).map_err(|_| CryptoError::InvalidLength)?;
    let mut out = vec![0u8; key.len() + 8];
    let len = kek
        .wrap(key, &mut out)
        .map_err(|_| CryptoError::Internal)?
        .len();
    out.truncate(len);
    Ok(out)
}

pub(crate) fn kw_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
    if kek.len() != 32 {
        return Err(CryptoError::InvalidLength);
    }
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return Err(CryptoError::AuthenticationFailed);
    }
    let kek = AesKek::new(&AES_256, kek).map_err(|_| CryptoError::InvalidLength)?;
    let mut out = vec![0u8; wrapped.len()];
    let len = kek
        .unwrap(wrapped, &mut out)
        .map_err(|_| CryptoError::AuthenticationFailed)?
        .len();
    out.truncate(len);
    Ok(SecretBytes::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 3394 section 4.6: wrap 256 bits of key data with a 256-bit KEK.
    #[test]
    fn rfc3394_4_6() {
        let p = AwsLcProvider::new();
        let kek = h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let key = h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let wrapped = p.aes_kw_wrap(&kek, &key).unwrap();
        assert_eq!(
            wrapped,
            h("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
        );
        assert_eq!(p.aes_kw_unwrap(&kek, &wrapped).unwrap().expose(), &key[..]);
        let mut bad = wrapped.clone();
        bad[5] ^= 1;
        assert_eq!(
            p.aes_kw_unwrap(&kek, &bad).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    /// RFC 4231 test case 2 (HMAC-SHA-256).
    #[test]
    fn rfc4231_case2() {
        let p = AwsLcProvider::new();
        assert_eq!(
            p.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
                .to_vec(),
            h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    /// NIST GCM test vector (gcmEncryptExtIV256.rsp, Count 0 of the 96-bit IV, 128-bit PT set
    /// with AAD): "The Galois/Counter Mode of Operation", test case 16 (McGrew and Viega).
    #[test]
    fn gcm_test_case_16() {
        let p = AwsLcProvider::new();
        let key = h("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let iv: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
        let pt = h(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let (ct, tag) = p.aes256_gcm_seal(&key, &iv, &aad, &pt).unwrap();
        assert_eq!(
            ct,
            h(
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
            )
        );
        assert_eq!(tag.to_vec(), h("76fc6ece0f4e1768cddf8853bb2d551b"));
        assert_eq!(
            p.aes256_gcm_open(&key, &iv, &aad, &ct, &tag)
                .unwrap()
                .expose(),
            &pt[..]
        );
        let mut bad = tag;
        bad[0] ^= 0x80;
        assert!(p.aes256_gcm_open(&key, &iv, &aad, &ct, &bad).is_err());
    }

    #[test]
    fn ecdh_agrees_and_signatures_verify() {
        let p = AwsLcProvider::new();
        let a = p.generate_ec_key().unwrap();
        let (eph_pub, z1) = p.ecdh_ephemeral(a.public_key()).unwrap();
        let z2 = p.ecdh(&a, &eph_pub).unwrap();
        assert_eq!(z1, z2);
        assert_eq!(z1.len(), 32);
        let sig = p.sign_es256(&a, b"msg").unwrap();
        p.verify_es256(a.public_key(), b"msg", &sig).unwrap();
        assert!(p.verify_es256(a.public_key(), b"msg2", &sig).is_err());
        assert!(p.verify_es256(a.public_key(), b"msg", &sig[..63]).is_err());
    }
}

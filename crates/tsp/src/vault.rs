//! Envelope encryption of stored secrets (PAN, token PAN, token keys), and keyed hashes for
//! lookups (PCI DSS 4.0 requirements 3.5.1 and 3.5.1.1).
//!
//! Each value gets its own random 256-bit data key (DEK); the value is encrypted with
//! AES-256-GCM under the DEK, with associated data naming the record and field so a
//! ciphertext cannot be moved to another row; the DEK is wrapped (RFC 3394) under the
//! key-encryption key (KEK) from the key store. Lookups use HMAC-SHA-256 under a separate
//! hash key, never the plaintext.

use std::fmt;

use provisio_crypto::{CryptoError, CryptoProvider, SecretBytes};

/// The vault's keys: the KEK (with its id) and the lookup hash key.
pub struct VaultKeys {
    kek_id: String,
    kek: SecretBytes,
    hash_key: SecretBytes,
}

/// An encrypted value as stored: `kek_id`, wrapped DEK, nonce, ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    kek_id: String,
    wrapped_dek: Vec<u8>,
    nonce: [u8; 12],
    ciphertext: Vec<u8>,
    tag: [u8; 16],
}

const SEALED_VERSION: u8 = 1;

impl VaultKeys {
    /// Assembles the vault keys (both 32 bytes).
    pub fn new(
        kek_id: String,
        kek: SecretBytes,
        hash_key: SecretBytes,
    ) -> Result<Self, CryptoError> {
        if kek.len() != 32 || hash_key.len() != 32 {
            return Err(CryptoError::InvalidLength);
        }
        Ok(Self {
            kek_id,
            kek,
            hash_key,
        })
    }

    /// Encrypts `plaintext`; `aad` names what it is and where it belongs.
    pub fn seal(
        &self,
        crypto: &dyn CryptoProvider,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Sealed, CryptoError> {
        let mut dek = vec![0u8; 32];
        crypto.fill_random(&mut dek)?;
        let dek = SecretBytes::new(dek);
        let mut nonce = [0u8; 12];
        crypto.fill_random(&mut nonce)?;
        let (ciphertext, tag) = crypto.aes256_gcm_seal(dek.expose(), &nonce, aad, plaintext)?;
        let wrapped_dek = crypto.aes_kw_wrap(self.kek.expose(), dek.expose())?;
        Ok(Sealed {
            kek_id: self.kek_id.clone(),
            wrapped_dek,
            nonce,
            ciphertext,
            tag,
        })
    }

    /// Decrypts a value sealed under this KEK with the same `aad`.
    pub fn open(
        &self,
        crypto: &dyn CryptoProvider,
        sealed: &Sealed,
        aad: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        if sealed.kek_id != self.kek_id {
            return Err(CryptoError::InvalidKey);
        }
        let dek = crypto.aes_kw_unwrap(self.kek.expose(), &sealed.wrapped_dek)?;
        crypto.aes256_gcm_open(
            dek.expose(),
            &sealed.nonce,
            aad,
            &sealed.ciphertext,
            &sealed.tag,
        )
    }

    /// The keyed lookup hash of `value` in `domain` (e.g. `pan`, `token_pan`).
    pub fn lookup_hash(&self, crypto: &dyn CryptoProvider, domain: &str, value: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(domain.len() + 1 + value.len());
        data.extend_from_slice(domain.as_bytes());
        data.push(0);
        data.extend_from_slice(value.as_bytes());
        crypto.hmac_sha256(self.hash_key.expose(), &data)
    }
}

impl fmt::Debug for VaultKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultKeys")
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

impl Sealed {
    /// The stored form: `version || len(kek_id) || kek_id || len(wrapped) || wrapped || nonce
    /// || tag || ciphertext`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(2 + self.kek_id.len() + 1 + 40 + 12 + 16 + self.ciphertext.len());
        out.push(SEALED_VERSION);
        // kek ids and wrapped keys are short by construction (under 256 bytes).
        out.push(self.kek_id.len() as u8);
        out.extend_from_slice(self.kek_id.as_bytes());
        out.push(self.wrapped_dek.len() as u8);
        out.extend_from_slice(&self.wrapped_dek);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.tag);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses the stored form; `None` if it is damaged.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != SEALED_VERSION {
            return None;
        }
        let (&kid_len, rest) = rest.split_first()?;
        let (kek_id, rest) = rest.split_at_checked(usize::from(kid_len))?;
        let (&wrapped_len, rest) = rest.split_first()?;
        let (wrapped_dek, rest) = rest.split_at_checked(usize::from(wrapped_len))?;
        let (nonce, rest) = rest.split_at_checked(12)?;
        let (tag, ciphertext) = rest.split_at_checked(16)?;
        Some(Self {
            kek_id: String::from_utf8(kek_id.to_vec()).ok()?,
            wrapped_dek: wrapped_dek.to_vec(),
            nonce: nonce.try_into().ok()?,
            ciphertext: ciphertext.to_vec(),
            tag: tag.try_into().ok()?,
        })
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Sealed(kek={}, {} bytes)",
            self.kek_id,
            self.ciphertext.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    fn keys() -> VaultKeys {
        VaultKeys::new(
            "kek1".into(),
            SecretBytes::new(vec![1; 32]),
            SecretBytes::new(vec![2; 32]),
        )
        .unwrap()
    }

    #[test]
    fn seal_open_and_bindings() {
        let p = AwsLcProvider::new();
        let v = keys();
        let s = v.seal(&p, b"4111111111111111", b"token:t1:pan").unwrap();
        let stored = s.to_bytes();
        assert!(!stored.windows(16).any(|w| w == b"4111111111111111"));
        let back = Sealed::from_bytes(&stored).unwrap();
        assert_eq!(
            v.open(&p, &back, b"token:t1:pan").unwrap().expose(),
            b"4111111111111111"
        );
        assert!(
            v.open(&p, &back, b"token:t2:pan").is_err(),
            "moved to another row"
        );
        assert!(
            Sealed::from_bytes(&stored[..stored.len() - 3])
                .is_some_and(|s| v.open(&p, &s, b"token:t1:pan").is_err())
        );
        assert!(Sealed::from_bytes(&[1, 200]).is_none());
        assert_ne!(
            v.lookup_hash(&p, "pan", "4111111111111111"),
            v.lookup_hash(&p, "token_pan", "4111111111111111")
        );
    }
}

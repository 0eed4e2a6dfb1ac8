//! The token service's own keys: encryption and signing key pairs (published in the JWKS) and
//! the vault keys, all stored sealed under the master key.

use provisio_crypto::{CryptoError, CryptoProvider, EcKeyPair, EcPublicKey, SecretBytes};
use provisio_jose::{Jwk, JwkSet, KeyUse, b64_encode};

use crate::{VaultKeys, random_id};

/// What a stored key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// EC P-256 key agreement for JWEs sent to us (`use: enc`, `ECDH-ES+A256KW`).
    Enc,
    /// EC P-256 ES256 signing (`use: sig`).
    Sig,
    /// AES-256 key-encryption key of the vault.
    VaultKek,
    /// HMAC-SHA-256 key for vault lookups.
    VaultHash,
}

impl KeyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enc => "enc",
            Self::Sig => "sig",
            Self::VaultKek => "vault_kek",
            Self::VaultHash => "vault_hash",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Enc, Self::Sig, Self::VaultKek, Self::VaultHash]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A key as the store keeps it: sealed under the master key (RFC 3394 key wrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id (RFC 7638 thumbprint for EC keys).
    pub kid: String,
    /// Purpose.
    pub kind: KeyKind,
    /// The key wrapped under the master key.
    pub sealed: Vec<u8>,
    /// When it was made (Unix seconds); the newest key of a kind is the current one.
    pub created_at: i64,
}

/// An EC key with its id.
#[derive(Debug)]
pub struct NamedKey {
    /// Key id.
    pub kid: String,
    /// The key pair.
    pub key: EcKeyPair,
}

/// The token service's key set, unsealed, as one instance holds it in memory.
#[derive(Debug)]
pub struct TspKeys {
    enc: Vec<NamedKey>,
    sig: Vec<NamedKey>,
    vault: VaultKeys,
}

impl TspKeys {
    /// Generates a fresh key set and its sealed form for the store.
    pub fn generate(
        crypto: &dyn CryptoProvider,
        master: &SecretBytes,
        now: i64,
    ) -> Result<(Self, Vec<StoredKey>), CryptoError> {
        let mut stored = Vec::with_capacity(4);
        let mut ec = |kind| -> Result<NamedKey, CryptoError> {
            let key = crypto.generate_ec_key()?;
            let kid = jwk_thumbprint(crypto, key.public_key());
            stored.push(StoredKey {
                kid: kid.clone(),
                kind,
                sealed: key.seal(master.expose())?,
                created_at: now,
            });
            Ok(NamedKey { kid, key })
        };
        let enc = ec(KeyKind::Enc)?;
        let sig = ec(KeyKind::Sig)?;
        let mut sym = |kind| -> Result<(String, SecretBytes), CryptoError> {
            let mut raw = vec![0u8; 32];
            crypto.fill_random(&mut raw)?;
            let key = SecretBytes::new(raw);
            let kid = random_id(crypto, &format!("{}-", kind_prefix(kind)))?;
            stored.push(StoredKey {
                kid: kid.clone(),
                kind,
                sealed: crypto.aes_kw_wrap(master.expose(), key.expose())?,
                created_at: now,
            });
            Ok((kid, key))
        };
        let (kek_id, kek) = sym(KeyKind::VaultKek)?;
        let (_, hash_key) = sym(KeyKind::VaultHash)?;
        let vault = VaultKeys::new(kek_id, kek, hash_key)?;
        Ok((
            Self {
                enc: vec![enc],
                sig: vec![sig],
                vault,
            },
            stored,
        ))
    }

    /// Unseals a stored key set. Fails if a key does not unwrap under `master` (wrong master
    /// key) or a kind is missing.
    pub fn from_stored(
        crypto: &dyn CryptoProvider,
        master: &SecretBytes,
        stored: &[StoredKey],
    ) -> Result<Self, CryptoError> {
        let mut sorted: Vec<&StoredKey> = stored.iter().collect();
        sorted.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.kid.cmp(&b.kid))
        });
        let (mut enc, mut sig, mut kek, mut hash) = (Vec::new(), Vec::new(), None, None);
        for k in sorted {
            match k.kind {
                KeyKind::Enc => enc.push(NamedKey {
                    kid: k.kid.clone(),
                    key: EcKeyPair::unseal(master.expose(), &k.sealed)?,
                }),
                KeyKind::Sig => sig.push(NamedKey {
                    kid: k.kid.clone(),
                    key: EcKeyPair::unseal(master.expose(), &k.sealed)?,
                }),
                KeyKind::VaultKek if kek.is_none() => {
                    kek = Some((
                        k.kid.clone(),
                        crypto.aes_kw_unwrap(master.expose(), &k.sealed)?,
                    ));
                }
                KeyKind::VaultHash if hash.is_none() => {
                    hash = Some(crypto.aes_kw_unwrap(master.expose(), &k.sealed)?);
                }
                KeyKind::VaultKek | KeyKind::VaultHash => {}
            }
        }
        let (Some((kek_id, kek)), Some(hash)) = (kek, hash) else {
            return Err(CryptoError::InvalidKey);
        };
        if enc.is_empty() || sig.is_empty() {
            return Err(CryptoError::InvalidKey);
        }
        Ok(Self {
            enc,
            sig,
            vault: VaultKeys::new(kek_id, kek, hash)?,
        })
    }

    /// The encryption key named `kid`, if we hold it.
    pub fn enc_key(&self, kid: &str) -> Option<&EcKeyPair> {
        self.enc.iter().find(|k| k.kid == kid).map(|k| &k.key)
    }

    /// The current encryption key (for tests and the demo's issuer, which encrypt to us).
    #[allow(clippy::indexing_slicing)]
    pub fn current_enc(&self) -> &NamedKey {
        // Non-empty by construction (`generate` and `from_stored`).
        &self.enc[0]
    }

    /// The current signing key.
    #[allow(clippy::indexing_slicing)]
    pub fn current_sig(&self) -> &NamedKey {
        // Non-empty by construction (`generate` and `from_stored`).
        &self.sig[0]
    }

    /// The vault keys.
    pub fn vault(&self) -> &VaultKeys {
        &self.vault
    }

    /// The public JWKS of docs/protocol.md §2.2: every encryption and signing key.
    pub fn jwks(&self) -> JwkSet {
        let enc = self.enc.iter().map(|k| {
            Jwk::from_public_key(k.key.public_key()).with_metadata(
                &k.kid,
                KeyUse::Enc,
                "ECDH-ES+A256KW",
            )
        });
        let sig = self.sig.iter().map(|k| {
            Jwk::from_public_key(k.key.public_key()).with_metadata(&k.kid, KeyUse::Sig, "ES256")
        });
        JwkSet {
            keys: enc.chain(sig).collect(),
        }
    }
}

fn kind_prefix(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::VaultKek => "kek",
        _ => "hmac",
    }
}

/// The RFC 7638 JWK thumbprint of an EC key: SHA-256 over `{"crv","kty","x","y"}` in
/// lexicographic order without white space, base64url.
pub fn jwk_thumbprint(crypto: &dyn CryptoProvider, key: &EcPublicKey) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        b64_encode(key.x()),
        b64_encode(key.y())
    );
    b64_encode(&crypto.sha256(&[canonical.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    #[test]
    fn generate_store_reload() {
        let p = AwsLcProvider::new();
        let master = SecretBytes::new(vec![9; 32]);
        let (keys, stored) = TspKeys::generate(&p, &master, 100).unwrap();
        assert_eq!(stored.len(), 4);
        let again = TspKeys::from_stored(&p, &master, &stored).unwrap();
        assert_eq!(keys.jwks(), again.jwks());
        assert_eq!(keys.jwks().keys.len(), 2);
        assert!(TspKeys::from_stored(&p, &SecretBytes::new(vec![8; 32]), &stored).is_err());
        let enc_kid = keys.current_enc().kid.clone();
        assert!(again.enc_key(&enc_kid).is_some());
        assert!(again.enc_key("nope").is_none());
        // The kid is the thumbprint, so it is stable and 43 characters.
        assert_eq!(enc_kid.len(), 43);
    }
}

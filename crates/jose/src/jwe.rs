//! JWE compact serialization: ECDH-ES (direct or with A256KW) and A256GCM
//! (RFC 7516 section 7.1; RFC 7518 sections 4.6 and 5.3).

use provisio_crypto::{CryptoProvider, EcKeyPair, EcPublicKey, SecretBytes};

use crate::header::Expect;
use crate::{Header, JoseError, Jwk, KeyManagement, b64_decode, b64_encode, concat_kdf};

/// The A256GCM key length in bytes.
const CEK_LEN: usize = 32;
/// An AES key wrap of a 32-byte CEK is 40 bytes (RFC 3394).
const WRAPPED_CEK_LEN: usize = CEK_LEN + 8;

/// What the sender chooses for a JWE.
#[derive(Debug, Clone)]
pub struct EncryptOptions<'a> {
    /// Key management algorithm.
    pub alg: KeyManagement,
    /// `kid` of the recipient's key.
    pub kid: Option<&'a str>,
    /// `cty`, e.g. `JWT` for a nested JWT (RFC 7519 section 5.2).
    pub cty: Option<&'a str>,
}

/// A JWE that decrypted.
#[derive(Debug)]
pub struct Decrypted {
    /// The protected header.
    pub header: Header,
    /// The plaintext.
    pub plaintext: SecretBytes,
}

/// Encrypts `plaintext` to `recipient` and returns the compact serialization.
pub fn encrypt(
    crypto: &dyn CryptoProvider,
    recipient: &EcPublicKey,
    options: &EncryptOptions<'_>,
    plaintext: &[u8],
) -> Result<String, JoseError> {
    let (epk, z) = crypto.ecdh_ephemeral(recipient)?;
    let mut header = serde_json::json!({
        "alg": options.alg.as_str(),
        "enc": "A256GCM",
        "epk": Jwk::from_public_key(&epk),
    });
    if let Some(members) = header.as_object_mut() {
        if let Some(kid) = options.kid {
            members.insert("kid".into(), kid.into());
        }
        if let Some(cty) = options.cty {
            members.insert("cty".into(), cty.into());
        }
    }
    let header_b64 = b64_encode(&serde_json::to_vec(&header).map_err(|_| JoseError::Internal)?);

    let (cek, encrypted_key) = match options.alg {
        KeyManagement::EcdhEs => (
            concat_kdf(crypto, z.expose(), "A256GCM", b"", b"", CEK_LEN),
            Vec::new(),
        ),
        KeyManagement::EcdhEsA256Kw => {
            let kek = concat_kdf(crypto, z.expose(), options.alg.as_str(), b"", b"", CEK_LEN);
            let mut cek = vec![0u8; CEK_LEN];
            crypto.fill_random(&mut cek)?;
            let wrapped = crypto.aes_kw_wrap(kek.expose(), &cek)?;
            (SecretBytes::new(cek), wrapped)
        }
    };
    let mut iv = [0u8; 12];
    crypto.fill_random(&mut iv)?;
    // RFC 7516 section 5.1 step 14: AAD is the ASCII of the encoded protected header.
    let (ciphertext, tag) =
        crypto.aes256_gcm_seal(cek.expose(), &iv, header_b64.as_bytes(), plaintext)?;
    Ok(format!(
        "{header_b64}.{}.{}.{}.{}",
        b64_encode(&encrypted_key),
        b64_encode(&iv),
        b64_encode(&ciphertext),
        b64_encode(&tag)
    ))
}

/// Decrypts a compact JWE.
///
/// `accepted` lists the key management algorithms the caller allows; `key_for` receives the
/// header's `kid` and returns the private key it names, or `None` to refuse.
pub fn decrypt<'k, F>(
    crypto: &dyn CryptoProvider,
    compact: &str,
    accepted: &[KeyManagement],
    key_for: F,
) -> Result<Decrypted, JoseError>
where
    F: FnOnce(Option<&str>) -> Option<&'k EcKeyPair>,
{
    let mut parts = compact.split('.');
    let (Some(h), Some(k), Some(i), Some(c), Some(t), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(JoseError::Malformed("a compact JWE has five parts"));
    };
    let header = Header::parse(h, Expect::Jwe(accepted))?;
    let encrypted_key = b64_decode(k)?;
    let iv: [u8; 12] = b64_decode(i)?
        .try_into()
        .map_err(|_| JoseError::Malformed("iv must be 96 bits"))?;
    let ciphertext = b64_decode(c)?;
    let tag = b64_decode(t)?;
    if tag.len() != 16 {
        return Err(JoseError::Malformed("tag must be 128 bits"));
    }
    let (Some(km), Some(epk)) = (header.key_management, header.epk.as_ref()) else {
        return Err(JoseError::Internal);
    };
    let key = key_for(header.kid.as_deref()).ok_or(JoseError::UnknownKey)?;
    let z = crypto.ecdh(key, epk)?;
    let cek = match km {
        KeyManagement::EcdhEs => {
            // RFC 7518 section 4.6: with direct key agreement the encrypted key is empty.
            if !encrypted_key.is_empty() {
                return Err(JoseError::Malformed("ECDH-ES has an empty encrypted key"));
            }
            concat_kdf(
                crypto,
                z.expose(),
                "A256GCM",
                &header.apu,
                &header.apv,
                CEK_LEN,
            )
        }
        KeyManagement::EcdhEsA256Kw => {
            if encrypted_key.len() != WRAPPED_CEK_LEN {
                return Err(JoseError::Malformed("wrapped key must be 40 octets"));
            }
            let kek = concat_kdf(
                crypto,
                z.expose(),
                km.as_str(),
                &header.apu,
                &header.apv,
                CEK_LEN,
            );
            crypto
                .aes_kw_unwrap(kek.expose(), &encrypted_key)
                .map_err(|_| JoseError::Decryption)?
        }
    };
    let plaintext = crypto
        .aes256_gcm_open(cek.expose(), &iv, h.as_bytes(), &ciphertext, &tag)
        .map_err(|_| JoseError::Decryption)?;
    Ok(Decrypted { header, plaintext })
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    const BOTH: &[KeyManagement] = &[KeyManagement::EcdhEsA256Kw, KeyManagement::EcdhEs];

    #[test]
    fn round_trips_both_modes() {
        let p = AwsLcProvider::new();
        let key = p.generate_ec_key().unwrap();
        for alg in [KeyManagement::EcdhEsA256Kw, KeyManagement::EcdhEs] {
            let opts = EncryptOptions {
                alg,
                kid: Some("k1"),
                cty: Some("JWT"),
            };
            let jwe = encrypt(&p, key.public_key(), &opts, b"hello").unwrap();
            let d = decrypt(&p, &jwe, BOTH, |kid| {
                assert_eq!(kid, Some("k1"));
                Some(&key)
            })
            .unwrap();
            assert_eq!(d.plaintext.expose(), b"hello");
            assert_eq!(d.header.cty.as_deref(), Some("JWT"));
            assert_eq!(d.header.key_management, Some(alg));
        }
    }

    #[test]
    fn refusals() {
        let p = AwsLcProvider::new();
        let key = p.generate_ec_key().unwrap();
        let other = p.generate_ec_key().unwrap();
        let opts = EncryptOptions {
            alg: KeyManagement::EcdhEs,
            kid: None,
            cty: None,
        };
        let jwe = encrypt(&p, key.public_key(), &opts, b"x").unwrap();
        // Algorithm not accepted by this caller.
        assert!(matches!(
            decrypt(&p, &jwe, &[KeyManagement::EcdhEsA256Kw], |_| Some(&key)),
            Err(JoseError::Policy(_))
        ));
        assert_eq!(
            decrypt(&p, &jwe, BOTH, |_| Some(&other)).unwrap_err(),
            JoseError::Decryption
        );
        assert_eq!(
            decrypt(&p, &jwe, BOTH, |_| None).unwrap_err(),
            JoseError::UnknownKey
        );
        assert!(decrypt(&p, "a.b.c.d", BOTH, |_| Some(&key)).is_err());
        assert!(decrypt(&p, &format!("{jwe}.e"), BOTH, |_| Some(&key)).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Every single-character change of a valid JWE is refused, and nothing panics.
        #[test]
        fn any_changed_character_is_refused(pos in 0usize..400, c in "[A-Za-z0-9_.=+/-]") {
            let p = AwsLcProvider::new();
            let key = p.generate_ec_key().unwrap();
            let opts = EncryptOptions { alg: KeyManagement::EcdhEsA256Kw, kid: Some("k"), cty: None };
            let jwe = encrypt(&p, key.public_key(), &opts, b"payload").unwrap();
            let pos = pos % jwe.len();
            let mut bytes = jwe.clone().into_bytes();
            let c = c.as_bytes()[0];
            proptest::prop_assume!(bytes[pos] != c);
            bytes[pos] = c;
            let changed = String::from_utf8(bytes).unwrap();
            proptest::prop_assert!(decrypt(&p, &changed, BOTH, |_| Some(&key)).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
            let p = AwsLcProvider::new();
            let key = p.generate_ec_key().unwrap();
            let _ = decrypt(&p, &s, BOTH, |_| Some(&key));
            let _ = crate::verify_with_key(&p, &s, key.public_key());
        }
    }
}

//! JWS compact serialization with ES256 (RFC 7515 section 7.1; RFC 7518 section 3.4).

use provisio_crypto::{CryptoProvider, EcKeyPair, EcPublicKey};

use crate::header::Expect;
use crate::{Header, JoseError, b64_decode, b64_encode};

/// A JWS whose signature verified.
#[derive(Debug)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Signs `payload` with ES256 and returns the compact serialization.
///
/// The protected header is `{"alg":"ES256","kid":kid}` plus `typ` when given.
pub fn sign(
    crypto: &dyn CryptoProvider,
    key: &EcKeyPair,
    kid: &str,
    typ: Option<&str>,
    payload: &[u8],
) -> Result<String, JoseError> {
    let mut header = serde_json::json!({ "alg": "ES256", "kid": kid });
    if let (Some(typ), Some(members)) = (typ, header.as_object_mut()) {
        members.insert("typ".into(), typ.into());
    }
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::Internal)?;
    let signing_input = format!("{}.{}", b64_encode(&header), b64_encode(payload));
    let signature = crypto.sign_es256(key, signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64_encode(&signature)))
}

/// Verifies a compact JWS. `key_for` picks the verification key from the checked header
/// (usually by `kid`); it returns an error to refuse.
pub fn verify<F>(
    crypto: &dyn CryptoProvider,
    compact: &str,
    key_for: F,
) -> Result<Verified, JoseError>
where
    F: FnOnce(&Header) -> Result<EcPublicKey, JoseError>,
{
    let (header_b64, payload_b64, signature_b64) = split3(compact)?;
    let header = Header::parse(header_b64, Expect::Jws)?;
    let payload = b64_decode(payload_b64)?;
    let signature = b64_decode(signature_b64)?;
    let key = key_for(&header)?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = compact
        .get(..signing_input_len)
        .ok_or(JoseError::Malformed("JWS"))?;
    // RFC 7518 section 3.4: the signature is R || S, 64 octets; anything else is invalid.
    crypto
        .verify_es256(&key, signing_input.as_bytes(), &signature)
        .map_err(|_| JoseError::Signature)?;
    Ok(Verified { header, payload })
}

/// Verifies a compact JWS under one known key, whatever its `kid`.
pub fn verify_with_key(
    crypto: &dyn CryptoProvider,
    compact: &str,
    key: &EcPublicKey,
) -> Result<Verified, JoseError> {
    verify(crypto, compact, |_| Ok(key.clone()))
}

fn split3(compact: &str) -> Result<(&str, &str, &str), JoseError> {
    let mut parts = compact.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(JoseError::Malformed("a compact JWS has three parts")),
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
    const A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    fn a3_public() -> EcPublicKey {
        EcPublicKey::from_coordinates(&b64_decode(A3_X).unwrap(), &b64_decode(A3_Y).unwrap())
            .unwrap()
    }

    /// The order n of P-256 (SEC 2, section 2.4.2), big-endian.
    const P256_N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];

    /// `n - s` for a 32-byte big-endian `s < n`.
    fn negate(s: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            out[i] = (d + 256 * borrow) as u8;
        }
        out
    }

    /// ECDSA verifies (r, s) and (r, n - s) alike; standard JOSE libraries do not normalise S,
    /// so a high-S ES256 signature stays accepted. One-time use rests on `jti` and the session
    /// id, never on the signature's bytes (docs/protocol.md §3.2).
    #[test]
    fn a_high_s_signature_is_accepted() {
        let p = AwsLcProvider::new();
        let (head, sig) = A3_JWS.rsplit_once('.').unwrap();
        let sig = b64_decode(sig).unwrap();
        let (r, s) = sig.split_at(32);
        let flipped = [r, &negate(s)].concat();
        assert_ne!(flipped, sig);
        let other = format!("{head}.{}", crate::b64_encode(&flipped));
        assert!(verify_with_key(&p, &other, &a3_public()).is_ok());
        // A changed r is refused: the test would see a verifier that accepts anything.
        let mut broken = flipped.clone();
        broken[0] ^= 1;
        let broken = format!("{head}.{}", crate::b64_encode(&broken));
        assert!(verify_with_key(&p, &broken, &a3_public()).is_err());
    }

    /// RFC 7515 appendix A.3: the published ES256 JWS verifies under the published key.
    #[test]
    fn rfc7515_a3_verifies() {
        let p = AwsLcProvider::new();
        let v = verify_with_key(&p, A3_JWS, &a3_public()).unwrap();
        assert!(
            String::from_utf8(v.payload)
                .unwrap()
                .contains("\"iss\":\"joe\"")
        );
        // The private key of A.3 derives the published public key.
        let kp = EcKeyPair::from_private_scalar(&b64_decode(A3_D).unwrap()).unwrap();
        assert_eq!(kp.public_key(), &a3_public());
    }

    #[test]
    fn tampering_is_refused() {
        let p = AwsLcProvider::new();
        let key = p.generate_ec_key().unwrap();
        let jws = sign(&p, &key, "k1", Some("JWT"), b"{\"a\":1}").unwrap();
        let v = verify(&p, &jws, |h| {
            assert_eq!(h.kid.as_deref(), Some("k1"));
            Ok(key.public_key().clone())
        })
        .unwrap();
        assert_eq!(v.payload, b"{\"a\":1}");
        // The A.3 JWS does not verify under another key.
        assert_eq!(
            verify_with_key(&p, A3_JWS, key.public_key()).unwrap_err(),
            JoseError::Signature
        );
        // `alg: none` with an empty signature is refused before any key is looked up.
        let none = format!(
            "{}.{}.",
            b64_encode(br#"{"alg":"none"}"#),
            b64_encode(b"{}")
        );
        assert!(matches!(
            verify(&p, &none, |_| unreachable!()),
            Err(JoseError::Policy(_))
        ));
        assert!(verify_with_key(&p, &format!("{jws}.x"), key.public_key()).is_err());
        assert!(verify_with_key(&p, "a.b", key.public_key()).is_err());
    }
}

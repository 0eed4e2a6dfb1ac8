//! Target `jws`: a compact JWS with ES256 (RFC 7515 7.1, RFC 7518 3.4), as the token service
//! verifies the issuer's signed request data inside the JWE (docs/protocol.md §13.1).

use provisio_jose::{JoseError, b64_decode, b64_encode};

use crate::fixture::{ISSUER_KID, crypto, issuer_key, tsp_enc_key};

/// Verifies `data` (read as UTF-8, invalid sequences replaced) under the fixture issuer's
/// key, chosen by `kid`. A refusal is never our side's failure; base64url is canonical (a
/// changed character is a changed value); what verifies was signed by that key only, and its
/// payload signs and verifies again to itself.
pub fn jws(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let compact = text.as_ref();
    for part in compact.split('.') {
        if let Ok(bytes) = b64_decode(part) {
            assert_eq!(b64_encode(&bytes), part, "base64url has one encoding");
        }
    }
    let c = crypto();
    let key_for = |h: &provisio_jose::Header| {
        if h.kid.as_deref() == Some(ISSUER_KID) {
            Ok(issuer_key().public_key().clone())
        } else {
            Err(JoseError::UnknownKey)
        }
    };
    match provisio_jose::verify(c, compact, key_for) {
        Ok(v) => {
            assert_eq!(v.header.alg, "ES256", "only ES256 verifies");
            assert_eq!(
                provisio_jose::verify_with_key(c, compact, tsp_enc_key().public_key()).err(),
                Some(JoseError::Signature),
                "another key does not verify it"
            );
            let again = provisio_jose::sign(
                c,
                issuer_key(),
                ISSUER_KID,
                v.header.typ.as_deref(),
                &v.payload,
            )
            .unwrap_or_else(|e| panic!("a verified payload does not sign: {e}"));
            let back = provisio_jose::verify_with_key(c, &again, issuer_key().public_key())
                .unwrap_or_else(|e| panic!("verify(sign(x)) fails: {e}"));
            assert_eq!(back.payload, v.payload, "round trip");
        }
        Err(JoseError::Internal) => panic!("a peer's JWS is refused as our failure"),
        Err(_) => {}
    }
}

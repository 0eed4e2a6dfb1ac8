//! The JOSE header and the policy that admits it.

use provisio_crypto::EcPublicKey;
use serde::Deserialize;

use crate::{JoseError, Jwk, b64_decode};

/// The key management algorithms we accept for JWE (RFC 7518 section 4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyManagement {
    /// `ECDH-ES+A256KW`: ECDH-ES derives a KEK that wraps a random CEK.
    EcdhEsA256Kw,
    /// `ECDH-ES`: direct key agreement, the derived key is the CEK.
    EcdhEs,
}

impl KeyManagement {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdhEsA256Kw => "ECDH-ES+A256KW",
            Self::EcdhEs => "ECDH-ES",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "ECDH-ES+A256KW" => Some(Self::EcdhEsA256Kw),
            "ECDH-ES" => Some(Self::EcdhEs),
            _ => None,
        }
    }
}

/// A protected header that passed the policy.
#[derive(Debug, Clone)]
pub struct Header {
    /// `alg` as sent.
    pub alg: String,
    /// For a JWE, the key management algorithm `alg` names.
    pub key_management: Option<KeyManagement>,
    /// `kid`, when present.
    pub kid: Option<String>,
    /// `typ`, when present.
    pub typ: Option<String>,
    /// `cty`, when present.
    pub cty: Option<String>,
    /// The ephemeral public key of a JWE, validated on the curve.
    pub epk: Option<EcPublicKey>,
    /// Agreement PartyUInfo (decoded `apu`), empty when absent.
    pub apu: Vec<u8>,
    /// Agreement PartyVInfo (decoded `apv`), empty when absent.
    pub apv: Vec<u8>,
}

/// Every member we recognise. Members we do not recognise are ignored (RFC 7515 section 4),
/// which is safe because `crit` is refused outright: no extension can be made mandatory.
/// Known members appear at most once: serde refuses a duplicate field.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    enc: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    epk: Option<Jwk>,
    apu: Option<String>,
    apv: Option<String>,
    crit: Option<serde::de::IgnoredAny>,
    zip: Option<serde::de::IgnoredAny>,
    jku: Option<serde::de::IgnoredAny>,
    jwk: Option<serde::de::IgnoredAny>,
    x5u: Option<serde::de::IgnoredAny>,
    x5c: Option<serde::de::IgnoredAny>,
    b64: Option<serde::de::IgnoredAny>,
}

/// What kind of object the header belongs to.
#[derive(Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// A JWS signed with ES256.
    Jws,
    /// A JWE with one of these key management algorithms and `enc` A256GCM.
    Jwe(&'a [KeyManagement]),
}

impl Header {
    /// Decodes and checks the base64url protected header.
    pub(crate) fn parse(encoded: &str, expect: Expect<'_>) -> Result<Self, JoseError> {
        let bytes = b64_decode(encoded)?;
        let raw: RawHeader = serde_json::from_slice(&bytes)
            .map_err(|_| JoseError::Malformed("header is not a JSON object"))?;
        if raw.crit.is_some() {
            // RFC 7515 section 4.1.11: we understand no extension, so any crit list is refused.
            return Err(JoseError::Policy("crit is not supported"));
        }
        if raw.zip.is_some() {
            return Err(JoseError::Policy("zip is not supported"));
        }
        if raw.jku.is_some() || raw.jwk.is_some() || raw.x5u.is_some() || raw.x5c.is_some() {
            // Keys come from our registry, never from the message (RFC 8725 section 3.10).
            return Err(JoseError::Policy(
                "keys referenced by the header are not accepted",
            ));
        }
        if raw.b64.is_some() {
            return Err(JoseError::Policy("b64 is not supported"));
        }
        let alg = raw.alg.ok_or(JoseError::Malformed("alg is missing"))?;
        let decode_party = |v: Option<String>| -> Result<Vec<u8>, JoseError> {
            v.map_or(Ok(Vec::new()), |s| b64_decode(&s))
        };
        let mut header = Header {
            alg,
            key_management: None,
            kid: raw.kid,
            typ: raw.typ,
            cty: raw.cty,
            epk: None,
            apu: decode_party(raw.apu)?,
            apv: decode_party(raw.apv)?,
        };
        match expect {
            Expect::Jws => {
                // RFC 8725 section 3.1: the verifier fixes the algorithm; `none` and every
                // other value are refused.
                if header.alg != "ES256" {
                    return Err(JoseError::Policy("alg must be ES256"));
                }
                if raw.enc.is_some() || raw.epk.is_some() {
                    return Err(JoseError::Policy("enc/epk in a JWS header"));
                }
            }
            Expect::Jwe(accepted) => {
                let km = KeyManagement::parse(&header.alg)
                    .filter(|km| accepted.contains(km))
                    .ok_or(JoseError::Policy("alg not accepted"))?;
                if raw.enc.as_deref() != Some("A256GCM") {
                    return Err(JoseError::Policy("enc must be A256GCM"));
                }
                let epk = raw.epk.ok_or(JoseError::Malformed("epk is missing"))?;
                header.epk = Some(epk.public_key()?);
                header.key_management = Some(km);
            }
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64_encode;

    fn jws(json: &str) -> Result<Header, JoseError> {
        Header::parse(&b64_encode(json.as_bytes()), Expect::Jws)
    }

    #[test]
    fn jws_policy() {
        assert!(jws(r#"{"alg":"ES256","kid":"k"}"#).is_ok());
        assert!(jws(r#"{"alg":"ES256","unknown":1}"#).is_ok());
        assert_eq!(
            jws(r#"{"alg":"none"}"#).unwrap_err(),
            JoseError::Policy("alg must be ES256")
        );
        assert!(jws(r#"{"alg":"HS256"}"#).is_err());
        assert!(jws(r#"{"alg":"es256"}"#).is_err());
        assert!(jws(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#).is_err());
        assert!(jws(r#"{"alg":"ES256","crit":[]}"#).is_err());
        assert!(jws(r#"{"alg":"ES256","jku":"https://evil"}"#).is_err());
        assert!(jws(r#"{"alg":"ES256","b64":false}"#).is_err());
        assert!(
            jws(r#"{"alg":"ES256","alg":"none"}"#).is_err(),
            "duplicate member"
        );
        assert!(jws(r#"{"kid":"k"}"#).is_err());
        assert!(jws(r#"["alg"]"#).is_err());
        assert!(jws("not json").is_err());
    }
}

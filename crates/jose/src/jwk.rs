//! JSON Web Keys for EC P-256 public keys (RFC 7517; RFC 7518 section 6.2).

use provisio_crypto::{EcPublicKey, P256_COORDINATE_LEN};
use serde::{Deserialize, Serialize};

use crate::{JoseError, b64_decode, b64_encode};

/// What a published key is for (RFC 7517 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyUse {
    /// Encryption (`enc`).
    Enc,
    /// Signature (`sig`).
    Sig,
}

/// An EC P-256 public JWK as it travels on the wire.
///
/// Parsing to a usable key goes through [`Jwk::public_key`], which refuses anything that is
/// not a valid P-256 public point, including a JWK that carries a private part `d`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type; must be `EC`.
    pub kty: String,
    /// Curve; must be `P-256`.
    pub crv: String,
    /// x coordinate, base64url.
    pub x: String,
    /// y coordinate, base64url.
    pub y: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<KeyUse>,
    /// Intended algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// A private key part. Present only to be refused: a public JWK must not carry it.
    #[serde(default, skip_serializing)]
    d: Option<PrivatePart>,
}

/// Marks that a JWK carried `d`; the value itself is discarded unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PrivatePart;

impl<'de> Deserialize<'de> for PrivatePart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Self)
    }
}

/// A JWK Set (RFC 7517 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// The public JWK of `key`.
    pub fn from_public_key(key: &EcPublicKey) -> Self {
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: b64_encode(key.x()),
            y: b64_encode(key.y()),
            kid: None,
            key_use: None,
            alg: None,
            d: None,
        }
    }

    /// The same JWK with `kid`, `use` and `alg` set.
    pub fn with_metadata(mut self, kid: &str, key_use: KeyUse, alg: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self.key_use = Some(key_use);
        self.alg = Some(alg.to_owned());
        self
    }

    /// Parses the JWK into a validated P-256 public key.
    pub fn public_key(&self) -> Result<EcPublicKey, JoseError> {
        if self.kty != "EC" {
            return Err(JoseError::InvalidKey("kty must be EC"));
        }
        if self.crv != "P-256" {
            return Err(JoseError::InvalidKey("crv must be P-256"));
        }
        if self.d.is_some() {
            return Err(JoseError::InvalidKey("a public JWK must not contain d"));
        }
        let x = b64_decode(&self.x).map_err(|_| JoseError::InvalidKey("x is not base64url"))?;
        let y = b64_decode(&self.y).map_err(|_| JoseError::InvalidKey("y is not base64url"))?;
        // RFC 7518 section 6.2.1.2: the coordinate is the full 32 octets, leading zeros kept.
        if x.len() != P256_COORDINATE_LEN || y.len() != P256_COORDINATE_LEN {
            return Err(JoseError::InvalidKey("coordinates must be 32 octets"));
        }
        EcPublicKey::from_coordinates(&x, &y).map_err(|_| JoseError::InvalidKey("not on P-256"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        // RFC 7515 appendix A.3 public key.
        let json = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let jwk: Jwk = serde_json::from_str(json).unwrap();
        let key = jwk.public_key().unwrap();
        assert_eq!(Jwk::from_public_key(&key), jwk);

        let mut off_curve = jwk.clone();
        off_curve.y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1".into();
        assert!(off_curve.public_key().is_err());
        let mut wrong_curve = jwk.clone();
        wrong_curve.crv = "P-384".into();
        assert!(wrong_curve.public_key().is_err());
        let mut short = jwk.clone();
        short.x = b64_encode(&[1u8; 31]);
        assert!(short.public_key().is_err());

        let private = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
        let jwk: Jwk = serde_json::from_str(private).unwrap();
        assert!(jwk.public_key().is_err());
        assert!(!serde_json::to_string(&jwk).unwrap().contains("\"d\""));
    }
}

//! EC P-256 keys.

use std::fmt;

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};

use crate::CryptoError;

/// Length of one P-256 coordinate or private scalar in bytes.
pub const P256_COORDINATE_LEN: usize = 32;

/// A P-256 public key that is known to be a valid point on the curve.
///
/// Construction validates the point (SEC 1 section 3.2.2.1), so a key off the curve, at
/// infinity or with out-of-range coordinates never reaches an ECDH or a verification
/// (the invalid-curve attack of RFC 7518 section 8.6 / JWE "Critical Vulnerabilities").
#[derive(Clone)]
pub struct EcPublicKey {
    /// `0x04 || x || y` (SEC 1 uncompressed form).
    uncompressed: [u8; 65],
    /// Parsed once for fast verification.
    parsed: std::sync::Arc<signature::ParsedPublicKey>,
}

impl EcPublicKey {
    /// A key from its affine coordinates (as in a JWK's `x` and `y`, RFC 7518 section 6.2.1).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, CryptoError> {
        if x.len() != P256_COORDINATE_LEN || y.len() != P256_COORDINATE_LEN {
            return Err(CryptoError::InvalidKey);
        }
        let mut uncompressed = [0u8; 65];
        uncompressed[0] = 0x04;
        uncompressed[1..33].copy_from_slice(x);
        uncompressed[33..].copy_from_slice(y);
        Self::from_uncompressed(&uncompressed)
    }

    /// A key from its SEC 1 uncompressed encoding (`0x04 || x || y`).
    pub fn from_uncompressed(bytes: &[u8]) -> Result<Self, CryptoError> {
        let uncompressed: [u8; 65] = bytes.try_into().map_err(|_| CryptoError::InvalidKey)?;
        if uncompressed[0] != 0x04 {
            return Err(CryptoError::InvalidKey);
        }
        let parsed =
            signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, uncompressed)
                .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            uncompressed,
            parsed: std::sync::Arc::new(parsed),
        })
    }

    /// The x coordinate.
    pub fn x(&self) -> &[u8] {
        &self.uncompressed[1..33]
    }

    /// The y coordinate.
    pub fn y(&self) -> &[u8] {
        &self.uncompressed[33..]
    }

    /// The SEC 1 uncompressed encoding.
    pub fn uncompressed(&self) -> &[u8; 65] {
        &self.uncompressed
    }

    pub(crate) fn parsed(&self) -> &signature::ParsedPublicKey {
        &self.parsed
    }
}

impl PartialEq for EcPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.uncompressed == other.uncompressed
    }
}

impl Eq for EcPublicKey {}

impl fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EcPublicKey(P-256, x={:02x?}..)",
            &self.uncompressed[1..5]
        )
    }
}

/// A P-256 private key with its public key, usable for ECDH and ES256.
///
/// The private scalar cannot be read outside this crate; it leaves only sealed
/// ([`EcKeyPair::seal`]). `Debug` shows the public key only.
pub struct EcKeyPair {
    pub(crate) agreement: agreement::PrivateKey,
    pub(crate) signing: EcdsaKeyPair,
    public: EcPublicKey,
}

impl EcKeyPair {
    /// Builds a key pair from a big-endian private scalar (32 bytes).
    pub(crate) fn from_scalar(scalar: &[u8]) -> Result<Self, CryptoError> {
        let agreement = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, scalar)
            .map_err(|_| CryptoError::InvalidKey)?;
        let public_bytes = agreement
            .compute_public_key()
            .map_err(|_| CryptoError::Internal)?;
        let public = EcPublicKey::from_uncompressed(public_bytes.as_ref())?;
        let signing = EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            scalar,
            public.uncompressed(),
        )
        .map_err(|_| CryptoError::InvalidKey)?;
        debug_assert_eq!(signing.public_key().as_ref(), public.uncompressed());
        Ok(Self {
            agreement,
            signing,
            public,
        })
    }

    /// The public half.
    pub fn public_key(&self) -> &EcPublicKey {
        &self.public
    }

    /// The private key wrapped under the 256-bit `kek` with AES key wrap (RFC 3394), for
    /// storage. Only [`EcKeyPair::unseal`] with the same `kek` recovers it.
    pub fn seal(&self, kek: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let scalar: aws_lc_rs::encoding::EcPrivateKeyBin<'_> = self
            .agreement
            .as_be_bytes()
            .map_err(|_| CryptoError::Internal)?;
        crate::aws_lc::kw_wrap(kek, scalar.as_ref())
    }

    /// Recovers a key sealed by [`EcKeyPair::seal`].
    pub fn unseal(kek: &[u8], sealed: &[u8]) -> Result<Self, CryptoError> {
        let scalar = crate::aws_lc::kw_unwrap(kek, sealed)?;
        Self::from_scalar(scalar.expose())
    }

    /// Imports a key pair from its 32-byte private scalar (SEC 1 section 2.3.7), e.g. a key
    /// exported from another system or a published vector (RFC 7518 appendix C). The service
    /// makes its own keys with [`crate::CryptoProvider::generate_ec_key`] and stores them with
    /// [`EcKeyPair::seal`].
    pub fn from_private_scalar(scalar: &[u8]) -> Result<Self, CryptoError> {
        Self::from_scalar(scalar)
    }
}

impl fmt::Debug for EcKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_points_off_the_curve() {
        // The RFC 7515 A.3 public key, with y changed in its last byte.
        let x = hex::decode("7f7c8d2f4ed03ff0ee3a08f3c0a05fbba0b3d61a1cb5a9b6da7ce3e86e5f4e1a")
            .unwrap();
        let y = [0x11u8; 32];
        assert_eq!(
            EcPublicKey::from_coordinates(&x, &y).unwrap_err(),
            CryptoError::InvalidKey
        );
        assert_eq!(
            EcPublicKey::from_coordinates(&[0u8; 32], &[0u8; 32]).unwrap_err(),
            CryptoError::InvalidKey
        );
        assert!(EcPublicKey::from_uncompressed(&[4u8; 64]).is_err());
    }

    #[test]
    fn seal_round_trip_and_wrong_kek() {
        let p = crate::AwsLcProvider::new();
        use crate::CryptoProvider;
        let key = p.generate_ec_key().unwrap();
        let kek = [7u8; 32];
        let sealed = key.seal(&kek).unwrap();
        let back = EcKeyPair::unseal(&kek, &sealed).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert!(EcKeyPair::unseal(&[8u8; 32], &sealed).is_err());
        assert!(!format!("{key:?}").contains("agreement"));
    }
}

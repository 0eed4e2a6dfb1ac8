//! The carrier operator's registrations (docs/protocol.md §11.2, §11.3): an element with its
//! issuer security domain keys, and a service provider with its AID range and handover key,
//! parsed once and made ready to store (the keys sealed).

use crate::wire::{AddElement, AddProvider};
use crate::{Sealed, TsmContext, TsmError};

/// An element to register: its id and its ISD key set, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewElement {
    /// The element (1 to 64 characters).
    pub se_id: String,
    /// Its ISD keys, sealed for [`Sealed::IsdKeys`].
    pub isd_keys: Vec<u8>,
}

/// A service provider to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProvider {
    /// Its id.
    pub sp_id: String,
    /// The AID prefix of its domains and applets (5 to 16 bytes).
    pub aid_prefix: Vec<u8>,
    /// Its EC P-256 public key for key handover packages, as a JWK (JSON).
    pub encryption_jwk: String,
}

impl NewElement {
    /// Parses `POST /v1/sei/admin/elements` (400 `malformed_request` saying what) and seals
    /// the key set.
    pub fn accept(ctx: &TsmContext<'_>, req: &AddElement) -> Result<Self, TsmError> {
        let malformed = |what: &str| TsmError::Malformed(what.to_owned());
        let h = |v: &str| hex::decode(v).map_err(|_| malformed("keys must be hex"));
        let kvn = *h(&req.isd_keys.kvn)?
            .first()
            .ok_or_else(|| malformed("kvn"))?;
        let keys = provisio_gp::scp03::StaticKeys::from_bytes(
            kvn,
            &h(&req.isd_keys.enc)?,
            &h(&req.isd_keys.mac)?,
            &h(&req.isd_keys.dek)?,
        )
        .map_err(|e| TsmError::Malformed(e.to_string()))?;
        if req.se_id.is_empty() || req.se_id.len() > 64 {
            return Err(malformed("se_id must be 1 to 64 characters"));
        }
        Ok(Self {
            isd_keys: ctx.seal_keys(&keys, Sealed::IsdKeys { se_id: &req.se_id })?,
            se_id: req.se_id.clone(),
        })
    }
}

impl NewProvider {
    /// Parses `POST /v1/sei/admin/service-providers` (400 `malformed_request` saying what).
    pub fn accept(req: &AddProvider) -> Result<Self, TsmError> {
        let malformed = |what: &str| TsmError::Malformed(what.to_owned());
        let aid_prefix =
            hex::decode(&req.aid_prefix).map_err(|_| malformed("aid_prefix must be hex"))?;
        if !(5..=16).contains(&aid_prefix.len()) {
            return Err(malformed("aid_prefix must be 5 to 16 bytes"));
        }
        req.encryption_jwk
            .public_key()
            .map_err(|_| malformed("encryption_jwk is not an EC P-256 public key"))?;
        Ok(Self {
            sp_id: req.sp_id.clone(),
            aid_prefix,
            encryption_jwk: serde_json::to_string(&req.encryption_jwk)
                .map_err(TsmError::internal)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::{AwsLcProvider, CryptoProvider, SecretBytes};
    use provisio_jose::Jwk;

    use super::*;
    use crate::wire::HexKeys;

    fn element(se_id: &str, kvn: &str, enc: &str) -> AddElement {
        AddElement {
            se_id: se_id.into(),
            isd_keys: HexKeys {
                kvn: kvn.into(),
                enc: enc.into(),
                mac: "41".repeat(16),
                dek: "42".repeat(16),
            },
        }
    }

    #[test]
    fn an_element_is_refused_with_the_first_thing_wrong_and_its_keys_are_sealed() {
        let crypto = AwsLcProvider::new();
        let master = SecretBytes::new(vec![1; 32]);
        let ctx = TsmContext::new(&crypto, &master);
        let refused = |req: AddElement| match NewElement::accept(&ctx, &req) {
            Err(TsmError::Malformed(why)) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(element("se-1", "3", &"40".repeat(16))),
            "keys must be hex"
        );
        assert_eq!(refused(element("se-1", "", &"40".repeat(16))), "kvn");
        assert_eq!(refused(element("se-1", "30", "zz")), "keys must be hex");
        assert!(!refused(element("se-1", "30", &"40".repeat(15))).is_empty());
        assert_eq!(
            refused(element("", "30", &"40".repeat(16))),
            "se_id must be 1 to 64 characters"
        );
        assert_eq!(
            refused(element(&"s".repeat(65), "30", &"40".repeat(16))),
            "se_id must be 1 to 64 characters"
        );
        let ok = NewElement::accept(&ctx, &element("se-1", "30", &"40".repeat(16))).unwrap();
        assert_eq!(ok.se_id, "se-1");
        let keys = ctx
            .open_keys(&ok.isd_keys, Sealed::IsdKeys { se_id: "se-1" })
            .unwrap();
        assert_eq!(
            (keys.kvn, keys.enc.export().expose()),
            (0x30, &[0x40; 16][..])
        );
    }

    #[test]
    fn a_provider_needs_a_hex_prefix_of_5_to_16_bytes_and_an_ec_key() {
        let key = AwsLcProvider::new().generate_ec_key().unwrap();
        let jwk = Jwk::from_public_key(key.public_key());
        let provider = |prefix: &str, jwk: Jwk| AddProvider {
            sp_id: "bank".into(),
            aid_prefix: prefix.into(),
            encryption_jwk: jwk,
        };
        let why = |req| match NewProvider::accept(&req) {
            Err(TsmError::Malformed(why)) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            why(provider("A00000000", jwk.clone())),
            "aid_prefix must be hex"
        );
        assert_eq!(
            why(provider("A0000000", jwk.clone())),
            "aid_prefix must be 5 to 16 bytes"
        );
        assert_eq!(
            why(provider(&"A0".repeat(17), jwk.clone())),
            "aid_prefix must be 5 to 16 bytes"
        );
        let mut off_curve = jwk.clone();
        off_curve.x = off_curve.y.clone();
        assert_eq!(
            why(provider("A000000003", off_curve)),
            "encryption_jwk is not an EC P-256 public key"
        );
        let ok = NewProvider::accept(&provider("A000000003", jwk.clone())).unwrap();
        assert_eq!(ok.aid_prefix, [0xA0, 0, 0, 0, 3]);
        let back: Jwk = serde_json::from_str(&ok.encryption_jwk).unwrap();
        assert_eq!(back, jwk);
    }
}

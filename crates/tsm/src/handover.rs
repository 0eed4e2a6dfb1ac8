//! The key handover (US 8,060,449 step 5): the SEI-TSM generated the issuer domain's initial
//! keys and put them on the element; it hands them to the SP-TSM as a JWE (ECDH-ES+A256KW,
//! A256GCM) to the SP-TSM's registered encryption key, bound to the element, the domain and
//! the request, so a package opens only where it belongs. The SP-TSM then replaces them in its
//! first session ([`crate::TakeOverKeys`]), and the carrier's copy opens nothing.

use provisio_crypto::{CryptoProvider, EcKeyPair, EcPublicKey};
use provisio_gp::Aid;
use provisio_gp::scp03::StaticKeys;
use provisio_jose::{EncryptOptions, KeyManagement};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::TsmError;

/// `cty` of the package.
pub const HANDOVER_CTY: &str = "provisio-sd-keys+json";

#[derive(Serialize, Deserialize)]
struct Package {
    se_id: String,
    ssd: Aid,
    request_id: String,
    kvn: u8,
    enc: String,
    mac: String,
    dek: String,
}

/// Seals `keys` for the SP-TSM's key `recipient`.
pub fn seal_initial_keys(
    crypto: &dyn CryptoProvider,
    recipient: &EcPublicKey,
    se_id: &str,
    ssd: &Aid,
    request_id: &str,
    keys: &StaticKeys,
) -> Result<String, TsmError> {
    let hex_of = |k: &provisio_crypto::AesKey| hex::encode(k.export().expose());
    let package = Package {
        se_id: se_id.to_owned(),
        ssd: ssd.clone(),
        request_id: request_id.to_owned(),
        kvn: keys.kvn,
        enc: hex_of(&keys.enc),
        mac: hex_of(&keys.mac),
        dek: hex_of(&keys.dek),
    };
    let json = Zeroizing::new(serde_json::to_vec(&package).map_err(|_| TsmError::Handover)?);
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEsA256Kw,
        kid: None,
        cty: Some(HANDOVER_CTY),
    };
    provisio_jose::encrypt(crypto, recipient, &options, &json).map_err(|_| TsmError::Handover)
}

/// Opens a package with the SP-TSM's key, checking that it is for this element, domain and
/// request.
pub fn open_initial_keys(
    crypto: &dyn CryptoProvider,
    key: &EcKeyPair,
    jwe: &str,
    se_id: &str,
    ssd: &Aid,
    request_id: &str,
) -> Result<StaticKeys, TsmError> {
    let opened = provisio_jose::decrypt(crypto, jwe, &[KeyManagement::EcdhEsA256Kw], |_| Some(key))
        .map_err(|_| TsmError::Handover)?;
    let p: Package =
        serde_json::from_slice(opened.plaintext.expose()).map_err(|_| TsmError::Handover)?;
    if p.se_id != se_id || &p.ssd != ssd || p.request_id != request_id {
        return Err(TsmError::Handover);
    }
    let bytes = |s: &str| Zeroizing::new(hex::decode(s).unwrap_or_default());
    StaticKeys::from_bytes(p.kvn, &bytes(&p.enc), &bytes(&p.mac), &bytes(&p.dek))
        .map_err(|_| TsmError::Handover)
}

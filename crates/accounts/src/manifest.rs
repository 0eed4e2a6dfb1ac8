//! The wallet module manifest ("pre-install", US 10,699,267): what the token service tells a
//! freshly installed wallet SDK before any account exists. It is a JWS (ES256) signed with a
//! token service signing key; the SDK verifies it under keys it already trusts (pinned at
//! build time), and refuses a tampered manifest, one signed by another key, a downgrade
//! below the installed module, and a module that needs a newer SDK.

use provisio_crypto::{CryptoProvider, EcKeyPair};
use provisio_jose::{JoseError, JwkSet, KeyUse};
use provisio_types::UnixSeconds;
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::wire::WalletModule;
use crate::{AccountsConfig, KbaError};

/// The JWS `typ` of a manifest, so no other signed object of the service can pass as one.
pub const MANIFEST_TYP: &str = "provisio-wallet-module+jws";

/// The signed content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The token service's id (`tsp_id`).
    pub iss: String,
    /// When it was signed (Unix seconds).
    pub iat: i64,
    /// The module's version (semantic versioning).
    pub module_version: String,
    /// The oldest SDK that may install it.
    pub min_sdk_version: String,
    /// Paths of the service's endpoints, relative to its base URL.
    pub endpoints: ModuleEndpoints,
    /// The service's public keys (`/v1/keys/jwks.json` at signing time).
    pub keys: JwkSet,
}

/// Endpoint paths the wallet module calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleEndpoints {
    /// Account creation and verification.
    pub wallet_accounts: String,
    /// Push provisioning.
    pub push_provisioning: String,
    /// The JWKS.
    pub jwks: String,
}

/// Why the SDK refuses a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not a well-formed manifest JWS.
    #[error("the manifest is malformed: {0}")]
    Malformed(&'static str),
    /// Signed by a key the SDK does not trust.
    #[error("the manifest is signed by an untrusted key")]
    UntrustedKey,
    /// The signature does not verify: the manifest was altered.
    #[error("the manifest signature does not verify")]
    Tampered,
    /// Older than the installed module.
    #[error("the manifest offers module {offered}, older than the installed {installed}")]
    Downgrade {
        /// Installed version.
        installed: String,
        /// Offered version.
        offered: String,
    },
    /// The SDK is too old for the module.
    #[error("the module needs SDK {required} or newer; this SDK is {sdk}")]
    SdkTooOld {
        /// Required.
        required: String,
        /// This SDK.
        sdk: String,
    },
}

/// Signs a manifest.
pub fn sign_manifest(
    crypto: &dyn CryptoProvider,
    key: &EcKeyPair,
    kid: &str,
    manifest: &Manifest,
) -> Result<String, JoseError> {
    let payload = serde_json::to_vec(manifest).map_err(|_| JoseError::Internal)?;
    provisio_jose::sign(crypto, key, kid, Some(MANIFEST_TYP), &payload)
}

/// `GET /v1/wallet-module` (docs/protocol.md §8.1): the manifest of this service's module
/// (the `[accounts]` versions, the endpoint paths, the service's JWKS `keys`), issued by
/// `iss` at `now` and signed with the current signing key `key`, `kid`.
pub fn wallet_module(
    crypto: &dyn CryptoProvider,
    key: &EcKeyPair,
    kid: &str,
    iss: &str,
    now: UnixSeconds,
    config: &AccountsConfig,
    keys: JwkSet,
) -> Result<WalletModule, KbaError> {
    let manifest = Manifest {
        iss: iss.to_owned(),
        iat: now,
        module_version: config.module_version.clone(),
        min_sdk_version: config.min_sdk_version.clone(),
        endpoints: ModuleEndpoints {
            wallet_accounts: "/v1/wallet-accounts".into(),
            push_provisioning: "/v1/push-provisioning".into(),
            jwks: "/v1/keys/jwks.json".into(),
        },
        keys,
    };
    let manifest = sign_manifest(crypto, key, kid, &manifest)
        .map_err(|e| KbaError::internal("signing the manifest", &e))?;
    Ok(WalletModule { manifest })
}

/// The service's check of the module an account request comes from (US 10,699,267: the
/// server transmits the data to pre-install the wallet module, then accepts account requests
/// from that pre-installed module): the manifest is one this service (`iss`) signed under one
/// of its keys, for the version named, and that version is the `current` one.
pub fn check_installed_module(
    crypto: &dyn CryptoProvider,
    module: &crate::wire::InstalledModule,
    own_keys: &JwkSet,
    iss: &str,
    current: &str,
) -> Result<(), KbaError> {
    let verified = provisio_jose::verify(crypto, &module.manifest, |header| {
        let kid = header.kid.as_deref().ok_or(JoseError::UnknownKey)?;
        own_keys
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid) && k.key_use != Some(KeyUse::Enc))
            .ok_or(JoseError::UnknownKey)?
            .public_key()
    })
    .map_err(|_| KbaError::ModuleUnknown("the manifest is not one this service signed"))?;
    let manifest: Manifest = serde_json::from_slice(&verified.payload)
        .ok()
        .filter(|_| verified.header.typ.as_deref() == Some(MANIFEST_TYP))
        .ok_or(KbaError::ModuleUnknown(
            "the manifest is not a wallet module manifest",
        ))?;
    if manifest.iss != iss || manifest.module_version != module.module_version {
        return Err(KbaError::ModuleUnknown(
            "the manifest is not for this service or not for module_version",
        ));
    }
    let older = match (
        Version::parse(&manifest.module_version),
        Version::parse(current),
    ) {
        (Ok(installed), Ok(current)) => installed < current,
        _ => true,
    };
    if older {
        return Err(KbaError::ModuleSuperseded {
            installed: manifest.module_version,
            current: current.to_owned(),
        });
    }
    if manifest.module_version != current {
        return Err(KbaError::ModuleUnknown(
            "module_version is newer than the module this service transmits",
        ));
    }
    Ok(())
}

/// Verifies a manifest under `trusted` signing keys (matched by `kid`, `use: sig`) and checks
/// it may replace `installed` (none on a fresh phone) on an SDK of version `sdk`.
pub fn verify_manifest(
    crypto: &dyn CryptoProvider,
    compact: &str,
    trusted: &JwkSet,
    installed: Option<&str>,
    sdk: &str,
) -> Result<Manifest, ManifestError> {
    let verified = provisio_jose::verify(crypto, compact, |header| {
        let kid = header.kid.as_deref().ok_or(JoseError::UnknownKey)?;
        trusted
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid) && k.key_use != Some(KeyUse::Enc))
            .ok_or(JoseError::UnknownKey)?
            .public_key()
    })
    .map_err(|e| match e {
        JoseError::UnknownKey | JoseError::InvalidKey(_) => ManifestError::UntrustedKey,
        JoseError::Signature => ManifestError::Tampered,
        _ => ManifestError::Malformed("not a compact ES256 JWS"),
    })?;
    if verified.header.typ.as_deref() != Some(MANIFEST_TYP) {
        return Err(ManifestError::Malformed(
            "typ is not a wallet module manifest",
        ));
    }
    let manifest: Manifest = serde_json::from_slice(&verified.payload)
        .map_err(|_| ManifestError::Malformed("payload is not a manifest"))?;
    let version = |v: &str| Version::parse(v).map_err(|_| ManifestError::Malformed("version"));
    let offered = version(&manifest.module_version)?;
    if let Some(installed) = installed
        && offered < version(installed)?
    {
        return Err(ManifestError::Downgrade {
            installed: installed.to_owned(),
            offered: manifest.module_version.clone(),
        });
    }
    if version(sdk)? < version(&manifest.min_sdk_version)? {
        return Err(ManifestError::SdkTooOld {
            required: manifest.min_sdk_version.clone(),
            sdk: sdk.to_owned(),
        });
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;
    use provisio_jose::{Jwk, b64_decode, b64_encode};

    use super::*;

    fn setup(version: &str) -> (AwsLcProvider, String, JwkSet) {
        let crypto = AwsLcProvider::new();
        let key = crypto.generate_ec_key().unwrap();
        let jwk =
            Jwk::from_public_key(key.public_key()).with_metadata("sig-1", KeyUse::Sig, "ES256");
        let trusted = JwkSet { keys: vec![jwk] };
        let manifest = Manifest {
            iss: "provisio".into(),
            iat: 1,
            module_version: version.into(),
            min_sdk_version: "1.2.0".into(),
            endpoints: ModuleEndpoints {
                wallet_accounts: "/v1/wallet-accounts".into(),
                push_provisioning: "/v1/push-provisioning".into(),
                jwks: "/v1/keys/jwks.json".into(),
            },
            keys: trusted.clone(),
        };
        let jws = sign_manifest(&crypto, &key, "sig-1", &manifest).unwrap();
        (crypto, jws, trusted)
    }

    #[test]
    fn a_signed_manifest_installs_and_upgrades() {
        let (crypto, jws, trusted) = setup("2.0.0");
        let m = verify_manifest(&crypto, &jws, &trusted, None, "1.2.0").unwrap();
        assert_eq!(m.module_version, "2.0.0");
        verify_manifest(&crypto, &jws, &trusted, Some("1.9.9"), "1.2.0").unwrap();
        verify_manifest(&crypto, &jws, &trusted, Some("2.0.0"), "1.2.0").unwrap();
    }

    #[test]
    fn the_services_manifest_names_its_endpoints_and_versions() {
        let (crypto, _, trusted) = setup("2.0.0");
        let key = crypto.generate_ec_key().unwrap();
        let jwk =
            Jwk::from_public_key(key.public_key()).with_metadata("sig-2", KeyUse::Sig, "ES256");
        let pinned = JwkSet { keys: vec![jwk] };
        let config = AccountsConfig {
            module_version: "1.3.0".into(),
            min_sdk_version: "1.0.0".into(),
            ..AccountsConfig::default()
        };
        let module = wallet_module(
            &crypto,
            &key,
            "sig-2",
            "provisio",
            42,
            &config,
            trusted.clone(),
        )
        .unwrap();
        let m = verify_manifest(&crypto, &module.manifest, &pinned, None, "1.0.0").unwrap();
        assert_eq!((m.iss.as_str(), m.iat), ("provisio", 42));
        assert_eq!((m.module_version.as_str(), m.keys), ("1.3.0", trusted));
        assert_eq!(m.endpoints.wallet_accounts, "/v1/wallet-accounts");
        assert_eq!(m.endpoints.jwks, "/v1/keys/jwks.json");
    }

    #[test]
    fn a_changed_payload_is_tampered() {
        let (crypto, jws, trusted) = setup("2.0.0");
        let parts: Vec<&str> = jws.split('.').collect();
        let payload = String::from_utf8(b64_decode(parts[1]).unwrap()).unwrap();
        let forged = payload.replace("/v1/push-provisioning", "/evil/push");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64_encode(forged.as_bytes()),
            parts[2]
        );
        assert_eq!(
            verify_manifest(&crypto, &forged, &trusted, None, "1.2.0"),
            Err(ManifestError::Tampered)
        );
    }

    #[test]
    fn another_key_downgrade_and_old_sdk_are_refused() {
        let (crypto, jws, _) = setup("2.0.0");
        let (_, _, mut other) = setup("2.0.0");
        assert_eq!(
            verify_manifest(&crypto, &jws, &other, None, "1.2.0"),
            Err(ManifestError::Tampered),
            "same kid, another key"
        );
        other.keys[0].kid = Some("sig-2".into());
        assert_eq!(
            verify_manifest(&crypto, &jws, &other, None, "1.2.0"),
            Err(ManifestError::UntrustedKey)
        );
        let (crypto, jws, trusted) = setup("1.4.0");
        assert!(matches!(
            verify_manifest(&crypto, &jws, &trusted, Some("1.5.0"), "1.2.0"),
            Err(ManifestError::Downgrade { .. })
        ));
        assert!(matches!(
            verify_manifest(&crypto, &jws, &trusted, None, "1.1.9"),
            Err(ManifestError::SdkTooOld { .. })
        ));
        assert!(matches!(
            verify_manifest(&crypto, "a.b", &trusted, None, "1.2.0"),
            Err(ManifestError::Malformed(_))
        ));
    }
}

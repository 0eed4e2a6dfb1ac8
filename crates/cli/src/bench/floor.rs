//! The crypto floor of push provisioning (docs/benchmarking.md): one request's unavoidable
//! cryptography on one core, measured in the same run as the load.

use provisio_apps::{IssuerApp, WalletApp};
use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair};
use provisio_jose::{EncryptOptions, Jwk, KeyManagement};
use provisio_server::{Clock, SystemClock};
use provisio_tsp::jwk_thumbprint;

use super::{per_call_us, test_card};

/// Open the request JWE (ECDH-ES+A256KW, A256GCM), verify the issuer's ES256 JWS, encrypt the
/// access data to the device key (ECDH-ES, A256GCM): microseconds per request.
pub(super) fn crypto_floor() -> anyhow::Result<f64> {
    let crypto = AwsLcProvider::new();
    let tsp = crypto.generate_ec_key()?;
    let mut enc = Jwk::from_public_key(tsp.public_key());
    enc.kid = Some("enc".into());
    enc.key_use = Some(provisio_jose::KeyUse::Enc);
    enc.alg = Some("ECDH-ES+A256KW".into());
    let jwks = provisio_jose::JwkSet { keys: vec![enc] };
    let issuer_key = crypto.generate_ec_key()?;
    let issuer_pub = issuer_key.public_key().clone();
    let kid = jwk_thumbprint(&crypto, issuer_key.public_key());
    let issuer = IssuerApp::new("bench-bank", &kid, issuer_key, "provisio");
    let wallet = WalletApp::new(&crypto, "40010030273", "u", "d")?;
    let start = issuer.start_session(&crypto)?;
    let answer = wallet.answer(&start);
    let claims = issuer.claims(&crypto, &answer, &test_card(0)?, SystemClock.now())?;
    let jwe = issuer.request_data(&crypto, &claims, &jwks)?;
    let device: EcKeyPair = crypto.generate_ec_key()?;
    // Access data is about this size: token PAN, expiry, reference, key, algorithm.
    let access = [b'a'; 180];
    per_call_us(200, || {
        let opened = provisio_jose::decrypt(&crypto, &jwe, &[KeyManagement::EcdhEsA256Kw], |_| {
            Some(&tsp)
        })?;
        let jws = std::str::from_utf8(opened.plaintext.expose())?;
        provisio_jose::verify_with_key(&crypto, jws, &issuer_pub)?;
        let options = EncryptOptions {
            alg: KeyManagement::EcdhEs,
            kid: None,
            cty: None,
        };
        provisio_jose::encrypt(&crypto, device.public_key(), &options, &access)?;
        Ok(())
    })
}

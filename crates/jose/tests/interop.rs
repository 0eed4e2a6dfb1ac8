//! Interoperability with an independent JOSE implementation (Python jwcrypto), both ways:
//! jwcrypto opens what we make, and we open what jwcrypto makes.
//!
//! Needs only `python3`: the packages of `tests/interop/requirements.txt` are installed on
//! first use into a virtual environment under `target/` (`provisio_testkit::python`).
//!
//! Keys are the published ones of RFC 7518 appendix C (Bob, recipient) and RFC 7515 appendix
//! A.3 (signer), so both sides can hold the private halves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::process::Stdio;

use provisio_crypto::{AwsLcProvider, EcKeyPair};
use provisio_jose::{
    EncryptOptions, Jwk, KeyManagement, b64_decode, decrypt, encrypt, sign, verify,
};
use serde_json::{Value, json};

const BOB_D: &str = "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw";
const A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

fn python(command: &str, input: &Value) -> Value {
    let mut child = provisio_testkit::python::python()
        .command()
        .arg(provisio_testkit::python::interop_script("jose_interop.py"))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interop interpreter starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jwcrypto failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn key(d: &str) -> EcKeyPair {
    EcKeyPair::from_private_scalar(&b64_decode(d).unwrap()).unwrap()
}

fn private_jwk(k: &EcKeyPair, d: &str, kid: &str) -> Value {
    let mut v = serde_json::to_value(Jwk::from_public_key(k.public_key())).unwrap();
    v["d"] = d.into();
    v["kid"] = kid.into();
    v
}

fn public_jwk(k: &EcKeyPair, kid: &str) -> Value {
    let mut v = serde_json::to_value(Jwk::from_public_key(k.public_key())).unwrap();
    v["kid"] = kid.into();
    v
}

fn claims() -> Value {
    json!({"iss": "bank-a", "aud": "provisio", "iat": 1_795_392_000, "jti": "j1", "sid": "s", "uid": "u", "did": "d", "trid": "40010030273",
           "acct": {"pan": "4000123456789017", "exp_month": 12, "exp_year": 2030, "name": "A"}})
}

#[test]
fn jwcrypto_opens_our_nested_jwt() {
    let p = AwsLcProvider::new();
    let (bob, signer) = (key(BOB_D), key(A3_D));
    let payload = claims().to_string();
    let jws = sign(&p, &signer, "issuer-kid", Some("JWT"), payload.as_bytes()).unwrap();
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEsA256Kw,
        kid: Some("tsp-kid"),
        cty: Some("JWT"),
    };
    let jwe = encrypt(&p, bob.public_key(), &options, jws.as_bytes()).unwrap();
    let out = python(
        "open",
        &json!({"recipient": private_jwk(&bob, BOB_D, "tsp-kid"), "signer": public_jwk(&signer, "issuer-kid"), "jwe": jwe}),
    );
    assert_eq!(out["claims"], claims());
    assert_eq!(out["header"]["alg"], "ECDH-ES+A256KW");
    assert_eq!(out["header"]["kid"], "tsp-kid");
}

#[test]
fn we_open_jwcrypto_jwes() {
    let p = AwsLcProvider::new();
    let (bob, signer) = (key(BOB_D), key(A3_D));
    let out = python(
        "make",
        &json!({"recipient": public_jwk(&bob, "tsp-kid"), "signer": private_jwk(&signer, A3_D, "issuer-kid"), "claims": claims()}),
    );
    let nested = out["nested"].as_str().unwrap();
    let d = decrypt(&p, nested, &[KeyManagement::EcdhEsA256Kw], |kid| {
        (kid == Some("tsp-kid")).then_some(&bob)
    })
    .unwrap();
    assert_eq!(d.header.cty.as_deref(), Some("JWT"));
    let v = verify(
        &p,
        std::str::from_utf8(d.plaintext.expose()).unwrap(),
        |h| {
            assert_eq!(h.kid.as_deref(), Some("issuer-kid"));
            Ok(signer.public_key().clone())
        },
    )
    .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&v.payload).unwrap(),
        claims()
    );
    let direct = out["direct"].as_str().unwrap();
    let d = decrypt(&p, direct, &[KeyManagement::EcdhEs], |_| Some(&bob)).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(d.plaintext.expose()).unwrap(),
        claims()
    );
    // Our policy still applies to their objects: the direct one is refused where only
    // ECDH-ES+A256KW is accepted.
    assert!(decrypt(&p, direct, &[KeyManagement::EcdhEsA256Kw], |_| Some(&bob)).is_err());
}

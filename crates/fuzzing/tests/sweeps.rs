//! Tamper sweeps: every single-bit change of a real protected message is refused with the
//! expected typed error, and the untampered message, once accepted, is refused as a replay.
//!
//! - the JWE of a push, as the token service receives it in the body (docs/protocol.md §3.3);
//! - the issuer's JWS inside it, re-encrypted after the change so that only the signed part
//!   is tampered (docs/protocol.md §13.1);
//! - an SCP03-wrapped command (C-MAC and C-DECRYPTION) as the card receives it (GPC
//!   Amendment D 6.2.4).
//!
//! The push variants run through the core the server's handler calls (`PushRequest::parse`,
//! `open`, `process`) with the keys and configuration of a real server state; a sample of them
//! and the replays go through that server's router in-process, on its SQLite store (or a
//! fresh PostgreSQL database when `PROVISIO_TEST_POSTGRES_URL` is set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use provisio_crypto::{AwsLcProvider, SecretBytes};
use provisio_fuzzing::fixture::{issuer_key, scp03_keys, scp03_session};
use provisio_gp::command::{Encryption, StoreData, Structure};
use provisio_gp::scp03::{CardHandshake, HostHandshake, SecurityLevel};
use provisio_gp::{Aid, Command, GpError};
use provisio_jose::{EncryptOptions, Jwk, KeyManagement};
use provisio_server::{AppState, Clock, bootstrap};
use provisio_store::{SqlStore, Store};
use provisio_tsp::wire::{AccountData, DeviceInfo, PushProvisioningRequest, RequestClaims};
use provisio_tsp::{
    CardFacts, Contact, IssuerKey, PushContext, PushError, PushFacts, PushRequest, jwk_thumbprint,
};
use provisio_types::{Code, Refusal};
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "pvk_test-admin-key-0123456789abcdef";
const TRID: &str = "40010030273";
const ISSUER: &str = "bank-sweep";
/// 2025-06-01T00:00:00Z, the server's clock and the claims' `iat`.
const NOW: i64 = 1_748_736_000;
/// A sample of the push variants also goes through HTTP: one in this many.
const HTTP_STRIDE: usize = 97;

#[derive(Debug)]
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        NOW
    }
}

/// A server with one registered issuer (the fixture's signing key) and one wallet.
struct Server {
    app: Router,
    state: AppState,
    wallet_key: String,
    issuer_kid: String,
    _dir: tempfile::TempDir,
}

async fn call(app: &Router, path: &str, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = provisio_testkit::postgres::store_url(dir.path(), "sweep.db").await;
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url).await.unwrap());
    let master = SecretBytes::new(vec![9; 32]);
    let state = bootstrap(
        store,
        &master,
        ADMIN,
        provisio_tsp::TspConfig::default(),
        Arc::new(FixedClock),
    )
    .await
    .unwrap();
    let app = provisio_server::router(state.clone());
    let crypto = AwsLcProvider::new();
    let issuer_kid = jwk_thumbprint(&crypto, issuer_key().public_key());
    let mut jwk = Jwk::from_public_key(issuer_key().public_key());
    jwk.kid = Some(issuer_kid.clone());
    let body = serde_json::json!({"issuer_id": ISSUER, "name": "Bank", "signing_jwk": jwk});
    let (s, v) = call(
        &app,
        "/v1/admin/issuers",
        ADMIN,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let body = serde_json::json!({"token_requestor_id": TRID, "name": "Wallet"});
    let (s, v) = call(
        &app,
        "/v1/admin/token-requestors",
        ADMIN,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    Server {
        app,
        state,
        wallet_key: v["api_key"].as_str().unwrap().to_owned(),
        issuer_kid,
        _dir: dir,
    }
}

impl Server {
    fn claims(&self) -> RequestClaims {
        RequestClaims {
            iss: ISSUER.into(),
            aud: self.state.config.tsp_id.clone(),
            iat: NOW,
            jti: "jti-sweep-0001".into(),
            sid: "sweep-session-0123456789AB".into(),
            uid: "user-sweep".into(),
            did: "device-sweep".into(),
            trid: TRID.into(),
            acct: AccountData {
                pan: provisio_fuzzing::fixture::PAN.into(),
                exp_month: 12,
                exp_year: 2030,
                name: "A Holder".into(),
            },
            contact: Some(Contact {
                phone: Some("+15551230001".into()),
                email: None,
            }),
        }
    }

    fn sign(&self, claims: &RequestClaims) -> String {
        let payload = serde_json::to_vec(claims).unwrap();
        provisio_jose::sign(
            self.state.crypto.as_ref(),
            issuer_key(),
            &self.issuer_kid,
            Some("JWT"),
            &payload,
        )
        .unwrap()
    }

    /// Encrypts `plaintext` to the server's current encryption key, as the issuer's app does.
    fn seal(&self, plaintext: &[u8]) -> String {
        let enc = self.state.keys.current_enc();
        let options = EncryptOptions {
            alg: KeyManagement::EcdhEsA256Kw,
            kid: Some(&enc.kid),
            cty: Some("JWT"),
        };
        provisio_jose::encrypt(
            self.state.crypto.as_ref(),
            enc.key.public_key(),
            &options,
            plaintext,
        )
        .unwrap()
    }

    fn body(&self, claims: &RequestClaims, encrypted_payload: String) -> Vec<u8> {
        serde_json::to_vec(&PushProvisioningRequest {
            encrypted_payload,
            session_id: claims.sid.clone(),
            wallet_user_id: claims.uid.clone(),
            device_id: claims.did.clone(),
            device: DeviceInfo {
                binding_jwk: Jwk::from_public_key(issuer_key().public_key()),
                device_type: "PHONE".into(),
                secure_element_id: None,
            },
            wallet_risk: None,
        })
        .unwrap()
    }

    /// The core's verdict on a body, with the facts the server loads for it: the issuer's
    /// key when the opened request data names this issuer, no hosted account (this wallet
    /// keeps its own), no signals yet.
    fn core(&self, body: &[u8]) -> Result<(), PushError> {
        let crypto = self.state.crypto.as_ref();
        let opening = PushRequest::parse(body)?.open(crypto, &self.state.keys);
        let facts = PushFacts {
            issuer_key: (opening.issuer_to_load() == Some(ISSUER)).then(|| IssuerKey {
                kid: self.issuer_kid.clone(),
                key: issuer_key().public_key().clone(),
                push_step_up: false,
            }),
            account: None,
            signals: provisio_risk::Signals::default(),
            sp_tsm: None,
            card: CardFacts::default(),
        };
        let ctx = PushContext {
            crypto,
            keys: &self.state.keys,
            config: &self.state.config,
            caller_trid: TRID,
            now: NOW,
        };
        opening.process(&ctx, &facts).map(|_| ())
    }

    async fn push(&self, body: Vec<u8>) -> (StatusCode, Value) {
        call(&self.app, "/v1/push-provisioning", &self.wallet_key, body).await
    }
}

/// `body` with bit `bit` of byte `at` flipped.
fn flipped(body: &[u8], at: usize, bit: u8) -> Vec<u8> {
    let mut out = body.to_vec();
    out[at] ^= 1 << bit;
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

/// The code a variant was refused with; an accepted variant fails the sweep.
fn refused(what: &str, verdict: Result<(), PushError>) -> Code {
    match verdict {
        Ok(()) => panic!("{what}: a tampered push was accepted"),
        Err(e) => e.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bit_of_the_jwe_and_of_its_jws_is_refused_and_the_original_only_once() {
    let s = server().await;
    let claims = s.claims();
    let jws = s.sign(&claims);
    let jwe = s.seal(jws.as_bytes());
    let body = s.body(&claims, jwe.clone());
    assert_eq!(s.core(&body), Ok(()), "the untampered push passes the core");

    // (i) Every bit of the compact JWE inside the body: a body that is no longer JSON is
    // `malformed_request`, any other is `payload_undecryptable` (RFC 7516 5.2: the AAD is
    // the protected header; A256GCM authenticates the rest).
    let start = find(&body, jwe.as_bytes());
    let mut jwe_variants = 0;
    let mut http_checked = 0;
    for at in start..start + jwe.len() {
        for bit in 0..8 {
            let variant = flipped(&body, at, bit);
            let expected = if serde_json::from_slice::<Value>(&variant).is_ok() {
                Code::PayloadUndecryptable
            } else {
                Code::MalformedRequest
            };
            let what = format!("JWE byte {} bit {bit}", at - start);
            assert_eq!(refused(&what, s.core(&variant)), expected, "{what}");
            if jwe_variants % HTTP_STRIDE == 0 {
                let (status, v) = s.push(variant).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {v}");
                assert_eq!(v["code"], expected.as_str(), "{what}");
                http_checked += 1;
            }
            jwe_variants += 1;
        }
    }
    assert_eq!(jwe_variants, jwe.len() * 8);

    // (ii) Every bit of the signed JWS, encrypted afresh: `signature_invalid`, or
    // `unknown_issuer` when the change in the payload renamed the issuer (the issuer's key is
    // looked up by the claimed `iss` before the signature is checked, docs/protocol.md §3.4).
    let payload = jws.split('.').nth(1).unwrap();
    let payload_at = jws.find(payload).unwrap();
    let payload_range = payload_at..payload_at + payload.len();
    let (mut jws_variants, mut unknown_issuer) = (0, 0);
    for at in 0..jws.len() {
        for bit in 0..8 {
            let tampered = flipped(jws.as_bytes(), at, bit);
            let sealed = s.seal(&tampered);
            let variant = s.body(&claims, sealed);
            let what = format!("JWS byte {at} bit {bit}");
            match refused(&what, s.core(&variant)) {
                Code::SignatureInvalid => {}
                Code::UnknownIssuer if payload_range.contains(&at) => unknown_issuer += 1,
                other => panic!("{what}: refused with {other}, not signature_invalid"),
            }
            if jws_variants % HTTP_STRIDE == 0 {
                let (status, v) = s.push(variant).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {v}");
                let code = v["code"].as_str().unwrap();
                assert!(
                    ["signature_invalid", "unknown_issuer"].contains(&code),
                    "{what}: {v}"
                );
                http_checked += 1;
            }
            jws_variants += 1;
        }
    }
    assert_eq!(jws_variants, jws.len() * 8);
    println!(
        "push sweep: {jwe_variants} JWE variants, {jws_variants} JWS variants \
         ({unknown_issuer} renamed the issuer), {http_checked} also over HTTP"
    );

    // None of the refusals consumed the session: the original is accepted, once.
    let (status, v) = s.push(body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED", "{v}");
    let (status, v) = s.push(body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("replayed_request")),
        "{v}"
    );
    // The same signed request data in a new encryption is the same request: still a replay.
    let (status, v) = s.push(s.body(&claims, s.seal(jws.as_bytes()))).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("replayed_request")),
        "{v}"
    );
}

/// The command the sweep tampers with: STORE DATA of 40 bytes (case 3, no Le: Amendment D
/// 6.2.4 leaves Le outside the C-MAC, see `le_is_outside_the_c_mac`).
fn store_data() -> Command {
    StoreData {
        last: true,
        encryption: Encryption::None,
        structure: Structure::Dgi,
        block: 0,
        data: (0..40).collect(),
    }
    .command()
}

fn case3(mut cmd: Command) -> Command {
    cmd.ne = None;
    cmd
}

#[test]
fn every_bit_of_an_scp03_wrapped_command_is_refused_and_a_replay_too() {
    let plain = case3(store_data());
    let (mut host, _) = scp03_session();
    let wire = host.wrap(plain.clone()).unwrap().encode().unwrap();
    let (mut variants, mut malformed, mut mac) = (0, 0, 0);
    for at in 0..wire.len() {
        for bit in 0..8 {
            let variant = flipped(&wire, at, bit);
            let what = format!("APDU byte {at} bit {bit}");
            variants += 1;
            // The card in the same state as for the original: fresh from the handshake.
            let (_, mut card) = scp03_session();
            match Command::parse(&variant) {
                Err(GpError::Malformed(_)) => malformed += 1,
                Err(e) => panic!("{what}: {e:?}"),
                Ok(cmd) => match card.unwrap(cmd) {
                    Err(GpError::CommandMac) => mac += 1,
                    other => panic!("{what}: {other:?}, not CommandMac"),
                },
            }
        }
    }
    assert_eq!(variants, wire.len() * 8);
    assert_eq!(malformed + mac, variants);
    println!("SCP03 sweep: {variants} variants, {malformed} malformed, {mac} C-MAC refusals");

    // The original passes once; the same bytes again fail the C-MAC, since the chaining
    // value moved on with the first (Amendment D 6.2.4), and so does the command after.
    let (_, mut card) = scp03_session();
    let cmd = Command::parse(&wire).unwrap();
    assert_eq!(card.unwrap(cmd.clone()), Ok(plain));
    assert_eq!(card.unwrap(cmd.clone()), Err(GpError::CommandMac), "replay");
    // In the card's next session (its counter moved on, so new session keys), too.
    let level = SecurityLevel::from_byte(provisio_fuzzing::fixture::SCP03_LEVEL).unwrap();
    let challenge = [7; 8];
    let host = HostHandshake::new(scp03_keys(), challenge, level);
    let (response, next) = CardHandshake::initialize_update(
        &scp03_keys(),
        provisio_fuzzing::fixture::SCP03_DIVERSIFICATION,
        provisio_fuzzing::fixture::SCP03_COUNTER + 1,
        Aid::isd().as_bytes(),
        challenge,
    );
    let (auth, _) = host.handle_init_update(&response).unwrap();
    let mut card = next.external_authenticate(auth).unwrap();
    assert_eq!(
        card.unwrap(cmd),
        Err(GpError::CommandMac),
        "replay in a new session"
    );
}

/// GPC Amendment D 6.2.4 computes the C-MAC over the header, Lc and the data field: Le is not
/// covered, so a changed Le passes (and changes only how much the host asks back). The sweep
/// above uses a case 3 command for that reason; this pins the behaviour down.
#[test]
fn le_is_outside_the_c_mac() {
    let (mut host, _) = scp03_session();
    let wire = host.wrap(store_data()).unwrap().encode().unwrap();
    let le = wire.len() - 1;
    let (_, mut card) = scp03_session();
    let changed = Command::parse(&flipped(&wire, le, 0)).unwrap();
    let plain = card.unwrap(changed).unwrap();
    assert_eq!(plain.data, store_data().data);
    assert_ne!(plain.ne, store_data().ne);
}

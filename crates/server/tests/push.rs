//! docs/protocol.md §1 to §4 over the real router and a real SQLite store: every acceptance
//! condition and every error code of push provisioning.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use provisio_apps::{IssuerApp, WalletApp, seal_request_data};
use provisio_crypto::{CryptoProvider, SecretBytes};
use provisio_jose::{Jwk, JwkSet};
use provisio_server::{Clock, SystemClock, bootstrap, hash_api_key};
use provisio_store::SqlStore;
use provisio_tsp::TspConfig;
use provisio_tsp::wire::{RequestClaims, WalletRiskInfo};
use provisio_types::luhn_valid;
use tower::ServiceExt;

#[tokio::test]
async fn approves_and_binds_the_token_to_the_device() {
    let h = harness().await;
    let (s, v) = h.push(&h.request_with(|_| {})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED");
    assert_eq!(v["token"]["status"], "ACTIVE");
    assert_eq!(v["risk"]["merge_rule"], "no_wallet_risk");
    let access = h
        .wallet
        .open_access_data(&h.crypto, v["access_data"].as_str().unwrap())
        .unwrap();
    assert!(luhn_valid(&access.token_pan));
    assert!(access.token_pan.starts_with("4895370"));
    assert_ne!(access.token_pan, PAN);
    assert_eq!(
        access.token_ref_id,
        v["token"]["token_ref_id"].as_str().unwrap()
    );
    assert!(
        access
            .token_pan
            .ends_with(v["token"]["last4"].as_str().unwrap())
    );
    // Another device's key cannot open it.
    let other = WalletApp::new(&h.crypto, TRID, "user-1", "device-1").unwrap();
    assert!(
        other
            .open_access_data(&h.crypto, v["access_data"].as_str().unwrap())
            .is_err()
    );
    // The stored token holds the PAN only sealed.
    let token = h
        .state
        .store
        .token(&access.token_ref_id)
        .await
        .unwrap()
        .unwrap();
    let aad = format!("token:{}:pan", access.token_ref_id);
    let pan = h
        .state
        .keys
        .vault()
        .open(&h.crypto, &token.pan, aad.as_bytes())
        .unwrap();
    assert_eq!(pan.expose(), PAN.as_bytes());
    assert_eq!(h.token_count().await, 1);
}

#[tokio::test]
async fn every_claim_check_has_its_code() {
    let h = harness().await;
    type Tweak = Box<dyn FnOnce(&mut RequestClaims)>;
    let cases: Vec<(&str, Tweak, StatusCode, &str)> = vec![
        (
            "aud",
            Box::new(|c| c.aud = "other-tsp".into()),
            StatusCode::BAD_REQUEST,
            "audience_mismatch",
        ),
        (
            "sid",
            Box::new(|c| c.sid = "AAAAAAAAAAAAAAAAAAAAAAAA".into()),
            StatusCode::BAD_REQUEST,
            "binding_mismatch",
        ),
        (
            "uid",
            Box::new(|c| c.uid = "user-2".into()),
            StatusCode::BAD_REQUEST,
            "binding_mismatch",
        ),
        (
            "did",
            Box::new(|c| c.did = "device-2".into()),
            StatusCode::BAD_REQUEST,
            "binding_mismatch",
        ),
        (
            "trid",
            Box::new(|c| c.trid = "40010030274".into()),
            StatusCode::BAD_REQUEST,
            "binding_mismatch",
        ),
        (
            "iat past",
            Box::new(|c| c.iat -= 301),
            StatusCode::BAD_REQUEST,
            "stale_timestamp",
        ),
        (
            "iat future",
            Box::new(|c| c.iat += 301),
            StatusCode::BAD_REQUEST,
            "stale_timestamp",
        ),
        (
            "luhn",
            Box::new(|c| c.acct.pan = "4000123456789018".into()),
            StatusCode::BAD_REQUEST,
            "invalid_account",
        ),
        (
            "short pan",
            Box::new(|c| c.acct.pan = "40001234567".into()),
            StatusCode::BAD_REQUEST,
            "invalid_account",
        ),
        (
            "expired",
            Box::new(|c| c.acct.exp_year = 2020),
            StatusCode::BAD_REQUEST,
            "invalid_account",
        ),
        (
            "month",
            Box::new(|c| c.acct.exp_month = 13),
            StatusCode::BAD_REQUEST,
            "invalid_account",
        ),
    ];
    for (name, tweak, status, expected) in cases {
        let (s, v) = h.push(&h.request_with(tweak)).await;
        assert_eq!((s, code(&v)), (status, expected), "case {name}: {v}");
        assert!(
            !v["detail"].as_str().unwrap().contains(PAN),
            "case {name} echoes the PAN"
        );
    }
    // Inside the window on both sides is fine.
    let (s, v) = h.push(&h.request_with(|c| c.iat -= 290)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // None of the refused requests made a token.
    assert_eq!(h.token_count().await, 1);
}

#[tokio::test]
async fn signature_issuer_and_payload_errors() {
    let h = harness().await;
    // Signed by a key that is not the issuer's registered key, under the registered kid.
    let (claims, answer) = h.claims();
    let rogue = h.crypto.generate_ec_key().unwrap();
    let jwe = seal_request_data(&h.crypto, &rogue, &h.issuer_kid, &claims, &h.jwks).unwrap();
    let (s, v) = h.push(&h.wallet.push_request(&answer, jwe, None)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "signature_invalid")
    );
    // The right key under another kid.
    // (An issuer app built with a wrong kid.)
    let (claims, answer) = h.claims();
    let jwe = {
        let wrong_kid = IssuerApp::new(
            "bank-a",
            "not-the-kid",
            h.crypto.generate_ec_key().unwrap(),
            "provisio",
        );
        wrong_kid.request_data(&h.crypto, &claims, &h.jwks).unwrap()
    };
    let (s, v) = h.push(&h.wallet.push_request(&answer, jwe, None)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "signature_invalid")
    );
    // An unregistered issuer.
    let (mut claims, answer) = h.claims();
    claims.iss = "bank-z".into();
    let jwe = h.issuer.request_data(&h.crypto, &claims, &h.jwks).unwrap();
    let (s, v) = h.push(&h.wallet.push_request(&answer, jwe, None)).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "unknown_issuer"));
    // Encrypted to a key the TSP does not hold (kid unknown).
    let (claims, answer) = h.claims();
    let stranger = h.crypto.generate_ec_key().unwrap();
    let fake_jwks = JwkSet {
        keys: vec![Jwk::from_public_key(stranger.public_key()).with_metadata(
            "unknown-kid",
            provisio_jose::KeyUse::Enc,
            "ECDH-ES+A256KW",
        )],
    };
    let jwe = h
        .issuer
        .request_data(&h.crypto, &claims, &fake_jwks)
        .unwrap();
    let (s, v) = h.push(&h.wallet.push_request(&answer, jwe, None)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "payload_undecryptable")
    );
    // Not a JWE at all.
    let mut req = h.request_with(|_| {});
    req.encrypted_payload = "not.a.jwe".into();
    let (s, v) = h.push(&req).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "payload_undecryptable")
    );
}

#[tokio::test]
async fn malformed_requests_and_authentication() {
    let h = harness().await;
    for body in [
        &b"{"[..],
        b"[]",
        b"{\"encrypted_payload\": 1}",
        b"null",
        b"\xff\xfe",
    ] {
        let (s, v) = h.push_raw(body.to_vec(), None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{v}"
        );
    }
    let mut req = h.request_with(|_| {});
    req.session_id = "short".into();
    let (s, v) = h.push(&req).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let mut req = h.request_with(|_| {});
    req.device.binding_jwk.y = req.device.binding_jwk.x.clone();
    let (s, v) = h.push(&req).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "binding key off the curve"
    );
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(100, false));
    let (s, v) = h.push(&req).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );

    let body = serde_json::to_vec(&h.request_with(|_| {})).unwrap();
    let path = "/v1/push-provisioning";
    let (s, v) = call(&h.app, "POST", path, None, body.clone(), None).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, v) = call(
        &h.app,
        "POST",
        path,
        Some("pvk_not-a-key"),
        body.clone(),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, v) = call(
        &h.app,
        "POST",
        path,
        Some(&h.issuer_api_key),
        body.clone(),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let admin_body = serde_json::json!({"token_requestor_id": "40010030299", "name": "x"})
        .to_string()
        .into_bytes();
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/token-requestors",
        Some(&h.wallet_key),
        admin_body.clone(),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/token-requestors",
        Some(ADMIN),
        b"{\"token_requestor_id\":\"123\",\"name\":\"x\"}".to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let dup = serde_json::json!({"token_requestor_id": TRID, "name": "again"})
        .to_string()
        .into_bytes();
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/token-requestors",
        Some(ADMIN),
        dup,
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "token_requestor_exists")
    );
    // API keys are stored hashed: the key itself is nowhere in the store's answer for its hash.
    assert!(
        h.state
            .store
            .principal(&hash_api_key(&h.crypto, &h.wallet_key))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn replays_are_refused_forever() {
    let h = harness().await;
    let req = h.request_with(|_| {});
    assert_eq!(h.push(&req).await.0, StatusCode::OK);
    let (s, v) = h.push(&req).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "replayed_request"));
    // The same jti in a new session is a replay too.
    let jti = "fixed-jti-1".to_string();
    let j = jti.clone();
    assert_eq!(
        h.push(&h.request_with(move |c| c.jti = j)).await.0,
        StatusCode::OK
    );
    let (s, v) = h.push(&h.request_with(move |c| c.jti = jti)).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "replayed_request"));
    // A declined request consumes its session too.
    let mut declined = h.request_with(|_| {});
    declined.wallet_risk = Some(WalletRiskInfo::level(90, true));
    let (s, v) = h.push(&declined).await;
    assert_eq!(
        (s, v["decision"].as_str()),
        (StatusCode::OK, Some("DECLINED"))
    );
    assert!(v.get("token").is_none() && v.get("access_data").is_none());
    let (s, v) = h.push(&declined).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "replayed_request"));
    assert_eq!(h.token_count().await, 2);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let h = harness().await;
    let body = serde_json::to_vec(&h.request_with(|_| {})).unwrap();
    let (s1, v1) = h.push_raw(body.clone(), Some("idem-1")).await;
    let (s2, v2) = h.push_raw(body, Some("idem-1")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(v1, v2, "the same answer, token and all");
    let other = serde_json::to_vec(&h.request_with(|_| {})).unwrap();
    let (s, v) = h.push_raw(other, Some("idem-1")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_conflict")
    );
    assert_eq!(h.token_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_submissions_make_one_token() {
    let h = harness().await;
    let body = serde_json::to_vec(&h.request_with(|_| {})).unwrap();
    let calls = (0..20).map(|_| {
        let app = h.app.clone();
        let key = h.wallet_key.clone();
        let body = body.clone();
        tokio::spawn(async move {
            call(
                &app,
                "POST",
                "/v1/push-provisioning",
                Some(&key),
                body,
                None,
            )
            .await
        })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let replayed = results
        .iter()
        .filter(|(s, v)| *s == StatusCode::CONFLICT && code(v) == "replayed_request")
        .count();
    assert_eq!((ok, replayed), (1, 19), "{results:?}");
    assert_eq!(h.token_count().await, 1);
}

#[tokio::test]
async fn every_single_byte_change_of_the_jwe_is_a_4xx() {
    let h = harness().await;
    let req = h.request_with(|_| {});
    let jwe = req.encrypted_payload.clone();
    for i in 0..jwe.len() {
        let mut bytes = jwe.clone().into_bytes();
        // A different base64url character, or a '.' where there was none.
        bytes[i] = match bytes[i] {
            b'A' => b'B',
            b'.' => b'A',
            _ => b'A',
        };
        let mut changed = req.clone();
        changed.encrypted_payload = String::from_utf8(bytes).unwrap();
        let (s, v) = h.push(&changed).await;
        assert!(s.is_client_error(), "byte {i}: {s} {v}");
    }
    assert_eq!(h.token_count().await, 0);
    // The unchanged request still works: none of the attempts consumed it.
    assert_eq!(h.push(&req).await.0, StatusCode::OK);
}

/// US 10,243,958 claim 1: the issuer's app authenticated the cardholder, so a push in the
/// step-up band is provisioned "without requiring the second application to perform a
/// step-up authentication process"; the decline band still declines.
#[tokio::test]
async fn claim_958_push_in_the_step_up_band_is_provisioned_without_step_up() {
    let h = harness().await;
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(55, true));
    let (s, v) = h.push(&req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED");
    assert_eq!(v["risk"]["final_level"], 55);
    assert_eq!(v["risk"]["merge_rule"], "issuer_app_authenticated");
    assert_eq!(v["token"]["status"], "ACTIVE");
    assert!(v["access_data"].is_string());
    assert!(v.get("step_up").is_none());
    let mut declined = h.request_with(|_| {});
    declined.wallet_risk = Some(WalletRiskInfo::level(85, true));
    let (_, v) = h.push(&declined).await;
    assert_eq!(v["decision"], "DECLINED", "{v}");
}

/// An issuer registered with `push_step_up: true` keeps the step-up band on its pushes.
#[tokio::test]
async fn non_override_wallet_risk_is_a_floor() {
    let h = harness_stepping_up().await;
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(55, true));
    let (s, v) = h.push(&req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["decision"], "STEP_UP_REQUIRED");
    assert_eq!(v["risk"]["merge_rule"], "non_override_wallet_floor");
    assert_eq!(v["risk"]["final_level"], 55);
    assert_eq!(v["token"]["status"], "INACTIVE");
    assert!(v.get("access_data").is_none());
    // Without non-override the service's own level decides for the trusted push path.
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(55, false));
    let (_, v) = h.push(&req).await;
    assert_eq!(
        (v["decision"].as_str(), v["risk"]["final_level"].as_u64()),
        (Some("APPROVED"), Some(0))
    );
}

#[tokio::test]
async fn operations_endpoints() {
    let h = harness().await;
    let (s, v) = call(&h.app, "GET", "/healthz", None, vec![], None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (_, doc) = call(&h.app, "GET", "/openapi.json", None, vec![], None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/push-provisioning",
        "/v1/admin/issuers",
        "/v1/admin/token-requestors",
        "/v1/keys/jwks.json",
        "/v1/admin/risk-lists",
        "/v1/provisionings/{provisioning_id}/step-up/otp",
        "/v1/provisionings/{provisioning_id}/step-up/verify",
        "/v1/provisionings/{provisioning_id}/script-report",
        "/v1/provisionings/{provisioning_id}/installation",
        "/v1/tsm/jobs/{job_id}/report",
        "/v1/admin/issuers/{issuer_id}/sp-tsm",
        "/v1/admin/issuers/{issuer_id}/kba-source",
        "/v1/wallet-module",
        "/v1/wallet-accounts",
        "/v1/wallet-accounts/{account_id}",
        "/v1/wallet-accounts/{account_id}/kba/question",
        "/v1/wallet-accounts/{account_id}/kba/answer",
        "/v1/wallet-accounts/{account_id}/kba/opt-out",
        "/v1/issuer/enrolments",
        "/v1/issuer/wallet-accounts/{account_id}/verification",
        "/healthz",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    let uses: Vec<&str> = h
        .jwks
        .keys
        .iter()
        .filter_map(|k| k.key_use)
        .map(|u| {
            if u == provisio_jose::KeyUse::Enc {
                "enc"
            } else {
                "sig"
            }
        })
        .collect();
    assert_eq!(uses, ["enc", "sig"]);
    let (s, v) = call(&h.app, "GET", "/nope", None, vec![], None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let resp = h
        .app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("provisio_errors_total{code=\"not_found\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn keys_survive_restart_and_refuse_a_wrong_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = provisio_testkit::postgres::store_url(dir.path(), "k.db").await;
    let master = SecretBytes::new(vec![1; 32]);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let a = bootstrap(
        Arc::new(SqlStore::open(&url).await.unwrap()),
        &master,
        ADMIN,
        TspConfig::default(),
        clock.clone(),
    )
    .await
    .unwrap();
    let b = bootstrap(
        Arc::new(SqlStore::open(&url).await.unwrap()),
        &master,
        ADMIN,
        TspConfig::default(),
        clock.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        a.keys.jwks(),
        b.keys.jwks(),
        "a second instance publishes the same keys"
    );
    let wrong = bootstrap(
        Arc::new(SqlStore::open(&url).await.unwrap()),
        &SecretBytes::new(vec![2; 32]),
        ADMIN,
        TspConfig::default(),
        clock,
    )
    .await;
    assert!(matches!(
        wrong,
        Err(provisio_server::BootstrapError::WrongMasterKey)
    ));
}

/// The operator changes an issuer's push setting after registration: its next push in the
/// step-up band steps up, and back.
#[tokio::test]
async fn an_issuers_push_step_up_can_be_changed_later() {
    let h = harness().await;
    let push_in_band = || async {
        let mut req = h.request_with(|_| {});
        req.wallet_risk = Some(WalletRiskInfo::level(55, true));
        h.push(&req).await.1["decision"].clone()
    };
    assert_eq!(push_in_band().await, "APPROVED");
    let set = |on: bool| {
        call(
            &h.app,
            "PUT",
            "/v1/admin/issuers/bank-a/push-step-up",
            Some(ADMIN),
            serde_json::json!({"push_step_up": on})
                .to_string()
                .into_bytes(),
            None,
        )
    };
    let (s, v) = set(true).await;
    assert_eq!(
        (s, v["push_step_up"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    assert_eq!(push_in_band().await, "STEP_UP_REQUIRED");
    assert_eq!(set(false).await.0, StatusCode::OK);
    assert_eq!(push_in_band().await, "APPROVED");
    let (s, _) = call(
        &h.app,
        "PUT",
        "/v1/admin/issuers/nobody/push-step-up",
        Some(ADMIN),
        serde_json::json!({"push_step_up": true})
            .to_string()
            .into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A registration's first answer holds the new participant's API key: replayed for the same
/// Idempotency-Key, it is stored sealed, never in the clear (a database backup hands out no
/// key).
#[tokio::test]
async fn a_stored_idempotent_answer_never_holds_an_api_key_in_the_clear() {
    let h = harness().await;
    let body = serde_json::json!({"token_requestor_id": "40010099988", "name": "Another wallet"});
    let register = || {
        call(
            &h.app,
            "POST",
            "/v1/admin/token-requestors",
            Some(ADMIN),
            body.to_string().into_bytes(),
            Some("reg-1"),
        )
    };
    let (s, first) = register().await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let api_key = first["api_key"].as_str().unwrap().to_owned();
    let (s, again) = register().await;
    assert_eq!((s, &again), (StatusCode::CREATED, &first));
    let stored = h
        .state
        .store
        .idempotency("admin", "reg-1")
        .await
        .unwrap()
        .expect("the first answer is stored");
    assert!(!stored.body.contains(&api_key), "{}", stored.body);
    assert!(!stored.body.contains("api_key"), "{}", stored.body);
    // The replayed key works.
    let (s, _) = call(
        &h.app,
        "GET",
        "/v1/tokens/tr_none",
        Some(&api_key),
        vec![],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Card data is exactly what is documented (an unknown `acct` member such as a CVV is refused;
/// unknown top-level claims stay ignored, RFC 7519 section 4); an empty or unprintable `jti`, a
/// name with a NUL or a bidirectional override, and a `wallet_risk` that is not an object are
/// refused, each as `malformed_request`.
#[tokio::test]
async fn lenient_shapes_are_refused() {
    let h = harness().await;
    let sealed = |tweak: &dyn Fn(&mut serde_json::Value)| {
        let (claims, answer) = h.claims();
        let mut v = serde_json::to_value(&claims).unwrap();
        tweak(&mut v);
        let jwe = h.issuer.request_data(&h.crypto, &v, &h.jwks).unwrap();
        h.wallet.push_request(&answer, jwe, None)
    };
    type Tweak<'a> = &'a dyn Fn(&mut serde_json::Value);
    let tweaks: [(&str, Tweak<'_>); 5] = [
        ("acct.cvv", &|v| v["acct"]["cvv"] = "123".into()),
        ("empty jti", &|v| v["jti"] = "".into()),
        ("NUL in jti", &|v| v["jti"] = "j\u{0}1".into()),
        ("NUL in the name", &|v| {
            v["acct"]["name"] = "A\u{0}Holder".into()
        }),
        ("bidi override in the name", &|v| {
            v["acct"]["name"] = "A \u{202E}redloH".into()
        }),
    ];
    for (what, tweak) in tweaks {
        let (s, v) = h.push(&sealed(tweak)).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{what}: {v}"
        );
    }
    // An unknown top-level claim is ignored.
    let (s, v) = h.push(&sealed(&|v| v["x_extra"] = "ignored".into())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // wallet_risk as an array is not read member by member.
    let req = h.request_with(|_| {});
    let mut body = serde_json::to_value(&req).unwrap();
    body["wallet_risk"] = serde_json::json!([10, true]);
    let (s, v) = h.push_raw(body.to_string().into_bytes(), None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "{v}"
    );
    body["wallet_risk"] = serde_json::Value::Null;
    assert_eq!(
        h.push_raw(body.to_string().into_bytes(), None).await.0,
        StatusCode::OK
    );
    // Registration names are plain text.
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/token-requestors",
        Some(ADMIN),
        serde_json::json!({"token_requestor_id": "40010099977", "name": "Wallet\u{202E}"})
            .to_string()
            .into_bytes(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "{v}"
    );
}

//! The wallet-initiated request itself: what it takes, what it refuses, once per `jti`.

use std::sync::Arc;

use axum::http::StatusCode;
use provisio_tsp::TspConfig;
use provisio_tsp::wire::WalletRiskInfo;
use serde_json::json;

use provisio_server::Clock;

use super::support::*;

#[tokio::test]
async fn a_card_entered_in_the_wallet_is_provisioned_to_the_device() {
    let (h, _) = wallet_harness(TspConfig::default(), false).await;
    let (s, v) = provision(
        &h,
        &entered(&h, "device-w1", Some(WalletRiskInfo::level(10, false))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED");
    assert_eq!(v["token"]["status"], "ACTIVE");
    assert_eq!(v["risk"]["merge_rule"], "service_level");
    // No trusted-push credit off the issuer-app path.
    assert!(
        !reasons(&v).contains(&"trusted_issuer_push".to_owned()),
        "{v}"
    );
    let access = h
        .wallet
        .open_access_data(&h.crypto, v["access_data"].as_str().unwrap());
    // The access data is bound to the requesting device's key, not the harness wallet's.
    assert!(access.is_err());
    let token = h
        .state
        .store
        .token(v["token"]["token_ref_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (token.device_id.as_str(), token.issuer_id.as_str()),
        ("device-w1", "bank-a")
    );
}

#[tokio::test]
async fn a_jti_is_accepted_once_per_token_requestor_even_concurrently() {
    let (h, _) = wallet_harness(TspConfig::default(), false).await;
    let h = Arc::new(h);
    let req = entered(&h, "device-w2", None);
    let body = serde_json::to_vec(&req).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (h, body) = (h.clone(), body.clone());
            tokio::spawn(async move { provision_raw(&h, body, None).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        if s != StatusCode::OK {
            assert_eq!(
                (s, code(&v)),
                (StatusCode::CONFLICT, "replayed_request"),
                "{v}"
            );
        }
        statuses.push(s);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1);
    assert_eq!(h.token_count().await, 1);
    // An Idempotency-Key replays the first answer instead.
    let again = entered(&h, "device-w3", None);
    let body = serde_json::to_vec(&again).unwrap();
    let (s1, v1) = provision_raw(&h, body.clone(), Some("k-1")).await;
    let (s2, v2) = provision_raw(&h, body, Some("k-1")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(v1, v2);
}

#[tokio::test]
async fn bad_cards_are_refused_with_their_codes_and_consume_nothing() {
    let (h, _) = wallet_harness(TspConfig::default(), false).await;
    let good = entered(&h, "device-w4", None);
    // A flipped bit anywhere in the JWE.
    let mut flipped = good.clone();
    let mut bytes = flipped.encrypted_card.into_bytes();
    let at = bytes.len() - 5;
    bytes[at] ^= 1;
    flipped.encrypted_card = String::from_utf8(bytes).unwrap();
    let (s, v) = provision(&h, &flipped).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "payload_undecryptable")
    );
    // Card data sealed by hand with an unknown member, a bad PAN, an old iat, a PAN in no
    // range, a bad CVC2.
    let seal = |card: serde_json::Value| {
        let mut req = good.clone();
        let (jwk, key) = {
            let enc = h
                .jwks
                .keys
                .iter()
                .find(|k| k.alg.as_deref() == Some("ECDH-ES+A256KW"))
                .unwrap();
            (enc.clone(), enc.public_key().unwrap())
        };
        req.encrypted_card = provisio_jose::encrypt(
            &h.crypto,
            &key,
            &provisio_jose::EncryptOptions {
                alg: provisio_jose::KeyManagement::EcdhEsA256Kw,
                kid: jwk.kid.as_deref(),
                cty: None,
            },
            card.to_string().as_bytes(),
        )
        .unwrap();
        req
    };
    let now = h.clock.now();
    let card = |pan: &str, iat: i64, extra: serde_json::Value| {
        let mut c = json!({"pan": pan, "exp_month": 12, "exp_year": 2030, "name": "A Holder", "iat": iat, "jti": "j-1"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    for (body, status, expected) in [
        (
            card(PAN, now, json!({"cvv": "123"})),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            card(PAN, now, json!({"cvc2": "12a"})),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            card(PAN, now, json!({"jti": ""})),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            card("4000123456789018", now, json!({})),
            StatusCode::BAD_REQUEST,
            "invalid_account",
        ),
        (
            card(PAN, now - 3600, json!({})),
            StatusCode::BAD_REQUEST,
            "stale_timestamp",
        ),
        (
            card("5100000000000008", now, json!({})),
            StatusCode::BAD_REQUEST,
            "unknown_issuer",
        ),
    ] {
        let (s, v) = provision(&h, &seal(body)).await;
        assert_eq!((s, code(&v)), (status, expected), "{v}");
        assert!(!v.to_string().contains(PAN), "the PAN is echoed: {v}");
    }
    assert_eq!(h.token_count().await, 0);
    // None of them used the jti: the same one still goes through.
    let (s, v) = provision(&h, &seal(card(PAN, now, json!({})))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = provision(&h, &seal(card(PAN, now, json!({})))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "replayed_request"));
    // An issuer key cannot provision.
    let (s, _) = call(
        &h.app,
        "POST",
        "/v1/provisionings",
        Some(&h.issuer_api_key),
        serde_json::to_vec(&good).unwrap(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// US 10,140,615 on the wallet path, as on a push: a non-override wallet level below the
/// service's is not provisioned without further authentication (and, with no contact for a
/// code, declined); one above it is final.
#[tokio::test]
async fn claim_615_non_override_on_the_wallet_path() {
    let (h, _) = wallet_harness(TspConfig::default(), false).await;
    let (_, v) = provision(
        &h,
        &entered(&h, "device-w6", Some(WalletRiskInfo::level(30, true))),
    )
    .await;
    assert_eq!(v["risk"]["merge_rule"], "non_override_wallet_floor", "{v}");
    assert_eq!(
        (v["decision"].as_str(), v["risk"]["final_level"].as_u64()),
        (Some("APPROVED"), Some(30))
    );
    let (_, v) = provision(
        &h,
        &entered(&h, "device-w5", Some(WalletRiskInfo::level(5, true))),
    )
    .await;
    assert_eq!(
        v["risk"]["merge_rule"], "non_override_service_higher",
        "{v}"
    );
    assert_eq!(v["decision"], "DECLINED");
    assert!(reasons(&v).contains(&"no_step_up_method".to_owned()));
}

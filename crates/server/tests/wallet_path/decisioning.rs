//! The issuer's decisioning: what it is sent, what its answers do, and what stands in when it
//! does not answer usably.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use provisio_jose::KeyUse;
use provisio_server::{MemorySink, spawn_delivery};
use provisio_tsp::wire::WalletRiskInfo;
use provisio_tsp::{DecisioningConfig, TspConfig};
use serde_json::{Value, json};

use super::support::*;

fn budget(ms: u64) -> TspConfig {
    TspConfig {
        decisioning: DecisioningConfig {
            budget_ms: ms,
            ..DecisioningConfig::default()
        },
        ..TspConfig::default()
    }
}

#[tokio::test]
async fn the_issuer_is_asked_with_the_card_sealed_to_it_and_its_approval_provisions() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    let fake = fake.unwrap();
    fake.answers(json!({"decision": "APPROVE"}));
    let (s, v) = provision(
        &h,
        &entered(&h, "device-d1", Some(WalletRiskInfo::level(10, false))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED");
    assert!(reasons(&v).contains(&"issuer_approved".to_owned()));
    assert_eq!(v["risk"]["issuer"]["decision"], "APPROVE");
    assert!(v["risk"]["issuer"]["latency_ms"].is_u64());
    // What the issuer got: a JWS under the service's signing key, the card encrypted to the
    // issuer's key (with the CVC2, which only it sees), the wallet's and the service's risk.
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let sig = h
        .jwks
        .keys
        .iter()
        .find(|k| k.key_use == Some(KeyUse::Sig))
        .unwrap();
    let verified = provisio_jose::verify(&h.crypto, &received[0], |_| sig.public_key()).unwrap();
    let claims: Value = serde_json::from_slice(&verified.payload).unwrap();
    assert_eq!(claims["token_requestor_id"], TRID);
    assert_eq!(claims["device_id"], "device-d1");
    assert_eq!(claims["wallet_risk"]["level"], 10);
    assert!(claims["tsp_risk"]["level"].is_u64());
    assert!(!received[0].contains(PAN) && !verified.payload.windows(3).any(|w| w == b"123"));
    let card = provisio_jose::decrypt(
        &h.crypto,
        claims["card"].as_str().unwrap(),
        &[provisio_jose::KeyManagement::EcdhEsA256Kw],
        |_| Some(&fake.key),
    )
    .unwrap();
    let card: Value = serde_json::from_slice(card.plaintext.expose()).unwrap();
    assert_eq!(
        (card["pan"].as_str(), card["cvc2"].as_str()),
        (Some(PAN), Some("123"))
    );
}

#[tokio::test]
async fn require_authentication_steps_up_with_the_issuers_methods_and_its_contact() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    let fake = fake.unwrap();
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    fake.answers(
        json!({"decision": "REQUIRE_AUTHENTICATION", "methods": ["OTP_SMS"],
        "contact": {"phone": "+15559870001", "email": "holder@example.com"}}),
    );
    // A low level the issuer still wants authenticated.
    let (s, v) = provision(
        &h,
        &entered(&h, "device-d2", Some(WalletRiskInfo::level(5, false))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "STEP_UP_REQUIRED");
    assert_eq!(v["token"]["status"], "INACTIVE");
    assert!(reasons(&v).contains(&"issuer_requires_authentication".to_owned()));
    let methods = v["step_up"]["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 1, "only the method the issuer allows: {v}");
    assert_eq!(
        (
            methods[0]["type"].as_str(),
            methods[0]["destination"].as_str()
        ),
        (Some("OTP_SMS"), Some("***-***-0001"))
    );
    // The code goes to the issuer's contact and activates the token.
    let passed = pass_by_sms(&h, &sink, &v, "device-d2", "+15559870001").await;
    assert_eq!(passed["token"]["status"], "ACTIVE");
}

#[tokio::test]
async fn the_issuers_decline_declines_whatever_the_levels() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    fake.unwrap().answers(json!({"decision": "DECLINE"}));
    let (_, v) = provision(
        &h,
        &entered(&h, "device-d3", Some(WalletRiskInfo::level(0, false))),
    )
    .await;
    assert_eq!(v["decision"], "DECLINED", "{v}");
    assert!(reasons(&v).contains(&"issuer_declined".to_owned()));
    assert!(v.get("token").is_none());
    assert_eq!(h.token_count().await, 0);
}

/// No usable answer within the budget (a hang, an error status, garbage, an answer given
/// twice, no listener): the fallback (require authentication) stands in, the budget ends the
/// wait, never 5xx; a late answer changes nothing.
#[tokio::test]
async fn a_timeout_an_error_or_garbage_applies_the_fallback_and_a_late_answer_changes_nothing() {
    let (h, fake) = wallet_harness(budget(300), true).await;
    let fake = fake.unwrap();
    let approve = json!({"decision": "APPROVE", "contact": {"phone": "+15559870002"}}).to_string();
    let cases: [(Behaviour, &str); 4] = [
        (
            Behaviour::Answer(200, approve.clone(), Duration::from_millis(1_200)),
            "timeout",
        ),
        (
            Behaviour::Answer(500, approve.clone(), Duration::ZERO),
            "http_status",
        ),
        (
            Behaviour::Answer(200, "<html>garbage".into(), Duration::ZERO),
            "malformed",
        ),
        (
            Behaviour::Answer(200, format!("{approve}{approve}"), Duration::ZERO),
            "malformed",
        ),
    ];
    for (i, (behaviour, why)) in cases.into_iter().enumerate() {
        fake.behaves(behaviour);
        let (s, v) = provision(
            &h,
            &entered(
                &h,
                &format!("device-f{i}"),
                Some(WalletRiskInfo::level(5, false)),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{why}: {v}");
        // `timeout` for the hang: the budget, not the issuer, ended the wait (its latency is the
        // budget's, not the issuer's 1.2 s).
        assert_eq!(v["risk"]["issuer"]["fallback"], why, "{v}");
        if why == "timeout" {
            assert_eq!(v["risk"]["issuer"]["latency_ms"], 300, "{v}");
        }
        assert_eq!(v["risk"]["issuer"]["decision"], "REQUIRE_AUTHENTICATION");
        assert!(reasons(&v).contains(&"issuer_decision_unavailable".to_owned()));
        // The fallback has no contact from the issuer to send a code to.
        assert_eq!(v["decision"], "DECLINED", "{v}");
    }
    // The operator sees the fallbacks by reason.
    let metrics = metrics_text(&h).await;
    for why in ["timeout", "http_status"] {
        assert!(
            metrics.contains(&format!(
                "provisio_issuer_decisions_total{{decision=\"REQUIRE_AUTHENTICATION\",fallback=\"{why}\"}} 1"
            )),
            "{metrics}"
        );
    }
    assert!(metrics.contains(
        "provisio_issuer_decisions_total{decision=\"REQUIRE_AUTHENTICATION\",fallback=\"malformed\"} 2"
    ));
    // The slow issuer's approval would have come after the request was answered: the
    // connection is gone, and nothing of it changes what was decided.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(fake.received().len(), 4);
    assert_eq!(h.token_count().await, 0);
    // No listener at all.
    let (s, v) = admin(
        &h,
        "PUT",
        "/v1/admin/issuers/bank-a/decisioning",
        json!({"url": "http://127.0.0.1:9/decide", "encryption_jwk": fake.jwk()}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = provision(&h, &entered(&h, "device-f9", None)).await;
    assert_eq!(
        (s, v["risk"]["issuer"]["fallback"].as_str()),
        (StatusCode::OK, Some("unreachable")),
        "{v}"
    );
}

#[tokio::test]
async fn a_decisioning_url_must_be_tls_and_the_key_public_with_a_kid() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    let fake = fake.unwrap();
    for body in [
        json!({"url": "http://bank.example/decide", "encryption_jwk": fake.jwk()}),
        json!({"url": "ftp://127.0.0.1/decide", "encryption_jwk": fake.jwk()}),
        json!({"url": "https://bank.example/decide", "encryption_jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k"}}),
    ] {
        let (s, v) = admin(&h, "PUT", "/v1/admin/issuers/bank-a/decisioning", body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{v}"
        );
    }
    let (s, v) = admin(
        &h,
        "PUT",
        "/v1/admin/issuers/nobody/decisioning",
        json!({"url": "https://bank.example/decide", "encryption_jwk": fake.jwk()}),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = admin(
        &h,
        "PUT",
        "/v1/admin/issuers/bank-a/bin-ranges",
        json!({"bin_ranges": ["40001"]}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "{v}"
    );
    let (s, v) = call(
        &h.app,
        "PUT",
        "/v1/admin/issuers/bank-a/bin-ranges",
        Some(&h.wallet_key),
        json!({"bin_ranges": []}).to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

/// US 10,140,615 on the wallet path with the issuer's contact: the issuer approves, but a
/// non-override wallet level below the service's still needs further authentication; the code
/// goes to the issuer's contact and the token activates.
#[tokio::test]
async fn a_non_override_level_below_the_services_steps_up_even_when_the_issuer_approves() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    let fake = fake.unwrap();
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    fake.answers(json!({"decision": "APPROVE", "contact": {"phone": "+15559870003"}}));
    let (s, v) = provision(
        &h,
        &entered(&h, "device-n1", Some(WalletRiskInfo::level(5, true))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["decision"].as_str(), v["risk"]["merge_rule"].as_str()),
        (
            Some("STEP_UP_REQUIRED"),
            Some("non_override_service_higher")
        ),
        "{v}"
    );
    assert!(reasons(&v).contains(&"issuer_approved".to_owned()));
    let method = &v["step_up"]["methods"][0];
    assert_eq!(method["type"], "OTP_SMS", "{v}");
    let passed = pass_by_sms(&h, &sink, &v, "device-n1", "+15559870003").await;
    assert_eq!(passed["token"]["status"], "ACTIVE", "{passed}");
}

async fn metrics_text(h: &Harness) -> String {
    let resp = tower::ServiceExt::oneshot(
        h.app.clone(),
        axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

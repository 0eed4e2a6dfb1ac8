//! Activation by the issuer's app (docs/protocol.md §17.4): the issuer's decisioning allows
//! `ISSUER_APP`, the issuer app signs activation data over the token, the device and a nonce,
//! the wallet submits it once.

use axum::http::StatusCode;
use provisio_apps::IssuerApp;
use provisio_crypto::CryptoProvider;
use provisio_server::Clock;
use provisio_tsp::wire::WalletRiskInfo;
use provisio_tsp::{TspConfig, jwk_thumbprint};
use serde_json::{Value, json};

use super::support::*;

/// A wallet-initiated provisioning held for the issuer app, on `device`.
async fn held(h: &Harness, fake: &FakeIssuer, device: &str) -> Value {
    fake.answers(json!({"decision": "REQUIRE_AUTHENTICATION", "methods": ["ISSUER_APP"]}));
    let (s, v) = provision(
        h,
        &entered(h, device, Some(WalletRiskInfo::level(5, false))),
    )
    .await;
    assert_eq!(
        (s, v["decision"].as_str()),
        (StatusCode::OK, Some("STEP_UP_REQUIRED")),
        "{v}"
    );
    v
}

async fn submit(
    h: &Harness,
    pv: &Value,
    device: &str,
    activation_data: &str,
) -> (StatusCode, Value) {
    let id = pv["provisioning_id"].as_str().unwrap();
    let body = json!({"method_id": pv["step_up"]["methods"][0]["method_id"], "wallet_user_id": "user-1",
        "device_id": device, "activation_data": activation_data});
    call(
        &h.app,
        "POST",
        &format!("/v1/provisionings/{id}/step-up/issuer-app"),
        Some(&h.wallet_key),
        body.to_string().into_bytes(),
        None,
    )
    .await
}

#[tokio::test]
async fn the_issuer_apps_signed_activation_data_activates_the_token_once() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    let fake = fake.unwrap();
    let pv = held(&h, &fake, "device-a1").await;
    let methods = pv["step_up"]["methods"].as_array().unwrap();
    assert_eq!(
        (
            methods.len(),
            methods[0]["type"].as_str(),
            methods[0]["destination"].as_str()
        ),
        (1, Some("ISSUER_APP"), Some("bank-a"))
    );
    let token = pv["token"]["token_ref_id"].as_str().unwrap();
    // The method sends no codes.
    let id = pv["provisioning_id"].as_str().unwrap();
    let body = json!({"method_id": methods[0]["method_id"], "wallet_user_id": "user-1", "device_id": "device-a1"});
    let (s, v) = call(
        &h.app,
        "POST",
        &format!("/v1/provisionings/{id}/step-up/otp"),
        Some(&h.wallet_key),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "unknown_method"),
        "{v}"
    );

    let now = h.clock.now();
    // Signed by another issuer's key, for another token, for another device, too old.
    let other_key = h.crypto.generate_ec_key().unwrap();
    let other_kid = jwk_thumbprint(&h.crypto, other_key.public_key());
    let impostor = IssuerApp::new("bank-a", &other_kid, other_key, "provisio");
    for (data, status, expected) in [
        (
            impostor
                .activation_data(&h.crypto, token, "device-a1", now)
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "signature_invalid",
        ),
        (
            h.issuer
                .activation_data(&h.crypto, "tr_other", "device-a1", now)
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "binding_mismatch",
        ),
        (
            h.issuer
                .activation_data(&h.crypto, token, "device-zz", now)
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "binding_mismatch",
        ),
        (
            h.issuer
                .activation_data(&h.crypto, token, "device-a1", now - 3600)
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "stale_timestamp",
        ),
        (
            "not.a.jws".to_owned(),
            StatusCode::BAD_REQUEST,
            "signature_invalid",
        ),
    ] {
        let (s, v) = submit(&h, &pv, "device-a1", &data).await;
        assert_eq!((s, code(&v)), (status, expected), "{v}");
    }
    let t = h.state.store.token(token).await.unwrap().unwrap();
    assert_eq!(
        t.status.as_str(),
        "INACTIVE",
        "nothing of the refusals stayed"
    );

    let data = h
        .issuer
        .activation_data(&h.crypto, token, "device-a1", now)
        .unwrap();
    let (s, v) = submit(&h, &pv, "device-a1", &data).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token"]["status"], "ACTIVE");
    assert!(v["access_data"].is_string() && v["script"].is_object());
    // The same activation data again, on this step-up or on another one.
    let (s, v) = submit(&h, &pv, "device-a1", &data).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "step_up_not_pending"),
        "{v}"
    );
    let pv2 = held(&h, &fake, "device-a2").await;
    let token2 = pv2["token"]["token_ref_id"].as_str().unwrap().to_owned();
    let replay = {
        // A nonce the first activation used, in data for the second token.
        let (_, payload, _) = {
            let mut parts = data.split('.');
            (parts.next(), parts.next().unwrap().to_owned(), parts.next())
        };
        let claims: Value =
            serde_json::from_slice(&provisio_jose::b64_decode(&payload).unwrap()).unwrap();
        h.issuer
            .sign_activation(
                &h.crypto,
                &provisio_tsp::wire::ActivationClaims {
                    token_ref_id: token2.clone(),
                    device_id: "device-a2".into(),
                    nonce: claims["nonce"].as_str().unwrap().to_owned(),
                    iat: now,
                },
            )
            .unwrap()
    };
    let (s, v) = submit(&h, &pv2, "device-a2", &replay).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "replayed_request"),
        "{v}"
    );
    let t = h.state.store.token(&token2).await.unwrap().unwrap();
    assert_eq!(
        t.status.as_str(),
        "INACTIVE",
        "a replayed nonce activates nothing"
    );
    // Another wallet user cannot submit it.
    let id = pv2["provisioning_id"].as_str().unwrap();
    let fresh = h
        .issuer
        .activation_data(&h.crypto, &token2, "device-a2", now)
        .unwrap();
    let body = json!({"method_id": pv2["step_up"]["methods"][0]["method_id"], "wallet_user_id": "user-2", "device_id": "device-a2", "activation_data": fresh});
    let (s, _) = call(
        &h.app,
        "POST",
        &format!("/v1/provisionings/{id}/step-up/issuer-app"),
        Some(&h.wallet_key),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another user's provisioning is not told"
    );
    let (s, v) = submit(&h, &pv2, "device-a2", &fresh).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Activation by the call centre (docs/protocol.md §17.5): the agent activates through the
/// issuer's API; the token's history names them; the wallet collects the access data.
#[tokio::test]
async fn the_call_centre_activates_the_token_and_the_wallet_collects_it() {
    let (h, fake) = wallet_harness(TspConfig::default(), true).await;
    let fake = fake.unwrap();
    fake.answers(json!({"decision": "REQUIRE_AUTHENTICATION", "methods": ["CALL_CENTER"]}));
    let (_, pv) = provision(
        &h,
        &entered(&h, "device-c1", Some(WalletRiskInfo::level(5, false))),
    )
    .await;
    assert_eq!(pv["decision"], "STEP_UP_REQUIRED", "{pv}");
    let method = &pv["step_up"]["methods"][0];
    assert_eq!(
        (method["type"].as_str(), method["destination"].as_str()),
        (Some("CALL_CENTER"), Some("bank-a"))
    );
    let token = pv["token"]["token_ref_id"].as_str().unwrap().to_owned();
    let id = pv["provisioning_id"].as_str().unwrap();
    let method_id = method["method_id"].as_str().unwrap().to_owned();
    let collect = |user: &'static str| collect(&h, id, &method_id, user);
    let (s, v) = collect("user-1").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "activation_pending"),
        "{v}"
    );
    // Not the wallet, not another issuer's token, not without an agent.
    assert_eq!(
        activate(&h, &h.wallet_key, &token, "agent-7").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, v) = activate(&h, &h.issuer_api_key, "tr_unknown", "agent-7").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
    let (s, v) = activate(&h, &h.issuer_api_key, &token, "").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, v) = activate(&h, &h.issuer_api_key, &token, "agent-7").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["agent_id"].as_str()),
        (Some("ACTIVE"), Some("agent-7"))
    );
    let (s, v) = activate(&h, &h.issuer_api_key, &token, "agent-7").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "step_up_not_pending"),
        "{v}"
    );
    // The token's history names the agent.
    let (_, view) = call(
        &h.app,
        "GET",
        &format!("/v1/tokens/{token}"),
        Some(&h.issuer_api_key),
        vec![],
        None,
    )
    .await;
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["status"].as_str(),
            last["actor"].as_str(),
            last["agent_id"].as_str()
        ),
        (Some("ACTIVE"), Some("ISSUER"), Some("agent-7")),
        "{view}"
    );
    // Another wallet user gets nothing; the holder gets the access data, as often as asked.
    assert_eq!(collect("user-2").await.0, StatusCode::NOT_FOUND);
    let (s, v) = collect("user-1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token"]["status"], "ACTIVE");
    assert!(v["access_data"].is_string() && v["script"].is_object());
    assert_eq!(collect("user-1").await.1, v);
    // A step-up that offers no call centre cannot be activated by it.
    fake.answers(json!({"decision": "REQUIRE_AUTHENTICATION", "methods": ["ISSUER_APP"]}));
    let (_, other) = provision(
        &h,
        &entered(&h, "device-c2", Some(WalletRiskInfo::level(5, false))),
    )
    .await;
    let other_token = other["token"]["token_ref_id"].as_str().unwrap();
    let (s, v) = activate(&h, &h.issuer_api_key, other_token, "agent-7").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "unknown_method"),
        "{v}"
    );
}

async fn collect(h: &Harness, id: &str, method_id: &str, user: &str) -> (StatusCode, Value) {
    let body = json!({"method_id": method_id, "wallet_user_id": user, "device_id": "device-c1"});
    call(
        &h.app,
        "POST",
        &format!("/v1/provisionings/{id}/step-up/call-center"),
        Some(&h.wallet_key),
        body.to_string().into_bytes(),
        None,
    )
    .await
}

async fn activate(h: &Harness, key: &str, token: &str, agent: &str) -> (StatusCode, Value) {
    call(
        &h.app,
        "POST",
        &format!("/v1/tokens/{token}/activate"),
        Some(key),
        json!({"agent_id": agent}).to_string().into_bytes(),
        None,
    )
    .await
}

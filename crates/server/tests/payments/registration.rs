//! Registering a network, and who may call the authorisation endpoint.

use axum::http::StatusCode;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_network_registers_once_and_only_a_network_key_authorises() {
    let h = harness().await;
    let net = network(&h, "net-a").await;
    let body = json!({"network_id": "net-a", "name": "Again"}).to_string();
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/networks",
        Some(ADMIN),
        body.into_bytes(),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "network_exists"));
    let body = json!({"network_id": "net b", "name": "Space"}).to_string();
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/networks",
        Some(ADMIN),
        body.into_bytes(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let body = json!({"network_id": "net-c", "name": "Not admin"}).to_string();
    let (s, _) = call(
        &h.app,
        "POST",
        "/v1/admin/networks",
        Some(&net),
        body.into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let t = active_token(&h).await;
    let req = t.request(1, 1250, "CONTACTLESS");
    for key in [
        h.wallet_key.clone(),
        h.issuer_api_key.clone(),
        ADMIN.to_owned(),
    ] {
        let (s, v) = authorize(&h, &key, &req).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
        assert!(!v.to_string().contains(&t.access.token_pan));
    }
    let (s, _) = authorize(&h, "pvk_unknown", &req).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The refused calls consumed nothing: the network's first use of ATC 1 is approved.
    let (s, v) = authorize(&h, &net, &req).await;
    assert_eq!((s, outcome(&v)), (StatusCode::OK, approved()), "{v}");
    // A network key reads no token.
    let (s, _) = call(
        &h.app,
        "GET",
        &format!("/v1/tokens/{}", t.token_ref_id),
        Some(&net),
        vec![],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

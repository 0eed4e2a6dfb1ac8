//! The authorisation decision, each rule through HTTP.

use axum::http::StatusCode;
use serde_json::{Value, json};

use provisio_server::Clock;

use super::support::*;

#[tokio::test]
async fn an_approval_de_tokenises_and_every_rule_declines_with_its_reason() {
    let h = harness().await;
    let net = network(&h, "net-a").await;
    let t = active_token(&h).await;

    let (s, v) = authorize(&h, &net, &t.request(1, 1250, "CONTACTLESS")).await;
    assert_eq!((s, outcome(&v)), (StatusCode::OK, approved()), "{v}");
    assert_eq!(v["pan"], PAN, "the funding PAN, to the network");
    assert_eq!(
        (v["exp_month"].as_u64(), v["exp_year"].as_u64()),
        (Some(12), Some(2030))
    );
    assert_eq!(v["token_ref_id"], t.token_ref_id.as_str());
    assert!(v["account_ref"].as_str().unwrap().starts_with("ar_"));
    assert!(v["authorization_id"].as_str().unwrap().starts_with("au_"));

    let declines: Vec<(Value, &str)> = vec![
        (t.request(1, 1250, "CONTACTLESS"), "atc_replayed"),
        (
            t.request_signed(2, 9999, 1250, "CONTACTLESS"),
            "cryptogram_invalid",
        ),
        (t.request(3, 1250, "ECOMMERCE"), "channel_not_allowed"),
        (
            {
                let mut r = t.request(4, 1250, "CONTACTLESS");
                r["exp_year"] = json!(2031);
                r
            },
            "unknown_token",
        ),
        (
            {
                let mut r = t.request(4, 1250, "CONTACTLESS");
                r["token_pan"] = json!("4895370000000000");
                r
            },
            "unknown_token",
        ),
    ];
    for (req, reason) in declines {
        let (s, v) = authorize(&h, &net, &req).await;
        assert_eq!((s, outcome(&v)), (StatusCode::OK, declined(reason)), "{v}");
        assert!(v.get("pan").is_none(), "{v}");
        assert!(!v.to_string().contains(PAN));
    }
    // In app pays too; the declined ATC 2 (bad cryptogram) is still free for the device.
    let (_, v) = authorize(&h, &net, &t.request(2, 1250, "IN_APP")).await;
    assert_eq!(outcome(&v), approved(), "{v}");

    // Suspended by its issuer: declined; resumed: pays again with the next ATC.
    let path = format!("/v1/tokens/{}", t.token_ref_id);
    let reason = json!({"reason": "LOST"}).to_string().into_bytes();
    let (s, _) = call(
        &h.app,
        "POST",
        &format!("{path}/suspend"),
        Some(&h.issuer_api_key),
        reason,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let while_suspended = t.request(5, 1250, "CONTACTLESS");
    let (_, v) = authorize(&h, &net, &while_suspended).await;
    assert_eq!(outcome(&v), declined("token_not_active"));
    let reason = json!({"reason": "FOUND"}).to_string().into_bytes();
    let (s, _) = call(
        &h.app,
        "POST",
        &format!("{path}/resume"),
        Some(&h.issuer_api_key),
        reason,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The cryptogram made while it was suspended used up its ATC: it is not approved now.
    let (_, v) = authorize(&h, &net, &while_suspended).await;
    assert_eq!(outcome(&v), declined("atc_replayed"));
    let (_, v) = authorize(&h, &net, &t.request(6, 1250, "CONTACTLESS")).await;
    assert_eq!(outcome(&v), approved());

    // The token's view counts its authorisations.
    let (s, v) = call(&h.app, "GET", &path, Some(&h.wallet_key), vec![], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["authorizations"]["approved"], 3, "{v}");
    assert_eq!(v["authorizations"]["declined"], 5, "{v}");
    assert_eq!(v["authorizations"]["last_at"], h.clock.now());
}

#[tokio::test]
async fn an_atc_far_behind_the_highest_approved_and_an_expired_token_are_declined() {
    let mut config = provisio_tsp::TspConfig::default();
    config.payments.atc_window = 10;
    let h = harness_with(config).await;
    let net = network(&h, "net-a").await;
    let t = active_token(&h).await;
    let (_, v) = authorize(&h, &net, &t.request(50, 100, "CONTACTLESS")).await;
    assert_eq!(outcome(&v), approved());
    let (_, v) = authorize(&h, &net, &t.request(40, 100, "CONTACTLESS")).await;
    assert_eq!(outcome(&v), approved(), "10 behind is inside the window");
    let (_, v) = authorize(&h, &net, &t.request(39, 100, "CONTACTLESS")).await;
    assert_eq!(outcome(&v), declined("atc_replayed"), "11 behind is not");
    // Past the token's expiry (36 months from now by default) nothing pays.
    h.clock.advance(40 * 31 * 86_400);
    let (_, v) = authorize(&h, &net, &t.request(51, 100, "CONTACTLESS")).await;
    assert_eq!(outcome(&v), declined("token_expired"));
}

#[tokio::test]
async fn ecommerce_pays_where_configured() {
    let mut config = provisio_tsp::TspConfig::default();
    config.payments.ecommerce = true;
    let h = harness_with(config).await;
    let net = network(&h, "net-a").await;
    let t = active_token(&h).await;
    let (_, v) = authorize(&h, &net, &t.request(1, 100, "ECOMMERCE")).await;
    assert_eq!(outcome(&v), approved());
}

#[tokio::test]
async fn malformed_fields_are_400_and_never_echo_the_token_pan() {
    let h = harness().await;
    let net = network(&h, "net-a").await;
    let t = active_token(&h).await;
    let good = t.request(1, 1250, "CONTACTLESS");
    let cases: Vec<(&str, Value)> = vec![
        ("cryptogram", json!("00112233")),
        ("cryptogram", json!("zz112233445566778")),
        ("atc", json!(0)),
        ("atc", json!(70_000)),
        ("atc", json!("1")),
        ("amount_minor", json!(-5)),
        ("amount_minor", json!(1_000_000_000_000u64)),
        ("currency", json!("EUR")),
        ("transaction_date", json!("261332")),
        ("unpredictable_number", json!("1234")),
        ("channel", json!("NFC")),
        ("token_pan", json!(4_895_370_000_000_001u64)),
        ("token_pan", json!("48953700x")),
    ];
    for (field, value) in cases {
        let mut req = good.clone();
        req[field] = value;
        let (s, v) = authorize(&h, &net, &req).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{field}: {v}"
        );
        assert!(!v.to_string().contains(&t.access.token_pan), "{v}");
        assert!(!v.to_string().contains("4895370000000001"), "{v}");
    }
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/network/authorizations",
        Some(&net),
        b"{not json".to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let mut extra = good.clone();
    extra["cvv"] = json!("123");
    let (s, _) = authorize(&h, &net, &extra).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown members are refused");
    // None of it consumed the ATC.
    let (_, v) = authorize(&h, &net, &good).await;
    assert_eq!(outcome(&v), approved());
}

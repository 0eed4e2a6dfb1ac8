//! The issuer's card-level changes and card reissue (docs/protocol.md §15.3).

use super::support::*;
use axum::http::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_issuer_changes_every_token_of_a_card_and_relinks_them_on_reissue() {
    let h = harness().await;
    let other_issuer = register_other_issuer(&h).await;
    let a = token_id(&push_on(&h, &h.wallet, "device-a").await);
    h.clock.advance(1);
    let b = token_id(&push_on(&h, &h.wallet, "device-b").await);
    let card_call = async |key: &str, what: &str, body: Value| {
        send(&h, "POST", &format!("/v1/cards/{what}"), key, body).await
    };

    // Only the card's issuer reaches its tokens.
    let (s, v) = card_call(
        &h.wallet_key,
        "suspend",
        json!({"pan": PAN, "reason": "LOST"}),
    )
    .await;
    assert_eq!((s, problem(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = card_call(
        &other_issuer,
        "suspend",
        json!({"pan": PAN, "reason": "LOST"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(ids(&v).is_empty(), "{v}");
    let (s, v) = card_call(
        &h.issuer_api_key,
        "suspend",
        json!({"pan": PAN, "reason": "LOSTISH"}),
    )
    .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    for id in [&a, &b] {
        assert_eq!(get_token(&h, ADMIN, id).await.1["status"], "ACTIVE");
    }

    let (s, v) = card_call(
        &h.issuer_api_key,
        "suspend",
        json!({"pan": PAN, "reason": "STOLEN"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str()]);
    for id in [&a, &b] {
        let (_, t) = get_token(&h, &h.wallet_key, id).await;
        assert_eq!(t["status"], "SUSPENDED");
        assert_eq!(last_entry(&t), entry("SUSPENDED", "STOLEN", "ISSUER"));
        let (s, v) = change(&h, &h.wallet_key, id, "resume", "FOUND").await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "the issuer's suspension"
        );
    }

    // Reissued with a new number and expiry: the same tokens, still suspended, under the new PAN.
    let new = new_pan();
    let reissue = json!({"pan": PAN, "new_pan": new, "exp_month": 3, "exp_year": 2033});
    let (s, v) = card_call(&h.issuer_api_key, "reissue", reissue).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str()]);
    assert!(!v.to_string().contains(&new) && !v.to_string().contains(PAN));
    assert!(
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "SUSPENDED")
    );
    let (_, found) = search(&h, &h.issuer_api_key, json!({"pan": new})).await;
    assert_eq!(ids(&found), [a.as_str(), b.as_str()]);
    let (_, old) = search(&h, &h.issuer_api_key, json!({"pan": PAN})).await;
    assert!(
        ids(&old).is_empty(),
        "nothing is left under the old PAN: {old}"
    );
    for id in [&a, &b] {
        let (_, t) = get_token(&h, ADMIN, id).await;
        assert_eq!(t["status"], "SUSPENDED");
        assert_eq!(t["history"].as_array().unwrap().len(), 3);
        assert_eq!(last_entry(&t), entry("SUSPENDED", "OTHER", "ISSUER"));
        // The token now draws on the new card.
        let record = h.state.store.token(id).await.unwrap().unwrap();
        let aad = format!("token:{id}:pan");
        let pan = h
            .state
            .keys
            .vault()
            .open(&h.crypto, &record.pan, aad.as_bytes())
            .unwrap();
        assert_eq!(pan.expose(), new.as_bytes());
    }

    // The new card is the same account, already on these devices.
    let reissued = provisio_apps::CardDetails {
        pan: provisio_types::Pan::parse(&new).unwrap(),
        exp_month: 3,
        exp_year: 2033,
        ..card()
    };
    let (s, v) = h
        .push(&request_for(&h, &h.wallet, "device-a", &reissued))
        .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::CONFLICT, "already_in_wallet"),
        "{v}"
    );
    assert_eq!(v["token_ref_id"], a.as_str());
    h.clock.advance(1);
    let (s, v) = h
        .push(&request_for(&h, &h.wallet, "device-c", &reissued))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let c = token_id(&v["token"]);
    assert_eq!(
        v["token"]["account_ref"],
        get_token(&h, ADMIN, &a).await.1["account_ref"],
        "the account reference survives the reissue"
    );

    // The card-level changes now go by the new PAN.
    let (s, v) = card_call(
        &h.issuer_api_key,
        "resume",
        json!({"pan": new, "reason": "FOUND"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "ACTIVE"),
        "{v}"
    );
    let bad = json!({"pan": new, "new_pan": "4000123456789018", "exp_month": 3, "exp_year": 2033});
    let (s, v) = card_call(&h.issuer_api_key, "reissue", bad).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let bad = json!({"pan": new, "exp_month": 13, "exp_year": 2033});
    let (s, v) = card_call(&h.issuer_api_key, "reissue", bad).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, v) = card_call(
        &h.issuer_api_key,
        "delete",
        json!({"pan": new, "reason": "ACCOUNT_CLOSED"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str(), c.as_str()]);
    assert!(
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "DELETED"),
        "{v}"
    );
    let (_, found) = search(&h, &h.issuer_api_key, json!({"pan": new})).await;
    assert!(ids(&found).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 7. Events: signed, retried, in order
// ---------------------------------------------------------------------------------------------

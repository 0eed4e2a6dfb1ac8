//! Reading and searching tokens as each participant (docs/protocol.md §15.2).

use super::support::*;
use axum::http::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_token_is_read_by_its_issuer_wallet_and_admin_and_unknown_to_everyone_else() {
    let h = harness().await;
    let other_issuer = register_other_issuer(&h).await;
    let other_wallet = register_other_wallet(&h).await;
    let pushed = push_on(&h, &h.wallet, "device-1").await;
    let id = token_id(&pushed);

    let mut seen = Vec::new();
    for key in [&h.issuer_api_key, &h.wallet_key, &ADMIN.to_owned()] {
        let (s, v) = get_token(&h, key, &id).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["token_ref_id"], id.as_str());
        assert_eq!(v["status"], "ACTIVE");
        assert_eq!(v["issuer_id"], "bank-a");
        assert_eq!(v["token_requestor_id"], TRID);
        assert_eq!(v["wallet_user_id"], "user-1");
        assert_eq!(v["device_id"], "device-1");
        assert_eq!(v["last4"], pushed["last4"]);
        assert_eq!(v["account_ref"], pushed["account_ref"]);
        let account_ref = v["account_ref"].as_str().unwrap();
        assert!(account_ref.starts_with("ar_"), "{account_ref}");
        assert!(v["created_at"].as_i64().unwrap() > 0);
        let history = v["history"].as_array().unwrap();
        assert_eq!(history.len(), 1, "the creation: {v}");
        assert_eq!(history[0]["status"], "ACTIVE");
        for k in ["reason", "actor", "at"] {
            assert!(!history[0][k].is_null(), "history entry without {k}: {v}");
        }
        let body = v.to_string();
        assert!(!body.contains(PAN), "no PAN in {body}");
        assert!(!body.contains(&PAN[..12]), "no part of the PAN in {body}");
        assert!(v.get("pan").is_none() && v.get("token_pan").is_none());
        seen.push(v);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "every reader sees the same token"
    );

    // Not the caller's is the same answer as does not exist.
    let (s, missing) = get_token(&h, &h.issuer_api_key, "tr_does_not_exist").await;
    assert_eq!(
        (s, problem(&missing)),
        (StatusCode::NOT_FOUND, "unknown_token")
    );
    for key in [&other_issuer, &other_wallet] {
        let (s, v) = get_token(&h, key, &id).await;
        assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
        assert_eq!(v, missing, "a foreign token is indistinguishable from none");
        // Nor may they change it, with the same answer.
        let (s, v) = change(&h, key, &id, "suspend", "FRAUD").await;
        assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
    }
    let (s, v) = change(
        &h,
        &h.issuer_api_key,
        "tr_does_not_exist",
        "suspend",
        "FRAUD",
    )
    .await;
    assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
    assert_eq!(
        history_len(&h, &id).await,
        1,
        "the refused changes left no trace"
    );

    let (s, _) = call(
        &h.app,
        "GET",
        &format!("/v1/tokens/{id}"),
        None,
        vec![],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// 2. Search
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn search_finds_the_callers_live_tokens_by_card_or_by_wallet() {
    let h = harness().await;
    let other_issuer = register_other_issuer(&h).await;
    let other_wallet = register_other_wallet(&h).await;
    let user2 = second_user(&h);
    // A second apart: answers list the oldest first.
    let a = token_id(&push_on(&h, &h.wallet, "device-a").await);
    h.clock.advance(1);
    let b = token_id(&push_on(&h, &h.wallet, "device-b").await);
    h.clock.advance(1);
    let c = token_id(&push_on(&h, &user2, "device-c").await);

    // An issuer by PAN, in the body.
    let (s, v) = search(&h, &h.issuer_api_key, json!({ "pan": PAN })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str(), c.as_str()]);
    assert!(!v.to_string().contains(PAN));
    assert!(
        v["tokens"][0]["history"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
    let (_, v) = search(&h, &other_issuer, json!({ "pan": PAN })).await;
    assert!(ids(&v).is_empty(), "another issuer's card tokens: {v}");

    // A token requestor by user, by device, by both.
    let wallet = |body: Value| search(&h, &h.wallet_key, body);
    assert_eq!(
        ids(&wallet(json!({"wallet_user_id": "user-1"})).await.1),
        [a.as_str(), b.as_str()]
    );
    assert_eq!(
        ids(&wallet(json!({"wallet_user_id": "user-2"})).await.1),
        [c.as_str()]
    );
    assert_eq!(
        ids(&wallet(json!({"device_id": "device-b"})).await.1),
        [b.as_str()]
    );
    let both = json!({"wallet_user_id": "user-2", "device_id": "device-c"});
    assert_eq!(ids(&wallet(both).await.1), [c.as_str()]);
    let crossed = json!({"wallet_user_id": "user-1", "device_id": "device-c"});
    assert!(ids(&wallet(crossed).await.1).is_empty());
    let (_, v) = search(&h, &other_wallet, json!({"wallet_user_id": "user-1"})).await;
    assert!(ids(&v).is_empty(), "another wallet's tokens: {v}");

    // Each role searches its own way.
    for (key, body) in [
        (
            &h.issuer_api_key,
            json!({"pan": PAN, "wallet_user_id": "user-1"}),
        ),
        (&h.issuer_api_key, json!({"device_id": "device-a"})),
        (&h.issuer_api_key, json!({})),
        (&h.wallet_key, json!({"pan": PAN})),
        (&h.wallet_key, json!({"pan": PAN, "device_id": "device-a"})),
        (&h.wallet_key, json!({})),
        (&h.issuer_api_key, json!({"pan": "4000123456789018"})),
    ] {
        let (s, v) = search(&h, key, body.clone()).await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{body}"
        );
        assert!(!v.to_string().contains(PAN), "the PAN is never echoed: {v}");
    }
    // The PAN goes in the body only: one in the query string is not read.
    let (s, v) = call(
        &h.app,
        "POST",
        &format!("/v1/tokens/search?pan={PAN}"),
        Some(&h.issuer_api_key),
        b"{}".to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/tokens/search",
        Some(&h.wallet_key),
        b"{nope".to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );

    // A deleted token leaves the searches but is still read, as DELETED.
    let (s, v) = change(&h, &h.wallet_key, &b, "delete", "CUSTOMER_REQUEST").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        ids(&search(&h, &h.issuer_api_key, json!({"pan": PAN})).await.1),
        [a.as_str(), c.as_str()]
    );
    assert_eq!(
        ids(&wallet(json!({"wallet_user_id": "user-1"})).await.1),
        [a.as_str()]
    );
    assert!(ids(&wallet(json!({"device_id": "device-b"})).await.1).is_empty());
    let (s, v) = get_token(&h, &h.issuer_api_key, &b).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("DELETED")));
    assert_eq!(
        last_entry(&v),
        entry("DELETED", "CUSTOMER_REQUEST", "TOKEN_REQUESTOR")
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The state machine over HTTP
// ---------------------------------------------------------------------------------------------

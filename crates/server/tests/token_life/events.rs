//! Signed events to a real HTTP receiver: order, retries, dead letters and re-drive
//! (docs/protocol.md §15.5).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::support::*;
use axum::http::StatusCode;
use provisio_server::{MemorySink, spawn_delivery};
use serde_json::{Value, json};

#[tokio::test]
async fn events_are_signed_retried_until_accepted_and_arrive_in_order() {
    let h = harness_with(config_with_events(12)).await;
    let (rx, url) = Receiver::start(3).await;
    let (s, v) = set_url(&h, ADMIN, "issuers", "bank-a", &url).await;
    assert_eq!(
        (s, v["url"].as_str()),
        (StatusCode::OK, Some(url.as_str())),
        "{v}"
    );
    // The wallet hears of the same changes, at its own URL.
    let (wallet_rx, wallet_url) = Receiver::start(0).await;
    let (s, _) = set_url(&h, ADMIN, "token-requestors", TRID, &wallet_url).await;
    assert_eq!(s, StatusCode::OK);
    let _deliverer = spawn_delivery(h.state.clone(), Arc::new(MemorySink::default()));

    let id = token_id(&push_on(&h, &h.wallet, "device-1").await);
    for (action, reason) in [
        ("suspend", "LOST"),
        ("resume", "FOUND"),
        ("delete", "CUSTOMER_REQUEST"),
    ] {
        let (s, v) = change(&h, &h.issuer_api_key, &id, action, reason).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    let jwks = published_keys(&h).await;
    eventually(&h, 1, "four events accepted by each party", || {
        let n = distinct_events(&h, &jwks, &rx.accepted()).len();
        let m = distinct_events(&h, &jwks, &wallet_rx.accepted()).len();
        async move { n == 4 && m == 4 }
    })
    .await;

    let posts = rx.posts();
    assert!(
        posts.iter().take(3).all(|p| !p.accepted),
        "the first three POSTs failed"
    );
    assert!(
        posts.len() >= 7,
        "three failures and four deliveries: {}",
        posts.len()
    );
    // Every POST (failed ones too) is a signed event; first copies arrive in sequence order.
    let arrived = distinct_events(&h, &jwks, &posts);
    let seqs: Vec<u64> = arrived
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4], "in order, from 1");

    let events = distinct_events(&h, &jwks, &rx.accepted());
    let summary: Vec<(String, String, String, String, u64)> = events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (
                s("type"),
                s("status"),
                s("reason"),
                s("actor"),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect =
        |t: &str, st: &str, r: &str, a: &str, n| (t.into(), st.into(), r.into(), a.into(), n);
    assert_eq!(
        summary,
        [
            expect("TOKEN_CREATED", "ACTIVE", "OTHER", "SYSTEM", 1),
            expect("TOKEN_SUSPENDED", "SUSPENDED", "LOST", "ISSUER", 2),
            expect("TOKEN_RESUMED", "ACTIVE", "FOUND", "ISSUER", 3),
            expect("TOKEN_DELETED", "DELETED", "CUSTOMER_REQUEST", "ISSUER", 4),
        ]
    );
    for e in &events {
        assert_eq!(e["token_ref_id"], id.as_str());
        assert!(e["event_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(e["occurred_at"].as_i64().is_some());
    }
    let distinct: HashSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(distinct.len(), 4, "one event_id per change");
    let wallet_events = distinct_events(&h, &jwks, &wallet_rx.accepted());
    assert_eq!(
        wallet_events, events,
        "the wallet gets the same events, in the same order"
    );
    assert!(dead_events(&h).await.is_empty());
}

#[tokio::test]
async fn a_passed_step_up_is_told_as_the_tokens_activation() {
    let h = harness_of(config_with_events(12), true).await;
    let (rx, url) = Receiver::start(0).await;
    assert_eq!(
        set_url(&h, ADMIN, "issuers", "bank-a", &url).await.0,
        StatusCode::OK
    );
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    let pv = step_up_push(&h, "device-s").await;
    let id = pv["token"]["token_ref_id"].as_str().unwrap().to_owned();
    let provisioning = pv["provisioning_id"].as_str().unwrap();
    let body = json!({"method_id": pv["step_up"]["methods"][0]["method_id"], "wallet_user_id": "user-1", "device_id": "device-s"});
    let path = format!("/v1/provisionings/{provisioning}/step-up/otp");
    let (s, sent) = send(&h, "POST", &path, &h.wallet_key, body).await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let code = nth_code(&sink, 0).await;
    let body = json!({"otp_id": sent["otp_id"], "code": code, "wallet_user_id": "user-1", "device_id": "device-s"});
    let path = format!("/v1/provisionings/{provisioning}/step-up/verify");
    let (s, v) = send(&h, "POST", &path, &h.wallet_key, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token"]["account_ref"], pv["token"]["account_ref"]);

    let (_, t) = get_token(&h, &h.issuer_api_key, &id).await;
    let statuses: Vec<&str> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["INACTIVE", "ACTIVE"]);
    assert_eq!(last_entry(&t), entry("ACTIVE", "OTHER", "SYSTEM"));

    let jwks = published_keys(&h).await;
    eventually(&h, 1, "creation and activation told", || {
        let n = distinct_events(&h, &jwks, &rx.accepted()).len();
        async move { n == 2 }
    })
    .await;
    let events = distinct_events(&h, &jwks, &rx.accepted());
    let told: Vec<(&str, &str, u64)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        told,
        [
            ("TOKEN_CREATED", "INACTIVE", 1),
            ("TOKEN_ACTIVATED", "ACTIVE", 2)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Dead letters and re-drive
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_undeliverable_event_is_dead_lettered_and_redriven() {
    let h = harness_with(config_with_events(2)).await;
    let (rx, url) = Receiver::start(0).await;
    rx.fail_forever();
    let _deliverer = spawn_delivery(h.state.clone(), Arc::new(MemorySink::default()));
    // The URL is set after the push: the suspension is the issuer's only event.
    let id = token_id(&push_on(&h, &h.wallet, "device-1").await);
    assert_eq!(
        set_url(&h, ADMIN, "issuers", "bank-a", &url).await.0,
        StatusCode::OK
    );
    let (s, _) = change(&h, &h.issuer_api_key, &id, "suspend", "FRAUD").await;
    assert_eq!(s, StatusCode::OK);

    let mut dead = Vec::new();
    for _ in 0..400 {
        dead = dead_events(&h).await;
        if !dead.is_empty() {
            break;
        }
        h.clock.advance(1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d["ordering_key"], format!("issuer:bank-a:{id}").as_str());
    assert_eq!(d["sequence"], 2);
    assert_eq!(d["attempts"], 2);
    assert!(d["last_error"].as_str().unwrap().contains("500"), "{d}");
    assert_eq!(rx.posts().len(), 2, "max_attempts POSTs, then no more");
    assert!(
        text(&h.app, "/metrics")
            .await
            .lines()
            .any(|l| l == "provisio_token_events_dead 1")
    );
    // Dead means not retried, however much time passes.
    for _ in 0..3 {
        h.clock.advance(3600);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.posts().len(), 2);

    let message_id = d["message_id"].as_str().unwrap().to_owned();
    let redrive = async |key: &str, message_id: &str| {
        let path = format!("/v1/admin/events/{message_id}/redrive");
        send(&h, "POST", &path, key, Value::Null).await
    };
    let (s, _) = redrive(&h.issuer_api_key, &message_id).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = send(
        &h,
        "GET",
        "/v1/admin/events/dead",
        &h.issuer_api_key,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    rx.succeed();
    let (s, v) = redrive(ADMIN, &message_id).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let jwks = published_keys(&h).await;
    eventually(&h, 1, "the re-driven event accepted", || {
        let n = rx.accepted().len();
        async move { n >= 1 }
    })
    .await;
    let events = distinct_events(&h, &jwks, &rx.accepted());
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0]["type"].as_str(),
            events[0]["sequence"].as_u64(),
            events[0]["reason"].as_str()
        ),
        (Some("TOKEN_SUSPENDED"), Some(2), Some("FRAUD"))
    );
    assert!(dead_events(&h).await.is_empty());
    assert!(
        text(&h.app, "/metrics")
            .await
            .lines()
            .any(|l| l == "provisio_token_events_dead 0")
    );

    let (s, v) = redrive(ADMIN, &message_id).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::NOT_FOUND, "unknown_event"),
        "delivered, not dead"
    );
    let (s, v) = redrive(ADMIN, "ob_unknown").await;
    assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_event"));
}

// ---------------------------------------------------------------------------------------------
// 9. Pending tokens expire
// ---------------------------------------------------------------------------------------------

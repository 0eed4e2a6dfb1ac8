//! The sweep of pending tokens and the notification settings (docs/protocol.md §15.4,
//! §15.5).

use std::sync::Arc;

use super::support::*;
use axum::http::StatusCode;
use provisio_server::{MemorySink, spawn_delivery, sweep_pending};
use provisio_tsp::TspConfig;
use serde_json::json;

#[tokio::test]
async fn the_sweep_deletes_expired_pending_tokens_and_closes_their_step_up() {
    let ttl = 300;
    let h = harness_of(
        TspConfig {
            pending_token_ttl_s: ttl,
            ..TspConfig::default()
        },
        true,
    )
    .await;
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    let pv = step_up_push(&h, "device-p").await;
    let pending = pv["token"]["token_ref_id"].as_str().unwrap().to_owned();
    let provisioning = pv["provisioning_id"].as_str().unwrap().to_owned();
    let active = token_id(&push_on(&h, &h.wallet, "device-a").await);

    let otp_path = format!("/v1/provisionings/{provisioning}/step-up/otp");
    let otp_body = json!({"method_id": pv["step_up"]["methods"][0]["method_id"], "wallet_user_id": "user-1", "device_id": "device-p"});
    let (s, sent) = send(&h, "POST", &otp_path, &h.wallet_key, otp_body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let code = nth_code(&sink, 0).await;

    // Not yet expired: the sweep leaves it.
    h.clock.advance(ttl - 10);
    sweep_pending(&h.state).await.unwrap();
    assert_eq!(get_token(&h, ADMIN, &pending).await.1["status"], "INACTIVE");
    // A pending token pushed just now is not expired either.
    h.clock.advance(20);
    let fresh = step_up_push(&h, "device-q").await;
    let fresh = fresh["token"]["token_ref_id"].as_str().unwrap().to_owned();

    let found = sweep_pending(&h.state).await.unwrap();
    assert_eq!(found, 1);
    let (_, t) = get_token(&h, ADMIN, &pending).await;
    assert_eq!(t["status"], "DELETED", "{t}");
    assert_eq!(last_entry(&t), entry("DELETED", "OTHER", "SYSTEM"));
    assert_eq!(t["history"].as_array().unwrap().len(), 2);
    assert_eq!(get_token(&h, ADMIN, &fresh).await.1["status"], "INACTIVE");
    assert_eq!(
        get_token(&h, ADMIN, &active).await.1["status"],
        "ACTIVE",
        "an active token is never swept"
    );
    let (_, listed) = search(&h, &h.wallet_key, json!({"device_id": "device-p"})).await;
    assert!(ids(&listed).is_empty());

    // The step-up is closed: no code is sent, and the one sent before is not accepted.
    let (s, v) = send(&h, "POST", &otp_path, &h.wallet_key, otp_body).await;
    assert!(
        [StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(&s)
            && ["step_up_not_pending", "step_up_locked"].contains(&problem(&v)),
        "{s} {v}"
    );
    let verify = json!({"otp_id": sent["otp_id"], "code": code, "wallet_user_id": "user-1", "device_id": "device-p"});
    let (s, v) = send(
        &h,
        "POST",
        &format!("/v1/provisionings/{provisioning}/step-up/verify"),
        &h.wallet_key,
        verify,
    )
    .await;
    assert!(s.is_client_error() && s != StatusCode::NOT_FOUND, "{s} {v}");
    assert!(
        ["step_up_not_pending", "step_up_locked"].contains(&problem(&v)),
        "{v}"
    );
    assert_eq!(get_token(&h, ADMIN, &pending).await.1["status"], "DELETED");

    // Much later, still only pending tokens go.
    h.clock.advance(10 * ttl);
    assert_eq!(
        sweep_pending(&h.state).await.unwrap(),
        1,
        "the fresh one, now expired"
    );
    assert_eq!(get_token(&h, ADMIN, &fresh).await.1["status"], "DELETED");
    assert_eq!(get_token(&h, ADMIN, &active).await.1["status"], "ACTIVE");
    assert_eq!(sweep_pending(&h.state).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// 10. Notification settings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn notification_urls_are_https_or_loopback_for_known_participants_set_by_the_admin() {
    let h = harness().await;
    for participants in ["issuers", "token-requestors"] {
        let id = if participants == "issuers" {
            "bank-a"
        } else {
            TRID
        };
        for bad in [
            "http://example.com/events",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            let (s, v) = set_url(&h, ADMIN, participants, id, bad).await;
            assert_eq!(
                (s, problem(&v)),
                (StatusCode::BAD_REQUEST, "malformed_request"),
                "{bad}"
            );
        }
        let (s, v) = set_url(&h, ADMIN, participants, "nobody", "https://example.com/e").await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{v}"
        );
        for key in [&h.issuer_api_key, &h.wallet_key] {
            let (s, v) = set_url(&h, key, participants, id, "https://example.com/e").await;
            assert_eq!(
                (s, problem(&v)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{v}"
            );
        }
        for good in [
            "https://example.com/e",
            "http://127.0.0.1:9/e",
            "http://localhost/e",
        ] {
            let (s, v) = set_url(&h, ADMIN, participants, id, good).await;
            assert_eq!((s, v["url"].as_str()), (StatusCode::OK, Some(good)), "{v}");
        }
        let path = format!("/v1/admin/{participants}/{id}/notifications");
        let (s, v) = send(&h, "PUT", &path, ADMIN, json!({"url": null})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = send(
            &h,
            "PUT",
            &path,
            ADMIN,
            json!({"uri": "https://example.com/e"}),
        )
        .await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request")
        );
    }
    let stored = h
        .state
        .store
        .notification_url(provisio_store::Role::Issuer, "bank-a")
        .await
        .unwrap();
    assert_eq!(stored, None, "the last PUT removed it");
}

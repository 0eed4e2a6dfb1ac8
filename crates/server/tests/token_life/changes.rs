//! The state machine and its refusals, concurrent changes, and "already in wallet"
//! (docs/protocol.md §15.1, §15.3).

use std::time::Duration;

use super::support::*;
use axum::http::StatusCode;
use provisio_tsp::records::TokenStatus;
use serde_json::json;

#[tokio::test]
async fn suspend_resume_and_delete_follow_the_state_machine_and_refusals_change_nothing() {
    let h = harness().await;
    let id = token_id(&push_on(&h, &h.wallet, "device-1").await);
    let issuer = h.issuer_api_key.clone();
    let wallet = h.wallet_key.clone();

    // Each refusal: its status and code, and the token as it was.
    let refused = async |key: &str, action: &str, reason: &str, status: StatusCode, code: &str| {
        let before = get_token(&h, ADMIN, &id).await.1;
        let (s, v) = change(&h, key, &id, action, reason).await;
        assert_eq!((s, problem(&v)), (status, code), "{action} {reason}: {v}");
        assert_eq!(
            get_token(&h, ADMIN, &id).await.1,
            before,
            "{action} changed the token"
        );
    };

    refused(
        &issuer,
        "resume",
        "FOUND",
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    refused(
        &issuer,
        "suspend",
        "MISPLACED",
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
    refused(
        &issuer,
        "suspend",
        "lost",
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
    for body in [
        &b"{\"reason\": "[..],
        b"",
        b"{}",
        b"{\"reason\": 3}",
        b"{\"reason\": \"LOST\", \"x\": 1}",
    ] {
        let (s, v) = call(
            &h.app,
            "POST",
            &format!("/v1/tokens/{id}/suspend"),
            Some(&issuer),
            body.to_vec(),
            None,
        )
        .await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(history_len(&h, &id).await, 1);

    // The issuer suspends; only the issuer or the admin lifts it.
    let (s, v) = change(&h, &issuer, &id, "suspend", "LOST").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "SUSPENDED");
    assert_eq!(last_entry(&v), entry("SUSPENDED", "LOST", "ISSUER"));
    assert_eq!(
        v,
        get_token(&h, ADMIN, &id).await.1,
        "the answer is the stored token"
    );
    refused(
        &issuer,
        "suspend",
        "LOST",
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    refused(
        &wallet,
        "resume",
        "FOUND",
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let (s, v) = change(&h, ADMIN, &id, "resume", "FOUND").await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("ACTIVE")),
        "{v}"
    );
    assert_eq!(last_entry(&v), entry("ACTIVE", "FOUND", "ADMIN"));

    // The wallet lifts its own suspension.
    let (s, v) = change(&h, &wallet, &id, "suspend", "CUSTOMER_REQUEST").await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("SUSPENDED")),
        "{v}"
    );
    let (s, v) = change(&h, &wallet, &id, "resume", "CUSTOMER_REQUEST").await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("ACTIVE")),
        "{v}"
    );
    assert_eq!(
        last_entry(&v),
        entry("ACTIVE", "CUSTOMER_REQUEST", "TOKEN_REQUESTOR")
    );

    // Deleted is final, for every caller.
    let (s, v) = change(&h, &issuer, &id, "delete", "ACCOUNT_CLOSED").await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("DELETED")),
        "{v}"
    );
    assert_eq!(last_entry(&v), entry("DELETED", "ACCOUNT_CLOSED", "ISSUER"));
    let n = history_len(&h, &id).await;
    assert_eq!(n, 6);
    for key in [&issuer, &wallet, &ADMIN.to_owned()] {
        for action in ["suspend", "resume", "delete"] {
            refused(
                key,
                action,
                "OTHER",
                StatusCode::CONFLICT,
                "invalid_transition",
            )
            .await;
        }
    }
    assert_eq!(history_len(&h, &id).await, n);
    let statuses: Vec<String> = get_token(&h, ADMIN, &id).await.1["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        [
            "ACTIVE",
            "SUSPENDED",
            "ACTIVE",
            "SUSPENDED",
            "ACTIVE",
            "DELETED"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Concurrent changes
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_suspends_and_resumes_leave_a_gapless_consistent_history() {
    let h = harness().await;
    let id = token_id(&push_on(&h, &h.wallet, "device-1").await);
    // 20 tasks, half suspending and half resuming, each until its change applies once: they
    // race, and all of them finish only if the changes alternate (20 in all).
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, key, id) = (h.app.clone(), h.issuer_api_key.clone(), id.clone());
            let action = if i % 2 == 0 { "suspend" } else { "resume" };
            let path = format!("/v1/tokens/{id}/{action}");
            tokio::spawn(async move {
                for _ in 0..2000 {
                    let body = json!({"reason": "OTHER"}).to_string().into_bytes();
                    let (s, v) = call(&app, "POST", &path, Some(&key), body, None).await;
                    if s == StatusCode::OK {
                        return;
                    }
                    assert_eq!(s, StatusCode::CONFLICT, "{v}");
                    assert!(
                        ["invalid_transition", "token_conflict"].contains(&problem(&v)),
                        "{v}"
                    );
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                panic!("{action} never applied");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    let facts = h.state.store.token_facts(&id).await.unwrap().unwrap();
    let history = &facts.view.history;
    assert_eq!(
        history.len(),
        21,
        "the creation and one entry per applied change"
    );
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=history.len() as u64).collect();
    assert_eq!(seqs, expected, "no gaps, no duplicates");
    assert_eq!(facts.view.event_seq, history.len() as u64);
    assert_eq!(history[0].status, TokenStatus::Active);
    for w in history.windows(2) {
        let legal = matches!(
            (w[0].status, w[1].status),
            (TokenStatus::Active, TokenStatus::Suspended)
                | (TokenStatus::Suspended, TokenStatus::Active)
        );
        assert!(
            legal,
            "{:?} after {:?} (seq {})",
            w[1].status, w[0].status, w[1].seq
        );
    }
    assert_eq!(facts.view.status, history.last().unwrap().status);
    let (_, v) = get_token(&h, ADMIN, &id).await;
    assert_eq!(v["history"].as_array().unwrap().len(), history.len());
}

// ---------------------------------------------------------------------------------------------
// 5. Already in wallet
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_card_twice_on_one_device_is_already_in_wallet() {
    let h = harness().await;
    let first = push_on(&h, &h.wallet, "device-1").await;
    let first_id = token_id(&first);

    let (s, v) = h.push(&request_on(&h, &h.wallet, "device-1")).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::CONFLICT, "already_in_wallet"),
        "{v}"
    );
    assert_eq!(v["token_ref_id"], first_id.as_str());
    assert!(!v.to_string().contains(PAN));
    assert_eq!(h.token_count().await, 1, "no second token was minted");

    // Another device of the same wallet gets a token of its own, of the same account.
    let second = push_on(&h, &h.wallet, "device-2").await;
    assert_ne!(token_id(&second), first_id);
    assert_eq!(second["account_ref"], first["account_ref"]);
    assert!(first["account_ref"].as_str().unwrap().starts_with("ar_"));
    assert!(
        !first["account_ref"]
            .as_str()
            .unwrap()
            .contains(&PAN[PAN.len() - 4..])
    );
    assert_eq!(
        get_token(&h, ADMIN, &token_id(&second)).await.1["account_ref"],
        first["account_ref"]
    );

    // Once the first is deleted, the device may hold the card again.
    let (s, _) = change(&h, &h.wallet_key, &first_id, "delete", "CUSTOMER_REQUEST").await;
    assert_eq!(s, StatusCode::OK);
    let third = push_on(&h, &h.wallet, "device-1").await;
    assert_ne!(token_id(&third), first_id);
    assert_eq!(third["account_ref"], first["account_ref"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_of_one_card_to_one_device_make_one_token() {
    let h = harness().await;
    let requests: Vec<_> = (0..6)
        .map(|_| request_on(&h, &h.wallet, "device-1"))
        .collect();
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let (app, key) = (h.app.clone(), h.wallet_key.clone());
            tokio::spawn(async move {
                let body = serde_json::to_vec(&req).unwrap();
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
        })
        .collect();
    let mut minted = Vec::new();
    let mut pointed_to = Vec::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        if s == StatusCode::OK {
            minted.push(token_id(&v["token"]));
        } else {
            assert_eq!(
                (s, problem(&v)),
                (StatusCode::CONFLICT, "already_in_wallet"),
                "{v}"
            );
            pointed_to.push(v["token_ref_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(minted.len(), 1, "one push wins: {minted:?}");
    assert!(
        pointed_to.iter().all(|id| *id == minted[0]),
        "{pointed_to:?}"
    );
    assert_eq!(h.token_count().await, 1);
}

// ---------------------------------------------------------------------------------------------
// 6. Card-level changes and reissue
// ---------------------------------------------------------------------------------------------

//! Step-up by one-time code and installation scripts over the real router and SQLite: every
//! branch and every error code, the code accepted once under concurrency, and the limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{code as problem, *};
use provisio_server::{MemorySink, spawn_delivery};
use provisio_tsp::wire::WalletRiskInfo;
use serde_json::{Value, json};

impl Harness {
    async fn token(&self, token_ref_id: &str) -> provisio_store::TokenRecord {
        self.state.store.token(token_ref_id).await.unwrap().unwrap()
    }

    /// A push that the merge holds for step-up: the wallet's non-override 5 is below the
    /// service's level for a new account.
    async fn step_up_push(&self) -> Value {
        let mut req = self.request_with(|_| {});
        req.wallet_risk = Some(WalletRiskInfo::level(5, true));
        let (s, mut v) = self.push(&req).await;
        assert_eq!(
            (s, v["decision"].as_str()),
            (StatusCode::OK, Some("STEP_UP_REQUIRED")),
            "{v}"
        );
        // Kept for the step-up calls: each push of the card goes to a device of its own.
        v["device_id"] = json!(req.device_id);
        v
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        call(
            &self.app,
            "POST",
            path,
            Some(&self.wallet_key),
            body.to_string().into_bytes(),
            None,
        )
        .await
    }

    async fn send(&self, pv: &Value, method: usize) -> (StatusCode, Value) {
        let id = pv["provisioning_id"].as_str().unwrap();
        let body = json!({"method_id": pv["step_up"]["methods"][method]["method_id"], "wallet_user_id": "user-1", "device_id": pv["device_id"]});
        self.post(&format!("/v1/provisionings/{id}/step-up/otp"), body)
            .await
    }

    async fn verify(
        &self,
        pv: &Value,
        otp_id: &str,
        code: &str,
        user: &str,
    ) -> (StatusCode, Value) {
        let id = pv["provisioning_id"].as_str().unwrap();
        let body = json!({"otp_id": otp_id, "code": code, "wallet_user_id": user, "device_id": pv["device_id"]});
        self.post(&format!("/v1/provisionings/{id}/step-up/verify"), body)
            .await
    }
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn a_right_code_activates_the_token_and_the_script_makes_it_payment_ready() {
    let mut h = harness_stepping_up().await;
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    let pv = h.step_up_push().await;
    assert_eq!(pv["risk"]["merge_rule"], "non_override_service_higher");
    assert_eq!(pv["risk"]["final_level"], pv["risk"]["tsp_level"]);
    assert!(pv["risk"]["final_level"].as_u64().unwrap() > 5);
    assert_eq!(pv["token"]["status"], "INACTIVE");
    assert!(pv.get("access_data").is_none() && pv.get("script").is_none());
    let methods: Vec<(&str, &str)> = pv["step_up"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap(),
                m["destination"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("OTP_SMS", "***-***-0001"),
            ("OTP_EMAIL", "h***@example.com")
        ]
    );

    let (s, sent) = h.send(&pv, 0).await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["resends_left"], 3);
    let otp_id = sent["otp_id"].as_str().unwrap();
    let code = nth_code(&sink, 0).await;
    assert_eq!(sink.delivered()[0].to, "+15551230001");

    let (s, v) = h.verify(&pv, otp_id, &wrong(&code), "user-1").await;
    assert_eq!((s, problem(&v)), (StatusCode::BAD_REQUEST, "otp_invalid"));
    assert!(
        v["detail"].as_str().unwrap().contains("2 tries left"),
        "{v}"
    );
    assert!(
        !v.to_string().contains(&code),
        "the right code is never revealed"
    );
    let (s, v) = h.verify(&pv, otp_id, &code, "user-2").await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "another user's provisioning is answered as one that does not exist"
    );
    let (s, v) = h.verify(&pv, "otp_unknown", &code, "user-1").await;
    assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "not_found"));

    let (s, passed) = h.verify(&pv, otp_id, &code, "user-1").await;
    assert_eq!(s, StatusCode::OK, "{passed}");
    assert_eq!(passed["token"]["status"], "ACTIVE");
    let access = h
        .wallet
        .open_access_data(&h.crypto, passed["access_data"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        access.token_ref_id,
        pv["token"]["token_ref_id"].as_str().unwrap()
    );
    let (s, v) = h.verify(&pv, otp_id, &code, "user-1").await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::CONFLICT, "otp_used"),
        "a replayed code"
    );
    let (s, v) = h.send(&pv, 0).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::CONFLICT, "step_up_not_pending")
    );

    let token = h.token(&access.token_ref_id).await;
    assert_eq!(token.status.as_str(), "ACTIVE");
    assert_eq!(
        token.installed_at, None,
        "not payment-ready before the report"
    );

    let script = &passed["script"];
    assert_eq!(script["target"], "HCE");
    let id = pv["provisioning_id"].as_str().unwrap();
    let report = |script_id: &Value, steps: Value| json!({"script_id": script_id, "wallet_user_id": "user-1", "device_id": "device-1", "steps": steps});
    let path = format!("/v1/provisionings/{id}/script-report");
    let ok = |seq: u32| json!({"seq": seq, "result": "OK"});
    let (s, v) = h
        .post(&path, report(&script["script_id"], json!([ok(1), ok(2)])))
        .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "script_incomplete")
    );
    let (s, v) = h
        .post(
            &path,
            report(&json!("sc_other"), json!([ok(1), ok(2), ok(3)])),
        )
        .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "script_mismatch")
    );
    // Another wallet user's report is answered as for a provisioning with no script: the
    // provisioning's existence is not told.
    let mut theirs = report(&script["script_id"], json!([ok(1), ok(2), ok(3)]));
    theirs["wallet_user_id"] = json!("user-2");
    let (s_other, v_other) = h.post(&path, theirs).await;
    let (s_none, v_none) = h
        .post(
            "/v1/provisionings/pv_does_not_exist/script-report",
            report(&script["script_id"], json!([ok(1)])),
        )
        .await;
    assert_eq!(
        (s_other, problem(&v_other)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!((s_none, &v_none["detail"]), (s_other, &v_other["detail"]));
    let failed = json!([ok(1), {"seq": 2, "result": "FAILED"}, ok(3)]);
    let (s, v) = h.post(&path, report(&script["script_id"], failed)).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "script_incomplete")
    );
    assert_eq!(h.token(&access.token_ref_id).await.installed_at, None);
    // The wallet core runs the script and reports.
    let script_typed = serde_json::from_value(script.clone()).unwrap();
    let steps = h
        .wallet
        .install(
            &h.crypto,
            &script_typed,
            passed["access_data"].as_str().unwrap(),
        )
        .unwrap();
    let body = report(&script["script_id"], serde_json::to_value(&steps).unwrap());
    let (s, v) = h.post(&path, body.clone()).await;
    assert_eq!(
        (s, v["payment_ready"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    assert!(h.wallet.cards()[0].default);
    assert!(h.token(&access.token_ref_id).await.installed_at.is_some());
    let (s, _) = h.post(&path, body).await;
    assert_eq!(s, StatusCode::OK, "a repeated report gets the same answer");
}

#[tokio::test]
async fn expiry_tries_resends_and_lockout() {
    let h = harness_stepping_up().await;
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());

    // Expired after 10 minutes.
    let pv = h.step_up_push().await;
    let (_, sent) = h.send(&pv, 1).await;
    let code = nth_code(&sink, 0).await;
    assert_eq!(sink.delivered()[0].channel, "email");
    h.clock.advance(600);
    let (s, v) = h
        .verify(&pv, sent["otp_id"].as_str().unwrap(), &code, "user-1")
        .await;
    assert_eq!((s, problem(&v)), (StatusCode::BAD_REQUEST, "otp_expired"));
    // Three wrong tries spend a code.
    let (_, sent) = h.send(&pv, 0).await;
    let otp = sent["otp_id"].as_str().unwrap();
    let code = nth_code(&sink, 1).await;
    for _ in 0..3 {
        assert_eq!(
            problem(&h.verify(&pv, otp, &wrong(&code), "user-1").await.1),
            "otp_invalid"
        );
    }
    let (s, v) = h.verify(&pv, otp, &code, "user-1").await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "otp_tries_exhausted")
    );
    // One first code and three resends, then no more.
    assert_eq!(h.send(&pv, 0).await.1["resends_left"], 1);
    assert_eq!(h.send(&pv, 0).await.1["resends_left"], 0);
    let (s, v) = h.send(&pv, 0).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "otp_resend_limit")
    );
    let (s, v) = h
        .post(
            &format!(
                "/v1/provisionings/{}/step-up/otp",
                pv["provisioning_id"].as_str().unwrap()
            ),
            json!({"method_id": "sm_nope", "wallet_user_id": "user-1", "device_id": "device-1"}),
        )
        .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "unknown_method")
    );

    // Ten wrong codes in a row lock the step-up; then even the right code is refused.
    let pv = h.step_up_push().await;
    let mut wrong_total = 0;
    let mut last = None;
    'codes: for _ in 0..4 {
        let before = sink.delivered().len();
        let (_, sent) = h.send(&pv, 0).await;
        let code = nth_code(&sink, before).await;
        let otp = sent["otp_id"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            wrong_total += 1;
            let (s, v) = h.verify(&pv, &otp, &wrong(&code), "user-1").await;
            if problem(&v) == "step_up_locked" {
                assert_eq!(s, StatusCode::FORBIDDEN);
                last = Some((otp, code));
                break 'codes;
            }
            assert_eq!(problem(&v), "otp_invalid");
        }
    }
    assert_eq!(wrong_total, 10);
    let (otp, code) = last.unwrap();
    let (s, v) = h.verify(&pv, &otp, &code, "user-1").await;
    assert_eq!((s, problem(&v)), (StatusCode::FORBIDDEN, "step_up_locked"));
    let (s, v) = h.send(&pv, 0).await;
    assert_eq!((s, problem(&v)), (StatusCode::FORBIDDEN, "step_up_locked"));
    let token = h
        .state
        .store
        .token(pv["token"]["token_ref_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.status.as_str(), "INACTIVE");
    // The wrong codes (three on the first step-up, ten on this one) count once each, although
    // their provisionings are found by card, by device and by user alike.
    let signals = h
        .state
        .store
        .risk_signals(&provisio_store::SignalQuery {
            pan_hash: h.state.keys.vault().lookup_hash(&h.crypto, "pan", PAN),
            bin8: PAN[..8].to_owned(),
            device_id: "device-1".into(),
            token_requestor_id: TRID.into(),
            wallet_user_id: "user-1".into(),
            now: provisio_server::Clock::now(h.clock.as_ref()),
        })
        .await
        .unwrap();
    assert_eq!(signals.failed_step_ups, 13);
    // The failed step-ups now raise the service's level for this card and device.
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(5, false));
    let (_, v) = h.push(&req).await;
    let reasons: Vec<&str> = v["risk"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"failed_step_ups"), "{reasons:?}");
}

#[tokio::test]
async fn a_code_is_accepted_once_under_concurrent_verification() {
    let h = Arc::new(harness_stepping_up().await);
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    let pv = h.step_up_push().await;
    let (_, sent) = h.send(&pv, 0).await;
    let otp = sent["otp_id"].as_str().unwrap().to_owned();
    let code = nth_code(&sink, 0).await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (h, pv, otp, code) = (h.clone(), pv.clone(), otp.clone(), code.clone());
            tokio::spawn(async move { h.verify(&pv, &otp, &code, "user-1").await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        if s == StatusCode::OK {
            ok += 1;
        } else {
            assert!(
                ["otp_used", "step_up_not_pending", "step_up_conflict"].contains(&problem(&v)),
                "{v}"
            );
        }
    }
    assert_eq!(ok, 1, "exactly one verification passes");
}

#[tokio::test]
async fn approval_carries_a_script_and_lists_decide() {
    let h = harness_stepping_up().await;
    let (s, v) = h.push(&h.request_with(|_| {})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["decision"], "APPROVED");
    assert_eq!(v["risk"]["merge_rule"], "no_wallet_risk");
    assert!(!v["risk"]["policy_version"].as_str().unwrap().is_empty());
    let steps: Vec<&str> = v["script"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["op"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["STORE_TOKEN", "STORE_KEYS", "SET_DEFAULT"]);

    // A step-up with no contact to send a code to is a decline.
    let mut claims_req = h.request_with(|c| c.contact = None);
    claims_req.wallet_risk = Some(WalletRiskInfo::level(5, true));
    let (_, v) = h.push(&claims_req).await;
    assert_eq!(v["decision"], "DECLINED");
    assert!(
        v["risk"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "no_step_up_method")
    );

    // Block lists: a BIN, then the card.
    let admin = |body: Value| {
        call(
            &h.app,
            "POST",
            "/v1/admin/risk-lists",
            Some(ADMIN),
            body.to_string().into_bytes(),
            None,
        )
    };
    let (s, v) = admin(json!({"list": "block", "kind": "pan", "value": PAN})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["value"], "400012******9017", "the answer masks the PAN");
    let (_, v) = h.push(&h.request_with(|_| {})).await;
    assert_eq!(
        (v["decision"].as_str(), v["risk"]["final_level"].as_u64()),
        (Some("DECLINED"), Some(99))
    );
    assert!(
        v["risk"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "card_blocked")
    );
    let (s, v) = admin(json!({"list": "block", "kind": "bin", "value": "4000"})).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, _) = call(
        &h.app,
        "POST",
        "/v1/admin/risk-lists",
        Some(&h.wallet_key),
        json!({"list": "block", "kind": "bin", "value": "400012"})
            .to_string()
            .into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

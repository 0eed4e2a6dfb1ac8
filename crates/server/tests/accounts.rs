//! Hosted wallet accounts over HTTP: the manifest, creation with a security level,
//! knowledge-based verification (bank, issuer and third-party sources, the last two as real
//! HTTP servers started here), the state machine and its audit trail, and the
//! `account_not_active` join with push provisioning.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use provisio_accounts::ManifestError;
use provisio_accounts::wire::AccountUser;
use provisio_apps::{AppError, WalletApp};
use provisio_server::Clock;
use provisio_tsp::wire::PushProvisioningRequest;
use serde_json::{Value, json};

const HOSTED: &str = "40010099999";

struct Hosted {
    h: Harness,
    key: String,
}

async fn hosted() -> Hosted {
    let h = harness_stepping_up().await;
    let body =
        json!({"token_requestor_id": HOSTED, "name": "Hosted wallet", "wallet_accounts": "hosted"});
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/token-requestors",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["api_key"].as_str().unwrap().to_owned();
    Hosted { h, key }
}

fn user(customer: &str) -> AccountUser {
    AccountUser {
        name: "Ada Lovelace".into(),
        phone: "+44 7700 900123".into(),
        email: "ada@example.org".into(),
        customer_ref: customer.into(),
    }
}

/// Custom facts whose right answers start with "right" and whose distractors do not.
fn facts(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"kind": "CUSTOM", "question": format!("Question {i}?"), "answer": format!("right {i}"),
                   "distractors": ["wrong a", "wrong b", "wrong c", "wrong d"]})
        })
        .collect()
}

impl Hosted {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        call(
            &self.h.app,
            "POST",
            path,
            Some(&self.key),
            body.to_string().into_bytes(),
            None,
        )
        .await
    }

    async fn enrol(&self, customer: &str, phone: &str, n: usize) {
        let body = json!({"customer_ref": customer, "name": "Ada  LOVELACE", "phone": phone,
                          "email": "Ada@Example.org", "customer_since": 0, "facts": facts(n)});
        let (s, v) = call(
            &self.h.app,
            "POST",
            "/v1/issuer/enrolments",
            Some(&self.h.issuer_api_key),
            body.to_string().into_bytes(),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["questions"], n);
    }

    /// A phone with the module installed.
    async fn phone(&self, user_id: &str, device: &str) -> WalletApp {
        let mut wallet = WalletApp::new(&self.h.crypto, HOSTED, user_id, device).unwrap();
        let (s, v) = call(&self.h.app, "GET", "/v1/wallet-module", None, vec![], None).await;
        assert_eq!(s, StatusCode::OK);
        wallet
            .install_module(
                &self.h.crypto,
                v["manifest"].as_str().unwrap(),
                &self.h.jwks,
            )
            .unwrap();
        wallet
    }

    async fn create(
        &self,
        wallet: &WalletApp,
        customer: &str,
        risk: Option<u8>,
    ) -> (StatusCode, Value) {
        let req = wallet
            .account_request("bank-a", user(customer), "Pixel 9", "Android 16", risk)
            .unwrap();
        self.post("/v1/wallet-accounts", serde_json::to_value(req).unwrap())
            .await
    }

    async fn new_account(
        &self,
        user_id: &str,
        device: &str,
        customer: &str,
    ) -> (WalletApp, String) {
        let wallet = self.phone(user_id, device).await;
        let (s, v) = self.create(&wallet, customer, None).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["state"], "PENDING_ACTIVATION");
        (wallet, v["account_id"].as_str().unwrap().to_owned())
    }

    async fn account(&self, id: &str) -> (StatusCode, Value) {
        let path = format!("/v1/wallet-accounts/{id}");
        call(&self.h.app, "GET", &path, Some(&self.key), vec![], None).await
    }

    async fn ask(&self, id: &str) -> (StatusCode, Value) {
        self.post(&format!("/v1/wallet-accounts/{id}/kba/question"), json!({}))
            .await
    }

    async fn reply(&self, id: &str, question: &Value, right: bool) -> (StatusCode, Value) {
        let option = question["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["text"].as_str().unwrap().starts_with("right") == right)
            .unwrap();
        let body = json!({"question_id": question["id"], "option_id": option["id"]});
        self.post(&format!("/v1/wallet-accounts/{id}/kba/answer"), body)
            .await
    }

    /// Runs a whole attempt, answering wrong where `wrong` says; returns the final step and
    /// the question ids asked.
    async fn attempt(&self, id: &str, wrong: &[bool]) -> (Value, Vec<String>) {
        let (s, mut step) = self.ask(id).await;
        assert_eq!(s, StatusCode::OK, "{step}");
        let mut asked = Vec::new();
        for w in wrong {
            assert_eq!(step["result"], "QUESTION", "{step}");
            let q = step["question"].clone();
            assert!(q["options"].as_array().unwrap().len() >= 4);
            asked.push(q["id"].as_str().unwrap().to_owned());
            let (s, next) = self.reply(id, &q, !w).await;
            assert_eq!(s, StatusCode::OK, "{next}");
            step = next;
        }
        (step, asked)
    }

    fn push_request(&self, wallet: &WalletApp) -> PushProvisioningRequest {
        let h = &self.h;
        let start = h.issuer.start_session(&h.crypto).unwrap();
        let answer = wallet.answer(&start);
        let claims = h
            .issuer
            .claims(&h.crypto, &answer, &card(), h.clock.now())
            .unwrap();
        let jwe = h.issuer.request_data(&h.crypto, &claims, &h.jwks).unwrap();
        wallet.push_request(&answer, jwe, None)
    }

    async fn push(&self, wallet: &WalletApp) -> (StatusCode, Value) {
        self.post(
            "/v1/push-provisioning",
            serde_json::to_value(self.push_request(wallet)).unwrap(),
        )
        .await
    }

    async fn events(&self, id: &str) -> Vec<(Option<String>, String, String, String)> {
        self.h
            .state
            .store
            .account_events(id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| {
                (
                    t.from.map(|f| f.as_str().to_owned()),
                    t.to.as_str().to_owned(),
                    t.channel.as_str().to_owned(),
                    t.reason,
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn the_manifest_verifies_and_a_tampered_or_downgraded_one_is_refused() {
    let t = hosted().await;
    let (_, v) = call(&t.h.app, "GET", "/v1/wallet-module", None, vec![], None).await;
    let manifest = v["manifest"].as_str().unwrap();
    let mut wallet = WalletApp::new(&t.h.crypto, HOSTED, "user-1", "device-1").unwrap();
    assert_eq!(
        wallet
            .account_request("bank-a", user("c"), "m", "o", None)
            .unwrap_err(),
        AppError::ModuleNotInstalled
    );
    let installed = wallet
        .install_module(&t.h.crypto, manifest, &t.h.jwks)
        .unwrap();
    assert_eq!(installed.module_version, "1.0.0");
    assert_eq!(installed.endpoints.wallet_accounts, "/v1/wallet-accounts");
    assert_eq!(installed.keys, t.h.jwks);

    let parts: Vec<&str> = manifest.split('.').collect();
    let payload = provisio_jose::b64_decode(parts[1]).unwrap();
    let mut flipped = payload.clone();
    let at = flipped.iter().position(|b| *b == b'1').unwrap();
    flipped[at] = b'9';
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        provisio_jose::b64_encode(&flipped),
        parts[2]
    );
    let mut fresh = WalletApp::new(&t.h.crypto, HOSTED, "user-2", "device-2").unwrap();
    assert_eq!(
        fresh
            .install_module(&t.h.crypto, &tampered, &t.h.jwks)
            .unwrap_err(),
        AppError::Module(ManifestError::Tampered)
    );
    assert!(fresh.module().is_none());

    // A newer module is installed on the phone; the server's 1.0.0 is now a downgrade.
    let newer =
        t.h.state
            .clone()
            .with_accounts(provisio_accounts::AccountsConfig {
                module_version: "1.1.0".into(),
                ..Default::default()
            });
    let (_, v) = call(
        &provisio_server::router(newer),
        "GET",
        "/v1/wallet-module",
        None,
        vec![],
        None,
    )
    .await;
    fresh
        .install_module(&t.h.crypto, v["manifest"].as_str().unwrap(), &t.h.jwks)
        .unwrap();
    assert!(matches!(
        fresh
            .install_module(&t.h.crypto, manifest, &t.h.jwks)
            .unwrap_err(),
        AppError::Module(ManifestError::Downgrade { .. })
    ));
}

#[tokio::test]
async fn the_question_count_follows_the_security_level() {
    let t = hosted().await;
    for c in ["c-low", "c-med", "c-high"] {
        t.enrol(c, "+44 7700 900123", 6).await;
    }
    // Medium: the phone on file differs (25) and so does the e-mail (15).
    let body = json!({"customer_ref": "c-med", "name": "Ada Lovelace", "phone": "+44 7700 900999",
                      "email": "other@example.org", "customer_since": 0, "facts": facts(6)});
    call(
        &t.h.app,
        "POST",
        "/v1/issuer/enrolments",
        Some(&t.h.issuer_api_key),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    // High: the device is blocklisted.
    let body = json!({"list": "block", "kind": "device", "value": "device-h"});
    let (s, _) = call(
        &t.h.app,
        "POST",
        "/v1/admin/risk-lists",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    for (user_id, device, customer, level, count) in [
        ("u-low", "device-l", "c-low", "LOW", 4),
        ("u-med", "device-m", "c-med", "MEDIUM", 5),
        ("u-high", "device-h", "c-high", "HIGH", 6),
    ] {
        let wallet = t.phone(user_id, device).await;
        let (s, v) = t.create(&wallet, customer, None).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["security_level"], level);
        assert_eq!(v["kba"]["questions_per_attempt"], count);
        let id = v["account_id"].as_str().unwrap();
        let (step, asked) = t.attempt(id, &vec![false; count]).await;
        assert_eq!(step["result"], "ACTIVATED", "{level}: {step}");
        assert_eq!(asked.len(), count);
    }
}

#[tokio::test]
async fn push_waits_for_activation_one_failed_attempt_then_success() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 8).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;

    let (s, v) = t.push(&wallet).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "account_not_active"),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("PENDING_ACTIVATION"));

    let (failed, first) = t.attempt(&id, &[false, true, false, false]).await;
    assert_eq!(failed["result"], "ATTEMPT_FAILED");
    assert_eq!(failed["reason"], "wrong_answers");
    assert_eq!(failed["attempts_used"], 1);
    assert!(
        failed["question"].is_null(),
        "the answer says nothing about which was wrong"
    );
    let (passed, second) = t.attempt(&id, &[false, false, false, false]).await;
    assert_eq!(passed["result"], "ACTIVATED", "{passed}");
    assert_eq!(passed["state"], "ACTIVE");
    assert!(
        first.iter().all(|q| !second.contains(q)),
        "a question was asked twice"
    );

    let (s, v) = t.account(&id).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["state"], "ACTIVE");
    assert!(v["activated_at"].is_i64());
    let (s, v) = t.push(&wallet).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Same user, another phone: refused.
    let other = t.phone("user-1", "device-9").await;
    let (s, v) = t.push(&other).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_not_active"));
    assert!(v["detail"].as_str().unwrap().contains("another device"));

    // The one-time pending state: no second account, no more questions.
    let (s, v) = t.create(&wallet, "cust-1", None).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "account_exists"));
    let (s, v) = t.ask(&id).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "account_not_pending"));

    assert_eq!(
        t.events(&id).await,
        [
            (
                None,
                "PENDING_ACTIVATION".into(),
                "WALLET".into(),
                "created".into()
            ),
            (
                Some("PENDING_ACTIVATION".into()),
                "ACTIVE".into(),
                "WALLET".into(),
                "kba_passed".into()
            ),
        ]
    );
}

#[tokio::test]
async fn a_push_with_another_binding_key_than_the_accounts_device_is_refused() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 4).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;
    let (step, _) = t.attempt(&id, &[false, false, false, false]).await;
    assert_eq!(step["result"], "ACTIVATED", "{step}");

    // The same user and device id, but the request names a key the account never saw: the
    // access data would be sealed to a key that is not the device's.
    let mut req = t.push_request(&wallet);
    let stranger = provisio_crypto::CryptoProvider::generate_ec_key(&t.h.crypto).unwrap();
    req.device.binding_jwk = provisio_jose::Jwk::from_public_key(stranger.public_key());
    let (s, v) = t
        .post("/v1/push-provisioning", serde_json::to_value(&req).unwrap())
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "device_key_mismatch"),
        "{v}"
    );
    assert_eq!(t.h.token_count().await, 0, "nothing was minted");

    // The account's own key passes.
    let (s, v) = t.push(&wallet).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED");
}

#[tokio::test]
async fn a_hosted_accounts_age_counts_from_its_creation_for_risk() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 4).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;
    let (step, _) = t.attempt(&id, &[false, false, false, false]).await;
    assert_eq!(step["result"], "ACTIVATED");
    t.h.clock.advance(40 * 86_400);
    let (s, v) = t.push(&wallet).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let fired: Vec<&str> = v["risk"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(!fired.contains(&"new_wallet_account"), "{fired:?}");
}

#[tokio::test]
async fn step_up_for_a_hosted_wallet_is_gated_by_the_account_too() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 4).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;
    assert_eq!(
        t.attempt(&id, &[false, false, false, false]).await.0["result"],
        "ACTIVATED"
    );
    let mut req = t.push_request(&wallet);
    req.wallet_risk = Some(provisio_tsp::wire::WalletRiskInfo::level(5, true));
    let (s, r) = t
        .post("/v1/push-provisioning", serde_json::to_value(&req).unwrap())
        .await;
    assert_eq!(
        (s, r["decision"].as_str()),
        (StatusCode::OK, Some("STEP_UP_REQUIRED")),
        "{r}"
    );
    let method = r["step_up"]["methods"][0]["method_id"].clone();
    let path = format!(
        "/v1/provisionings/{}/step-up/otp",
        r["provisioning_id"].as_str().unwrap()
    );
    let (s, v) = t
        .post(
            &path,
            json!({"method_id": method, "wallet_user_id": "user-1", "device_id": "device-2"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "account_not_active"),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("another device"));
    let (s, v) = t
        .post(
            &path,
            json!({"method_id": method, "wallet_user_id": "user-1", "device_id": "device-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn a_slow_answer_or_a_late_return_fails_the_attempt() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 9).await;
    let (_, id) = t.new_account("user-1", "device-1", "cust-1").await;

    let (_, step) = t.ask(&id).await;
    let deadline = step["question"]["expires_at"].as_i64().unwrap();
    t.h.clock.advance(100);
    let (_, again) = t.ask(&id).await;
    assert_eq!(again["question"]["id"], step["question"]["id"]);
    assert_eq!(
        again["question"]["expires_at"], deadline,
        "asking again does not reset the clock"
    );
    t.h.clock.advance(21);
    let (s, v) = t.reply(&id, &step["question"], true).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["result"].as_str(), v["reason"].as_str()),
        (Some("ATTEMPT_FAILED"), Some("timeout"))
    );

    let (_, step) = t.ask(&id).await;
    assert_eq!(step["question"]["attempt"], 2);
    t.h.clock.advance(121);
    let (s, v) = t.ask(&id).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["result"].as_str(), v["attempts_used"].as_u64()),
        (Some("ATTEMPT_FAILED"), Some(2))
    );
}

#[tokio::test]
async fn three_failures_lock_the_account_for_good() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 12).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;
    let mut asked = Vec::new();
    for n in 1..=3 {
        let (step, ids) = t.attempt(&id, &[true, false, false, false]).await;
        asked.extend(ids);
        let expected = if n < 3 { "ATTEMPT_FAILED" } else { "LOCKED" };
        assert_eq!(step["result"], expected, "{step}");
    }
    let unique: std::collections::HashSet<_> = asked.iter().collect();
    assert_eq!(unique.len(), 12, "no question repeated across attempts");

    let (s, v) = t.push(&wallet).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_not_active"));
    assert!(v["detail"].as_str().unwrap().contains("LOCKED"));
    let (_, v) = t.account(&id).await;
    assert_eq!(
        (v["state"].as_str(), v["state_reason"].as_str()),
        (Some("LOCKED"), Some("kba_wrong_answers"))
    );
    let (s, v) = t.ask(&id).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "account_not_pending"));
    let (s, v) = t.create(&wallet, "cust-1", None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "account_exists"),
        "{v}"
    );
    // The issuer cannot activate a locked account: an illegal transition, not a no-op.
    let (s, v) = call(
        &t.h.app,
        "POST",
        &format!("/v1/issuer/wallet-accounts/{id}/verification"),
        Some(&t.h.issuer_api_key),
        br#"{"method":"BRANCH"}"#.to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "illegal_transition"),
        "{v}"
    );

    let events = t.events(&id).await;
    assert_eq!(events.last().unwrap().1, "LOCKED");
    assert_eq!(events.last().unwrap().3, "kba_wrong_answers");
    assert_eq!(events.len(), 2);
}

#[tokio::test]
async fn concurrent_answers_to_one_question_count_once() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 6).await;
    let (_, id) = t.new_account("user-1", "device-1", "cust-1").await;
    let (_, step) = t.ask(&id).await;
    let q = &step["question"];
    let answers = futures::future::join_all((0..8).map(|i| t.reply(&id, q, i % 2 == 0))).await;
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert_eq!(ok[0]["question"]["position"], 2);
    for (s, v) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*s, StatusCode::CONFLICT);
        assert!(
            ["account_conflict", "kba_question_mismatch"].contains(&code(v)),
            "{v}"
        );
    }
}

#[tokio::test]
async fn the_bank_never_serves_a_question_twice_and_says_when_it_runs_out() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 5).await;
    let (_, id) = t.new_account("user-1", "device-1", "cust-1").await;
    let (step, _) = t.attempt(&id, &[true, true, true, true]).await;
    assert_eq!(step["result"], "ATTEMPT_FAILED");
    let (s, v) = t.ask(&id).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "kba_unavailable"),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("opt out"));
}

#[tokio::test]
async fn answers_must_match_the_open_question_and_its_options() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 6).await;
    let (_, id) = t.new_account("user-1", "device-1", "cust-1").await;
    let body = json!({"question_id": "kq_x", "option_id": "a"});
    let (s, v) = t
        .post(
            &format!("/v1/wallet-accounts/{id}/kba/answer"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "kba_no_open_question")
    );
    let (_, step) = t.ask(&id).await;
    let (s, v) = t
        .post(&format!("/v1/wallet-accounts/{id}/kba/answer"), body)
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "kba_question_mismatch")
    );
    let body = json!({"question_id": step["question"]["id"], "option_id": "zz"});
    let (s, v) = t
        .post(&format!("/v1/wallet-accounts/{id}/kba/answer"), body)
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "kba_unknown_option")
    );
    // Another wallet cannot see or answer for the account.
    let (s, _) = call(
        &t.h.app,
        "POST",
        &format!("/v1/wallet-accounts/{id}/kba/question"),
        Some(&t.h.wallet_key),
        vec![],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_pending_account_expires() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 6).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;
    t.h.clock.advance(30 * 86_400);
    let (s, v) = t.push(&wallet).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_not_active"));
    let (s, v) = t.ask(&id).await;
    assert_eq!((s, code(&v)), (StatusCode::GONE, "account_expired"));
    let events = t.events(&id).await;
    assert_eq!(
        events.last().unwrap(),
        &(
            Some("PENDING_ACTIVATION".into()),
            "EXPIRED".into(),
            "SYSTEM".into(),
            "pending_expired".into()
        )
    );
    // An expired account frees the user for a new one.
    let (s, v) = t.create(&wallet, "cust-1", None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_ne!(v["account_id"], id.as_str());
}

#[tokio::test]
async fn opting_out_leaves_activation_to_the_issuer() {
    let t = hosted().await;
    t.enrol("cust-1", "+44 7700 900123", 6).await;
    let (wallet, id) = t.new_account("user-1", "device-1", "cust-1").await;
    t.ask(&id).await;
    let (s, v) = t
        .post(&format!("/v1/wallet-accounts/{id}/kba/opt-out"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["alternatives"], json!(["ISSUER_VERIFICATION"]));
    let (s, v) = t.ask(&id).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "kba_opted_out"));
    let path = format!("/v1/issuer/wallet-accounts/{id}/verification");
    let (s, v) = call(
        &t.h.app,
        "POST",
        &path,
        Some(&t.h.issuer_api_key),
        br#"{"method":"CALL_CENTER"}"#.to_vec(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["kba"]["attempts_used"].as_u64()),
        (Some("ACTIVE"), Some(0))
    );
    assert_eq!(
        t.events(&id).await.last().unwrap().3,
        "issuer_verified:CALL_CENTER"
    );
    let (s, v) = t.push(&wallet).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn external_wallets_neither_create_accounts_nor_need_them() {
    let t = hosted().await;
    let wallet = t.phone("user-1", "device-1").await;
    let req = wallet
        .account_request("bank-a", user("c"), "m", "o", None)
        .unwrap();
    let (s, v) = call(
        &t.h.app,
        "POST",
        "/v1/wallet-accounts",
        Some(&t.h.wallet_key),
        serde_json::to_vec(&req).unwrap(),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = t.h.push(&t.h.request_with(|_| {})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn answers_and_facts_are_not_stored_in_the_clear_and_the_audit_trail_is_append_only() {
    let t = hosted().await;
    let body = json!({"customer_ref": "cust-1", "name": "Ada Lovelace", "phone": "+44 7700 900123", "email": "ada@example.org",
                      "facts": [{"kind": "LAST_MERCHANT", "value": "Zanzibar Fine Teas"}, {"kind": "BIRTH_YEAR", "value": "1952"}, {"kind": "BRANCH_CITY", "value": "Quuxtown"}]});
    let (s, _) = call(
        &t.h.app,
        "POST",
        "/v1/issuer/enrolments",
        Some(&t.h.issuer_api_key),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, id) = t.new_account("user-1", "device-1", "cust-1").await;
    t.ask(&id).await;

    let updated = provisio_testkit::raw::execute(
        &t.h.db_url,
        "UPDATE wallet_account_events SET reason = 'x'",
    );
    assert!(updated.unwrap_err().contains("append-only"));
    let deleted = provisio_testkit::raw::execute(&t.h.db_url, "DELETE FROM wallet_account_events");
    assert!(deleted.is_err());

    // The bytes at rest (the SQLite file; on PostgreSQL, every table's rows as text).
    let bytes = match t.h.db_url.strip_prefix("sqlite://") {
        Some(path) => {
            let path = std::path::Path::new(path);
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
            bytes
        }
        None => postgres_dump(&t.h.db_url),
    };
    for secret in [
        "Zanzibar",
        "Quuxtown",
        "1952",
        "Lovelace",
        "ada@example.org",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in the clear"
        );
    }
}

/// Every row of every table, as PostgreSQL prints it (BYTEA as hex, so the clear text of a
/// secret appears only if it is stored in the clear, in text or in bytes).
fn postgres_dump(url: &str) -> Vec<u8> {
    let tables = provisio_testkit::raw::text_rows(
        url,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    );
    let mut out = Vec::new();
    for t in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let rows = provisio_testkit::raw::text_rows(
            url,
            &format!("SELECT string_agg(x::text, ' ') FROM {t} x"),
        )
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten());
        // BYTEA prints as \x<hex>: its bytes go in decoded, as they are at rest, so a secret
        // in the clear shows and random hex (sealed values) cannot pass for a short secret.
        let rows = rows.unwrap_or_default();
        let mut rest = rows.as_str();
        while let Some(i) = rest.find("\\x") {
            out.extend_from_slice(&rest.as_bytes()[..i]);
            let after = &rest[i + 2..];
            let n = after.chars().take_while(char::is_ascii_hexdigit).count() / 2 * 2;
            out.extend(hex::decode(&after[..n]).unwrap_or_default());
            rest = &after[n..];
        }
        out.extend_from_slice(rest.as_bytes());
    }
    out
}

/// A question source over real HTTP: questions `src-N` with options `1` to `4`, `1` right.
/// It records every request, and with `repeat` it sends back an already-asked question.
async fn start_source(repeat: bool) -> (String, Arc<Mutex<Vec<Value>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(AtomicU32::new(0));
    let (qlog, alog) = (log.clone(), log.clone());
    let app = Router::new()
        .route(
            "/kba/questions",
            post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let (log, next) = (qlog.clone(), next.clone());
                async move {
                    assert_eq!(headers["authorization"], "Bearer s3cret");
                    log.lock().unwrap().push(body.clone());
                    let exclude: Vec<String> = serde_json::from_value(body["exclude"].clone()).unwrap();
                    let questions: Vec<Value> = (0..body["count"].as_u64().unwrap())
                        .map(|i| {
                            let id = match exclude.first() {
                                Some(old) if repeat && i == 0 => old.clone(),
                                _ => format!("src-{}", next.fetch_add(1, Ordering::SeqCst)),
                            };
                            json!({"id": id, "text": "Which is right?", "options": (1..=4).map(|o| json!({"id": o.to_string(), "text": format!("option {o}")})).collect::<Vec<_>>()})
                        })
                        .collect();
                    Json(json!({"questions": questions}))
                }
            }),
        )
        .route(
            "/kba/answers",
            post(move |Json(body): Json<Value>| {
                let log = alog.clone();
                async move {
                    log.lock().unwrap().push(body.clone());
                    Json(json!({"correct": body["option_id"] == "1"}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/kba", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

async fn use_source(t: &Hosted, kind: &str, url: &str) {
    let body = json!({"kind": kind, "url": url, "credential": "s3cret"});
    let (s, v) = call(
        &t.h.app,
        "PUT",
        "/v1/admin/issuers/bank-a/kba-source",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["credential"].is_null(), "the credential is not echoed");
}

/// Answers an attempt from an HTTP source: option 1 is right.
async fn source_attempt(t: &Hosted, id: &str, right: bool) -> Value {
    let (_, mut step) = t.ask(id).await;
    while step["result"] == "QUESTION" {
        let option = if right { "1" } else { "2" };
        let body = json!({"question_id": step["question"]["id"], "option_id": option});
        let (s, next) = t
            .post(&format!("/v1/wallet-accounts/{id}/kba/answer"), body)
            .await;
        assert_eq!(s, StatusCode::OK, "{next}");
        step = next;
    }
    step
}

#[tokio::test]
async fn the_issuers_source_is_asked_by_customer_reference_for_the_levels_count() {
    let t = hosted().await;
    let (url, log) = start_source(false).await;
    use_source(&t, "ISSUER", &url).await;
    let body = json!({"list": "block", "kind": "device", "value": "device-h"});
    call(
        &t.h.app,
        "POST",
        "/v1/admin/risk-lists",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    for (user_id, device, risk, level, count) in [
        ("u-low", "device-l", None, "LOW", 4),
        ("u-med", "device-m", Some(80), "MEDIUM", 5),
        ("u-high", "device-h", None, "HIGH", 6),
    ] {
        let wallet = t.phone(user_id, device).await;
        let (s, v) = t.create(&wallet, "cust-7", risk).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(
            (v["security_level"].as_str(), v["kba"]["source"].as_str()),
            (Some(level), Some("ISSUER"))
        );
        let id = v["account_id"].as_str().unwrap().to_owned();
        let failed = source_attempt(&t, &id, false).await;
        assert_eq!(failed["result"], "ATTEMPT_FAILED");
        let passed = source_attempt(&t, &id, true).await;
        assert_eq!(passed["result"], "ACTIVATED", "{passed}");
        let requests = log.lock().unwrap().clone();
        let asks: Vec<&Value> = requests
            .iter()
            .filter(|r| r["account_id"] == id.as_str() && r.get("count").is_some())
            .collect();
        assert_eq!(asks.len(), 2);
        assert_eq!(asks[0]["count"], count);
        assert_eq!(asks[0]["subject"], json!({"customer_ref": "cust-7"}));
        assert_eq!(
            asks[1]["exclude"].as_array().unwrap().len(),
            count,
            "the second attempt excludes the first's questions"
        );
    }
}

#[tokio::test]
async fn a_third_party_gets_identity_data_and_a_repeating_source_is_refused() {
    let t = hosted().await;
    let (url, log) = start_source(false).await;
    use_source(&t, "THIRD_PARTY", &url).await;
    let (_, id) = t.new_account("user-1", "device-1", "cust-1").await;
    assert_eq!(source_attempt(&t, &id, true).await["result"], "ACTIVATED");
    let requests = log.lock().unwrap().clone();
    let subject = &requests[0]["subject"];
    assert_eq!(subject["name"], "Ada Lovelace");
    assert_eq!(subject["email"], "ada@example.org");
    assert!(subject.get("customer_ref").is_none());
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.get("option_id").is_some())
            .count(),
        4
    );

    let (url, _) = start_source(true).await;
    use_source(&t, "THIRD_PARTY", &url).await;
    let (_, id) = t.new_account("user-2", "device-2", "cust-2").await;
    assert_eq!(
        source_attempt(&t, &id, false).await["result"],
        "ATTEMPT_FAILED"
    );
    let (s, v) = t.ask(&id).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_GATEWAY, "kba_source_error"),
        "{v}"
    );
    // Nothing of the refused draw was written: only the first attempt's questions are stored.
    let asked = t.h.state.store.asked_questions(&id).await.unwrap();
    assert_eq!(asked.len(), 4, "{asked:?}");
    let (_, v) = t.account(&id).await;
    assert_eq!(
        (v["kba"]["attempts_used"].as_u64(), v["state"].as_str()),
        (Some(1), Some("PENDING_ACTIVATION"))
    );

    let body = json!({"kind": "ISSUER", "url": "http://issuer.example/kba"});
    let (s, v) = call(
        &t.h.app,
        "PUT",
        "/v1/admin/issuers/bank-a/kba-source",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "personal data only over TLS"
    );
    use_source(&t, "ISSUER", "http://127.0.0.1:9/kba").await;
    let (s, v) = t.ask(&id).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_GATEWAY, "kba_source_error"));
}

/// US 10,699,267: the server transmits the data to pre-install the wallet module, then accepts
/// account requests from that pre-installed module. A request naming a module this service did
/// not transmit, or an older one than it transmits now, is refused.
#[tokio::test]
async fn claim_267_account_requests_come_from_the_pre_installed_module() {
    let t = hosted().await;
    let wallet = t.phone("user-m", "device-m").await;
    let good = wallet
        .account_request("bank-a", user("cust-m"), "Pixel 9", "Android 16", None)
        .unwrap();
    let sign = |version: &str, key: &provisio_crypto::EcKeyPair, kid: &str| {
        let config = provisio_accounts::AccountsConfig {
            module_version: version.into(),
            ..provisio_accounts::AccountsConfig::default()
        };
        provisio_accounts::wallet_module(
            &t.h.crypto,
            key,
            kid,
            "provisio",
            t.h.clock.now(),
            &config,
            t.h.jwks.clone(),
        )
        .unwrap()
        .manifest
    };
    let ours = t.h.state.keys.current_sig();
    let stranger = provisio_crypto::CryptoProvider::generate_ec_key(&t.h.crypto).unwrap();
    let cases = [
        // Signed by a key that is not the service's, under the service's own kid.
        (
            "1.0.0",
            sign("1.0.0", &stranger, &ours.kid),
            StatusCode::BAD_REQUEST,
            "module_unknown",
        ),
        // The service's manifest, another version named than it carries.
        (
            "1.0.1",
            good.module.manifest.clone(),
            StatusCode::BAD_REQUEST,
            "module_unknown",
        ),
        // A manifest the service signed for an older module than it transmits now.
        (
            "0.9.0",
            sign("0.9.0", &ours.key, &ours.kid),
            StatusCode::FORBIDDEN,
            "module_superseded",
        ),
        (
            "2.0.0",
            sign("2.0.0", &ours.key, &ours.kid),
            StatusCode::BAD_REQUEST,
            "module_unknown",
        ),
        (
            "1.0.0",
            "not-a-jws".to_owned(),
            StatusCode::BAD_REQUEST,
            "module_unknown",
        ),
    ];
    for (version, manifest, status, expected) in cases {
        let mut req = good.clone();
        req.module.module_version = version.into();
        req.module.manifest = manifest;
        let (s, v) = t
            .post("/v1/wallet-accounts", serde_json::to_value(&req).unwrap())
            .await;
        assert_eq!((s, code(&v)), (status, expected), "{version}: {v}");
    }
    let (s, v) = t
        .post("/v1/wallet-accounts", serde_json::to_value(&good).unwrap())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

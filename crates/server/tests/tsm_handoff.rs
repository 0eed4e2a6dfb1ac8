//! The token service's side of secure-element provisioning (US 8,060,449 steps 1 and 6): an
//! approval for a phone with a secure element commits a job for the issuer's TSM with the
//! token, and only that TSM's report, with the token made for that job, makes the token
//! payment-ready.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::{ADMIN, Harness, call, code, harness, harness_stepping_up};
use provisio_crypto::{CryptoProvider, EcKeyPair};
use provisio_jose::Jwk;
use provisio_tsm::open_credential;
use provisio_tsp::wire::WalletRiskInfo;
use provisio_tsp::{SpTsmDelivery, open_notification, open_sp_tsm_delivery};
use serde_json::{Value, json};

const PUBLIC: &str = "https://tsp.example";

/// The harness's service as it runs with a public URL, and the bank TSM's key pair.
struct Handoff {
    h: Harness,
    app: Router,
    sp_key: EcKeyPair,
}

async fn put_tsm(app: &Router, issuer: &str, body: &Value) -> (StatusCode, Value) {
    call(
        app,
        "PUT",
        &format!("/v1/admin/issuers/{issuer}/sp-tsm"),
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await
}

async fn handoff(register: bool) -> Handoff {
    let h = harness_stepping_up().await;
    let app = provisio_server::router(h.state.clone().with_public_url(PUBLIC));
    let sp_key = h.crypto.generate_ec_key().unwrap();
    if register {
        let body = json!({"url": "https://bank-tsm.example/", "api_key": "caller-key-at-the-bank-tsm",
            "encryption_jwk": Jwk::from_public_key(sp_key.public_key()), "aid_prefix": "a000000003"});
        let (s, v) = put_tsm(&app, "bank-a", &body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["aid_prefix"], "A000000003");
        assert_eq!(v["url"], "https://bank-tsm.example");
        assert!(v.get("api_key").is_none(), "the key is echoed: {v}");
    }
    Handoff { h, app, sp_key }
}

impl Handoff {
    async fn push(&self, wallet_risk: Option<WalletRiskInfo>) -> Value {
        let mut req = self.h.request_with(|_| {});
        req.device.secure_element_id = Some("se-1".into());
        req.wallet_risk = wallet_risk;
        let (s, v) = call(
            &self.app,
            "POST",
            "/v1/push-provisioning",
            Some(&self.h.wallet_key),
            serde_json::to_vec(&req).unwrap(),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn wallet(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        call(
            &self.app,
            method,
            path,
            Some(&self.h.wallet_key),
            body.to_string().into_bytes(),
            None,
        )
        .await
    }

    /// Claims every due outbox message: the SP-TSM jobs opened, and the notifications.
    async fn outbox(&self) -> (Vec<SpTsmDelivery>, Vec<provisio_tsp::Notification>) {
        let s = &self.h.state;
        let claimed = s.store.claim_outbox(s.clock.now(), 60, 100).await.unwrap();
        let (mut jobs, mut notes) = (Vec::new(), Vec::new());
        for m in claimed {
            if m.channel == "sp_tsm" {
                jobs.push(
                    open_sp_tsm_delivery(&self.h.crypto, s.keys.vault(), &m.message_id, &m.payload)
                        .unwrap(),
                );
            } else {
                notes.push(
                    open_notification(&self.h.crypto, s.keys.vault(), &m.message_id, &m.payload)
                        .unwrap(),
                );
            }
        }
        (jobs, notes)
    }

    async fn report(&self, job_id: &str, token: &str, body: Value) -> (StatusCode, Value) {
        call(
            &self.app,
            "POST",
            &format!("/v1/tsm/jobs/{job_id}/report"),
            Some(token),
            body.to_string().into_bytes(),
            None,
        )
        .await
    }

    async fn installation(&self, pv: &str) -> Value {
        let (s, v) = self
            .wallet(
                "GET",
                &format!("/v1/provisionings/{pv}/installation"),
                json!(null),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// The job of an approved push, with checks on what it carries.
    async fn approved_job(&self) -> (Value, SpTsmDelivery) {
        let v = self.push(None).await;
        assert_eq!(v["decision"], "APPROVED", "{v}");
        assert_eq!(v["script"]["target"], "SECURE_ELEMENT");
        let (jobs, _) = self.outbox().await;
        assert_eq!(jobs.len(), 1);
        let d = jobs.into_iter().next().unwrap();
        (v, d)
    }
}

#[tokio::test]
async fn the_issuers_tsm_is_registered_only_with_what_it_needs() {
    let h = harness().await;
    let sp_key = h.crypto.generate_ec_key().unwrap();
    let good = json!({"url": "https://bank-tsm.example", "api_key": "k",
        "encryption_jwk": Jwk::from_public_key(sp_key.public_key()), "aid_prefix": "A000000003"});
    // Without a public URL the TSM could never report back.
    let (s, v) = put_tsm(&h.app, "bank-a", &good).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "no_public_url"));
    let app = provisio_server::router(h.state.clone().with_public_url(PUBLIC));
    for (field, bad) in [
        ("aid_prefix", json!("A0000000")),
        ("aid_prefix", json!("A0000000030102030405060708")),
        ("aid_prefix", json!("not hex")),
        ("url", json!("http://bank-tsm.example")),
        ("api_key", json!("")),
        (
            "encryption_jwk",
            json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
        ),
    ] {
        let mut body = good.clone();
        body[field] = bad;
        let (s, v) = put_tsm(&app, "bank-a", &body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{field}"
        );
    }
    let (s, v) = put_tsm(&app, "no-such-bank", &good).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = call(
        &app,
        "PUT",
        "/v1/admin/issuers/bank-a/sp-tsm",
        Some(&h.wallet_key),
        good.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test]
async fn without_an_sp_tsm_a_secure_element_phone_gets_the_hce_script() {
    let t = handoff(false).await;
    let v = t.push(None).await;
    assert_eq!(v["decision"], "APPROVED", "{v}");
    assert_eq!(v["script"]["target"], "HCE");
    assert!(t.outbox().await.0.is_empty());
}

#[tokio::test]
async fn an_approval_commits_the_job_and_only_its_tsm_report_makes_the_token_payment_ready() {
    let t = handoff(true).await;
    let (v, d) = t.approved_job().await;
    let pv = v["provisioning_id"].as_str().unwrap();
    let token_ref = v["token"]["token_ref_id"].as_str().unwrap();

    // The job: for this issuer, this provisioning and element, AIDs in the issuer's range and
    // the token's credential sealed to the TSM's key.
    assert_eq!(d.issuer_id, "bank-a");
    assert_eq!(d.job.job_id, pv);
    assert_eq!(d.job.se_id, "se-1");
    let prefix = hex::decode("A000000003").unwrap();
    assert!(d.job.ssd.starts_with(&prefix) && d.job.applet.starts_with(&prefix));
    assert_ne!(d.job.ssd, d.job.applet);
    assert_eq!(
        (d.job.ssd.clone(), d.job.applet.clone()),
        provisio_tsp::token_aids(&t.h.crypto, &prefix, token_ref).unwrap()
    );
    let access =
        t.h.wallet
            .open_access_data(&t.h.crypto, v["access_data"].as_str().unwrap())
            .unwrap();
    let credential = open_credential(&t.h.crypto, &t.sp_key, &d.job.credential).unwrap();
    assert_eq!(credential.token_pan, access.token_pan);
    assert_eq!(credential.cryptogram_key, access.cryptogram_key);
    assert_eq!(
        d.job.report_url.as_deref(),
        Some(format!("{PUBLIC}/v1/tsm/jobs/{pv}/report").as_str())
    );
    let report_token = d.job.report_token.clone().unwrap();
    assert!(!format!("{:?}", d.job).contains(&report_token));

    // Pending until the TSM reports; the device cannot complete it.
    let inst = t.installation(pv).await;
    assert_eq!(
        (inst["state"].as_str(), inst["payment_ready"].as_bool()),
        (Some("PENDING"), Some(false))
    );
    assert_eq!(inst["target"], "SECURE_ELEMENT");
    let steps: Vec<Value> = v["script"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"seq": s["seq"], "result": "OK"}))
        .collect();
    let (s, r) = t
        .wallet(
            "POST",
            &format!("/v1/provisionings/{pv}/script-report"),
            json!({"script_id": v["script"]["script_id"], "wallet_user_id": "user-1", "device_id": "device-1", "steps": steps}),
        )
        .await;
    assert_eq!((s, code(&r)), (StatusCode::CONFLICT, "reported_by_tsm"));

    // Only this job's token reports it, only for itself, only DONE or FAILED.
    let done = json!({"job_id": pv, "state": "DONE"});
    for token in ["", "not-the-token", t.h.wallet_key.as_str(), ADMIN] {
        let (s, _) = t.report(pv, token, done.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{token}");
    }
    let (s, r) = t.report("pv_other", &report_token, done.clone()).await;
    assert_eq!((s, code(&r)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, r) = t
        .report(
            pv,
            &report_token,
            json!({"job_id": "pv_other", "state": "DONE"}),
        )
        .await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, r) = t
        .report(
            pv,
            &report_token,
            json!({"job_id": pv, "state": "KEYS_TAKEN"}),
        )
        .await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, r) = t.report(pv, &report_token, json!("{not json")).await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    assert_eq!(t.installation(pv).await["state"], "PENDING");

    let (s, r) = t.report(pv, &report_token, done.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["state"].as_str(), r["payment_ready"].as_bool()),
        (Some("INSTALLED"), Some(true))
    );
    let token = t.h.state.store.token(token_ref).await.unwrap().unwrap();
    assert!(token.installed_at.is_some());
    assert_eq!(t.installation(pv).await["payment_ready"], true);
    // Repeated: the same answer; contradicted: refused.
    let (s, again) = t.report(pv, &report_token, done).await;
    assert_eq!((s, again), (StatusCode::OK, r));
    let (s, r) = t
        .report(
            pv,
            &report_token,
            json!({"job_id": pv, "state": "FAILED", "reason": "x"}),
        )
        .await;
    assert_eq!((s, code(&r)), (StatusCode::CONFLICT, "report_conflict"));
}

#[tokio::test]
async fn a_failed_job_is_recorded_and_the_token_stays_not_payment_ready() {
    let t = handoff(true).await;
    let (v, d) = t.approved_job().await;
    let pv = v["provisioning_id"].as_str().unwrap();
    let token = d.job.report_token.unwrap();
    let failed = json!({"job_id": pv, "state": "FAILED", "reason": "carrier: too_many_sessions"});
    let (s, r) = t.report(pv, &token, failed.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["state"].as_str(),
            r["payment_ready"].as_bool(),
            r["failure"].as_str()
        ),
        (
            Some("FAILED"),
            Some(false),
            Some("carrier: too_many_sessions")
        )
    );
    assert_eq!(t.report(pv, &token, failed).await.0, StatusCode::OK);
    let (s, r) = t
        .report(pv, &token, json!({"job_id": pv, "state": "DONE"}))
        .await;
    assert_eq!((s, code(&r)), (StatusCode::CONFLICT, "report_conflict"));
    assert_eq!(t.installation(pv).await["payment_ready"], false);
}

#[tokio::test]
async fn a_passed_step_up_for_a_secure_element_hands_the_job_over() {
    let t = handoff(true).await;
    let v = t.push(Some(WalletRiskInfo::level(5, true))).await;
    assert_eq!(v["decision"], "STEP_UP_REQUIRED", "{v}");
    assert!(t.outbox().await.0.is_empty(), "a job before the step-up");
    let pv = v["provisioning_id"].as_str().unwrap();
    let (s, sent) = t
        .wallet(
            "POST",
            &format!("/v1/provisionings/{pv}/step-up/otp"),
            json!({"method_id": v["step_up"]["methods"][0]["method_id"], "wallet_user_id": "user-1", "device_id": "device-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let (jobs, notes) = t.outbox().await;
    assert!(jobs.is_empty());
    let code6 = notes[0]
        .text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let (s, passed) = t
        .wallet(
            "POST",
            &format!("/v1/provisionings/{pv}/step-up/verify"),
            json!({"otp_id": sent["otp_id"], "code": code6, "wallet_user_id": "user-1", "device_id": "device-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{passed}");
    assert_eq!(passed["script"]["target"], "SECURE_ELEMENT");
    let (jobs, _) = t.outbox().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job.job_id, pv);
    let credential = open_credential(&t.h.crypto, &t.sp_key, &jobs[0].job.credential).unwrap();
    let access =
        t.h.wallet
            .open_access_data(&t.h.crypto, passed["access_data"].as_str().unwrap())
            .unwrap();
    assert_eq!(credential.token_pan, access.token_pan);
}

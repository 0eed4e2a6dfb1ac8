//! Several stateless instances on one PostgreSQL database (issue 7): two `provisio serve`
//! processes with the same database, master key and admin key. Runs when
//! `PROVISIO_TEST_POSTGRES_URL` is set; skipped with a note otherwise.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use provisio_apps::{CardDetails, IssuerApp, WalletApp};
use provisio_client::ProvisioClient;
use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_jose::Jwk;
use provisio_server::{Clock, SystemClock};
use provisio_tsp::wire::{
    Decision, OtpSendRequest, OtpVerifyRequest, PushProvisioningRequest, WalletRiskInfo,
};
use provisio_tsp::{Contact, jwk_thumbprint};
use provisio_types::Pan;
use serde_json::Value;

const ADMIN: &str = "pvk_two-instances-admin-key-0123456789";
const TRID: &str = "40010030273";

/// A running `provisio serve`; killed when dropped.
struct Instance {
    child: Child,
    api: ProvisioClient,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(
    url: &str,
    master: &str,
    config: &std::path::Path,
    dir: &std::path::Path,
) -> Instance {
    let port = provisio_testkit::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database-url")
        .arg(url)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(dir)
        .env("PROVISIO_MASTER_KEY", master)
        .env("PROVISIO_ADMIN_KEY", ADMIN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the provisio binary runs");
    let api = ProvisioClient::new(&format!("http://127.0.0.1:{port}"), ADMIN);
    for _ in 0..200 {
        if api.jwks().await.is_ok() {
            return Instance { child, api };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("instance on port {port} never came up");
}

/// The notification gateway both instances post step-up codes to.
async fn gateway() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, got)
}

struct Bank {
    crypto: AwsLcProvider,
    issuer: IssuerApp,
    jwks: provisio_jose::JwkSet,
}

impl Bank {
    fn request(
        &self,
        wallet: &WalletApp,
        pan: &str,
        risk: Option<WalletRiskInfo>,
    ) -> PushProvisioningRequest {
        let start = self.issuer.start_session(&self.crypto).unwrap();
        let answer = wallet.answer(&start);
        let card = CardDetails {
            pan: Pan::parse(pan).unwrap(),
            exp_month: 12,
            exp_year: 2030,
            name: "A Holder".into(),
            contact: Some(Contact {
                phone: Some("+15551230001".into()),
                email: None,
            }),
        };
        let claims = self
            .issuer
            .claims(&self.crypto, &answer, &card, SystemClock.now())
            .unwrap();
        let jwe = self
            .issuer
            .request_data(&self.crypto, &claims, &self.jwks)
            .unwrap();
        wallet.push_request(&answer, jwe, risk)
    }
}

fn pan(n: u32) -> String {
    let body = format!("400012345678{n:03}");
    let check = provisio_types::luhn_check_digit(&body).unwrap();
    format!("{body}{check}")
}

#[tokio::test]
async fn two_instances_share_one_database_and_lose_nothing_acknowledged() {
    let Some(url) = provisio_testkit::postgres::fresh_postgres_url().await else {
        return;
    };
    let crypto = AwsLcProvider::new();
    let mut master = [0u8; 32];
    crypto.fill_random(&mut master).unwrap();
    let master = hex::encode(master);
    let dir = tempfile::tempdir().unwrap();
    let (hook, codes) = gateway().await;
    let config = dir.path().join("provisio.toml");
    std::fs::write(&config, format!("notification_webhook = \"{hook}\"\n")).unwrap();
    let a = start(&url, &master, &config, &dir.path().join("a")).await;
    let b = start(&url, &master, &config, &dir.path().join("b")).await;

    // The same keys everywhere: either instance opens what the other's JWKS sealed.
    let jwks = a.api.jwks().await.unwrap();
    assert_eq!(
        serde_json::to_value(&jwks).unwrap(),
        serde_json::to_value(b.api.jwks().await.unwrap()).unwrap()
    );
    let issuer_key = crypto.generate_ec_key().unwrap();
    let kid = jwk_thumbprint(&crypto, issuer_key.public_key());
    let mut jwk = Jwk::from_public_key(issuer_key.public_key());
    jwk.kid = Some(kid.clone());
    // Its pushes keep the step-up (docs/protocol.md §17.6), so a code can be checked across
    // the instances below.
    a.api
        .register_issuer_with(&serde_json::json!({
            "issuer_id": "bank", "name": "Bank", "signing_jwk": jwk, "push_step_up": true,
        }))
        .await
        .unwrap();
    let wallet_key = b
        .api
        .register_token_requestor(TRID, "Wallet", "external")
        .await
        .unwrap();
    let (wa, wb) = (a.api.with_key(&wallet_key), b.api.with_key(&wallet_key));
    let bank = Bank {
        crypto: AwsLcProvider::new(),
        issuer: IssuerApp::new("bank", &kid, issuer_key, "provisio"),
        jwks,
    };

    // The same push request sent to both at once is accepted once.
    let wallet = WalletApp::new(&crypto, TRID, "user-1", "device-1").unwrap();
    let req = bank.request(&wallet, &pan(1), None);
    let (ra, rb) = tokio::join!(
        wa.push_provisioning(&req, None),
        wb.push_provisioning(&req, None)
    );
    let codes_of = |r: &Result<_, provisio_client::ClientError>| {
        r.as_ref().err().and_then(|e| e.code()).map(str::to_owned)
    };
    let outcomes = [codes_of(&ra), codes_of(&rb)];
    assert!(
        outcomes.contains(&None) && outcomes.contains(&Some("replayed_request".into())),
        "{outcomes:?}"
    );
    let first = ra.or(rb).unwrap();
    assert_eq!(first.decision, Decision::Approved);

    // Velocity counts across instances: with three earlier attempts for one card in the last
    // hour, split between the instances, the rule fires. Each attempt is on a phone of its
    // own: a phone holds one live token of a card ("already in wallet").
    let phone = |device: &str| WalletApp::new(&crypto, TRID, "user-1", device).unwrap();
    let velocity = |r: &provisio_tsp::wire::PushProvisioningResponse| {
        r.risk.reasons.iter().any(|x| x.code == "card_velocity_1h")
    };
    let second = wb
        .push_provisioning(&bank.request(&phone("device-1b"), &pan(1), None), None)
        .await
        .unwrap();
    assert!(!velocity(&first) && !velocity(&second));
    let third = wa
        .push_provisioning(&bank.request(&phone("device-1c"), &pan(1), None), None)
        .await
        .unwrap();
    assert!(!velocity(&third), "{:?}", third.risk.reasons);
    let fourth = wb
        .push_provisioning(&bank.request(&phone("device-1d"), &pan(1), None), None)
        .await
        .unwrap();
    assert!(velocity(&fourth), "{:?}", fourth.risk.reasons);

    // A code sent through one instance and verified on the other cannot be used again.
    let other = WalletApp::new(&crypto, TRID, "user-2", "device-2").unwrap();
    let held = wa
        .push_provisioning(
            &bank.request(&other, &pan(2), Some(WalletRiskInfo::level(5, true))),
            None,
        )
        .await
        .unwrap();
    assert_eq!(held.decision, Decision::StepUpRequired);
    let pv = held.provisioning_id.clone();
    let sent = wa
        .send_otp(
            &pv,
            &OtpSendRequest {
                method_id: held.step_up.as_ref().unwrap().methods[0].method_id.clone(),
                wallet_user_id: "user-2".into(),
                device_id: "device-2".into(),
            },
        )
        .await
        .unwrap();
    let mut code = None;
    for _ in 0..200 {
        code = codes.lock().unwrap().iter().find_map(|m| {
            m["text"]
                .as_str()
                .and_then(|t| {
                    t.split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                })
                .map(str::to_owned)
        });
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let verify = OtpVerifyRequest {
        otp_id: sent.otp_id,
        code: code.expect("the gateway never got the code"),
        wallet_user_id: "user-2".into(),
        device_id: "device-2".into(),
    };
    let passed = wb.verify_otp(&pv, &verify).await.unwrap();
    assert_eq!(passed.token.status, "ACTIVE");
    let again = wa.verify_otp(&pv, &verify).await.unwrap_err();
    assert_eq!(again.code(), Some("otp_used"), "{again}");

    // Killing an instance loses nothing it acknowledged: the other serves its records.
    let acknowledged = third.provisioning_id.clone();
    drop(a);
    let script = third.script.as_ref().unwrap();
    let report = provisio_tsp::wire::ScriptReportRequest {
        script_id: script.script_id.clone(),
        wallet_user_id: "user-1".into(),
        device_id: "device-1c".into(),
        steps: script
            .steps
            .iter()
            .map(|s| provisio_tsp::StepReport {
                seq: s.seq,
                result: provisio_tsp::StepResult::Ok,
            })
            .collect(),
    };
    let done = wb.script_report(&acknowledged, &report).await.unwrap();
    assert!(done.payment_ready);
    let replay = wb.push_provisioning(&req, None).await.unwrap_err();
    assert_eq!(replay.code(), Some("replayed_request"));
}

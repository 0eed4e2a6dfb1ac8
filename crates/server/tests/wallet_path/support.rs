//! A harness whose issuer has a card range, a fake decisioning endpoint the test scripts, and
//! the wallet core's card request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use provisio_crypto::{CryptoProvider, EcKeyPair};
use provisio_jose::Jwk;
use provisio_tsp::wallet_wire::WalletProvisioningRequest;
use provisio_tsp::wire::WalletRiskInfo;
use provisio_tsp::{TspConfig, jwk_thumbprint};
use serde_json::{Value, json};

pub(crate) use crate::common::*;
use provisio_server::Clock;

/// What the fake issuer does with the next calls.
#[derive(Debug, Clone)]
pub(crate) enum Behaviour {
    /// Answers this status and body after this delay.
    Answer(u16, String, Duration),
}

/// The issuer's decisioning endpoint, as a test scripts it.
pub(crate) struct FakeIssuer {
    pub(crate) url: String,
    pub(crate) key: EcKeyPair,
    pub(crate) kid: String,
    behaviour: Arc<Mutex<Behaviour>>,
    received: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Shared {
    behaviour: Arc<Mutex<Behaviour>>,
    received: Arc<Mutex<Vec<String>>>,
}

async fn decide(State(s): State<Shared>, body: Bytes) -> impl IntoResponse {
    s.received
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    let Behaviour::Answer(status, body, delay) = s.behaviour.lock().unwrap().clone();
    tokio::time::sleep(delay).await;
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
}

impl FakeIssuer {
    pub(crate) async fn start(crypto: &dyn CryptoProvider) -> Self {
        let shared = Shared {
            behaviour: Arc::new(Mutex::new(Behaviour::Answer(
                200,
                json!({"decision": "APPROVE"}).to_string(),
                Duration::ZERO,
            ))),
            received: Arc::default(),
        };
        let app = Router::new()
            .route("/decide", axum::routing::post(decide))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/decide", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let key = crypto.generate_ec_key().unwrap();
        let kid = jwk_thumbprint(crypto, key.public_key());
        Self {
            url,
            key,
            kid,
            behaviour: shared.behaviour,
            received: shared.received,
        }
    }

    /// Answers 200 with `body` from now on.
    pub(crate) fn answers(&self, body: Value) {
        self.behaves(Behaviour::Answer(200, body.to_string(), Duration::ZERO));
    }

    pub(crate) fn behaves(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    /// The signed requests received so far.
    pub(crate) fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    pub(crate) fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_public_key(self.key.public_key());
        jwk.kid = Some(self.kid.clone());
        serde_json::to_value(jwk).unwrap()
    }
}

/// The harness (its issuer `bank-a` owning the range of the harness's PAN), with or without a
/// decisioning endpoint, the service configured by `config`.
pub(crate) async fn wallet_harness(
    config: TspConfig,
    decisioning: bool,
) -> (Harness, Option<FakeIssuer>) {
    let h = harness_with(config).await;
    let (s, v) = admin(
        &h,
        "PUT",
        "/v1/admin/issuers/bank-a/bin-ranges",
        json!({"bin_ranges": ["400012"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let fake = if decisioning {
        let fake = FakeIssuer::start(&h.crypto).await;
        let (s, v) = admin(
            &h,
            "PUT",
            "/v1/admin/issuers/bank-a/decisioning",
            json!({"url": fake.url, "encryption_jwk": fake.jwk()}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        Some(fake)
    } else {
        None
    };
    (h, fake)
}

pub(crate) async fn admin(
    h: &Harness,
    method: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    call(
        &h.app,
        method,
        path,
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await
}

/// The wallet core's request for the harness's card on `device`, entered with a CVC2.
pub(crate) fn entered(
    h: &Harness,
    device: &str,
    risk: Option<WalletRiskInfo>,
) -> WalletProvisioningRequest {
    let wallet = provisio_apps::WalletApp::new(&h.crypto, TRID, "user-1", device).unwrap();
    wallet
        .card_request(
            &h.crypto,
            &h.jwks,
            &card(),
            Some("123"),
            h.clock.now(),
            risk,
        )
        .unwrap()
}

pub(crate) async fn provision(h: &Harness, req: &WalletProvisioningRequest) -> (StatusCode, Value) {
    provision_raw(h, serde_json::to_vec(req).unwrap(), None).await
}

pub(crate) async fn provision_raw(
    h: &Harness,
    body: Vec<u8>,
    idem: Option<&str>,
) -> (StatusCode, Value) {
    call(
        &h.app,
        "POST",
        "/v1/provisionings",
        Some(&h.wallet_key),
        body,
        idem,
    )
    .await
}

/// The reason codes of an answer's risk.
pub(crate) fn reasons(v: &Value) -> Vec<String> {
    v["risk"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Sends a code by the step-up's first method (an SMS, which must go to `phone`), verifies it
/// and answers the verification's 200 body.
pub(crate) async fn pass_by_sms(
    h: &Harness,
    sink: &provisio_server::MemorySink,
    pv: &Value,
    device: &str,
    phone: &str,
) -> Value {
    let id = pv["provisioning_id"].as_str().unwrap();
    let post = |path: String, body: Value| async move {
        call(
            &h.app,
            "POST",
            &path,
            Some(&h.wallet_key),
            body.to_string().into_bytes(),
            None,
        )
        .await
    };
    let method = &pv["step_up"]["methods"][0]["method_id"];
    let (s, sent) = post(
        format!("/v1/provisionings/{id}/step-up/otp"),
        json!({"method_id": method, "wallet_user_id": "user-1", "device_id": device}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let code = nth_code(sink, 0).await;
    assert_eq!(sink.delivered()[0].to, phone);
    let (s, passed) = post(
        format!("/v1/provisionings/{id}/step-up/verify"),
        json!({"otp_id": sent["otp_id"], "code": code, "wallet_user_id": "user-1", "device_id": device}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{passed}");
    passed
}

//! The server test harness: a router on a temporary SQLite store with a settable clock, a
//! registered issuer and wallet, and the SDK cores.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use provisio_apps::{CardDetails, IssuerApp, WalletApp};
use provisio_crypto::{AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_jose::{Jwk, JwkSet};
use provisio_server::{AppState, Clock, SystemClock, bootstrap};
use provisio_store::{SqlStore, Store};
use provisio_tsp::wire::{PushProvisioningRequest, RequestClaims};
use provisio_tsp::{Contact, TspConfig, jwk_thumbprint};
use provisio_types::Pan;
use serde_json::Value;
use tower::ServiceExt;

/// A clock the test moves.
#[derive(Debug)]
pub struct TestClock(pub AtomicI64);

impl TestClock {
    /// Moves time forward.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub const PAN: &str = "4000123456789017";
pub const TRID: &str = "40010030273";
pub const ADMIN: &str = "pvk_test-admin-key-0123456789abcdef";

pub struct Harness {
    pub app: Router,
    pub state: AppState,
    pub crypto: AwsLcProvider,
    pub wallet_key: String,
    pub issuer_api_key: String,
    pub issuer: IssuerApp,
    pub issuer_kid: String,
    pub wallet: WalletApp,
    pub jwks: JwkSet,
    pub clock: Arc<TestClock>,
    /// The database: a SQLite file in the test's directory, or a fresh PostgreSQL database.
    pub db_url: String,
    /// Pushes made so far: each after the first goes to a device of its own, since a device
    /// holds one live token per card (pushing the same card there again is "already in
    /// wallet").
    pushes: std::sync::atomic::AtomicU64,
    _dir: tempfile::TempDir,
}

pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Vec<u8>,
    idem: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some(i) = idem {
        req = req.header("idempotency-key", i);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        assert!(is_problem, "{status} without application/problem+json");
    }
    (status, value)
}

pub async fn harness() -> Harness {
    harness_with(TspConfig::default()).await
}

/// The harness with the service configured by `config` (retry timings, time limits).
pub async fn harness_with(config: TspConfig) -> Harness {
    harness_of(config, false).await
}

/// The harness whose issuer registered `push_step_up: true`: its pushes in the step-up band
/// step up instead of being approved as authenticated by its app (docs/protocol.md §17.6),
/// which is how the step-up machinery is reached through a push.
#[allow(dead_code)]
pub async fn harness_stepping_up() -> Harness {
    harness_of(TspConfig::default(), true).await
}

/// The harness with `config`, its issuer registered with `push_step_up`.
pub async fn harness_of(config: TspConfig, push_step_up: bool) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = provisio_testkit::postgres::store_url(dir.path(), "t.db").await;
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url).await.unwrap());
    let master = SecretBytes::new(vec![7; 32]);
    let clock = Arc::new(TestClock(AtomicI64::new(SystemClock.now())));
    let state = bootstrap(store, &master, ADMIN, config, clock.clone())
        .await
        .unwrap();
    let app = provisio_server::router(state.clone());
    let crypto = AwsLcProvider::new();
    let key = crypto.generate_ec_key().unwrap();
    let kid = jwk_thumbprint(&crypto, key.public_key());
    let mut jwk = Jwk::from_public_key(key.public_key());
    jwk.kid = Some(kid.clone());
    let body = serde_json::json!({"issuer_id": "bank-a", "name": "Bank A", "signing_jwk": jwk, "push_step_up": push_step_up});
    let (s, v) = call(
        &app,
        "POST",
        "/v1/admin/issuers",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let issuer_api_key = v["api_key"].as_str().unwrap().to_owned();
    let body = serde_json::json!({"token_requestor_id": TRID, "name": "Wallet"});
    let (s, v) = call(
        &app,
        "POST",
        "/v1/admin/token-requestors",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let wallet_key = v["api_key"].as_str().unwrap().to_owned();
    let (_, jwks) = call(&app, "GET", "/v1/keys/jwks.json", None, vec![], None).await;
    Harness {
        app,
        state,
        wallet: WalletApp::new(&crypto, TRID, "user-1", "device-1").unwrap(),
        issuer: IssuerApp::new("bank-a", &kid, key, "provisio"),
        issuer_kid: kid,
        crypto,
        wallet_key,
        issuer_api_key,
        jwks: serde_json::from_value(jwks).unwrap(),
        clock,
        db_url: url,
        pushes: std::sync::atomic::AtomicU64::new(0),
        _dir: dir,
    }
}

pub fn card() -> CardDetails {
    CardDetails {
        pan: Pan::parse(PAN).unwrap(),
        exp_month: 12,
        exp_year: 2030,
        name: "A Holder".into(),
        contact: Some(Contact {
            phone: Some("+15551230001".into()),
            email: Some("holder@example.com".into()),
        }),
    }
}

impl Harness {
    pub fn claims(&self) -> (RequestClaims, provisio_apps::WalletAnswer) {
        let start = self.issuer.start_session(&self.crypto).unwrap();
        let mut answer = self.wallet.answer(&start);
        let n = self
            .pushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            answer.device_id = format!("{}-{n}", answer.device_id);
        }
        let claims = self
            .issuer
            .claims(&self.crypto, &answer, &card(), self.clock.now())
            .unwrap();
        (claims, answer)
    }

    pub fn request_with(&self, tweak: impl FnOnce(&mut RequestClaims)) -> PushProvisioningRequest {
        let (mut claims, answer) = self.claims();
        tweak(&mut claims);
        let jwe = self
            .issuer
            .request_data(&self.crypto, &claims, &self.jwks)
            .unwrap();
        self.wallet.push_request(&answer, jwe, None)
    }

    pub async fn push(&self, req: &PushProvisioningRequest) -> (StatusCode, Value) {
        self.push_raw(serde_json::to_vec(req).unwrap(), None).await
    }

    pub async fn push_raw(&self, body: Vec<u8>, idem: Option<&str>) -> (StatusCode, Value) {
        call(
            &self.app,
            "POST",
            "/v1/push-provisioning",
            Some(&self.wallet_key),
            body,
            idem,
        )
        .await
    }

    pub async fn token_count(&self) -> u64 {
        let h = self
            .state
            .keys
            .vault()
            .lookup_hash(&self.crypto, "pan", PAN);
        self.state.store.count_tokens_by_pan_hash(&h).await.unwrap()
    }
}

pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<none>")
}

/// Waits for the `n`th message the gateway got and returns its six-digit code.
pub async fn nth_code(sink: &provisio_server::MemorySink, n: usize) -> String {
    for _ in 0..500 {
        if let Some(m) = sink.delivered().get(n) {
            return m
                .text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .unwrap()
                .to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("message {n} never delivered");
}

//! What the token-life tests share: calls, pushes, participants, and a webhook receiver.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use crate::common::{code as problem, *};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use provisio_apps::WalletApp;
use provisio_crypto::CryptoProvider;
use provisio_jose::{Jwk, JwkSet, KeyUse};
use provisio_server::Clock;
use provisio_tsp::wire::{PushProvisioningRequest, WalletRiskInfo};
use provisio_tsp::{EventConfig, TspConfig, jwk_thumbprint};
use provisio_types::luhn_valid;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A second issuer and a second token requestor, registered through the admin API.
pub(crate) const OTHER_ISSUER: &str = "bank-b";
pub(crate) const OTHER_TRID: &str = "40010030281";

/// A JSON call with `body` (`Value::Null` sends an empty body).
pub(crate) async fn send(
    h: &Harness,
    method: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    call(&h.app, method, path, Some(key), bytes, None).await
}

pub(crate) async fn get_token(h: &Harness, key: &str, id: &str) -> (StatusCode, Value) {
    send(h, "GET", &format!("/v1/tokens/{id}"), key, Value::Null).await
}

/// `POST /v1/tokens/{id}/{action}` with `{"reason": reason}`.
pub(crate) async fn change(
    h: &Harness,
    key: &str,
    id: &str,
    action: &str,
    reason: &str,
) -> (StatusCode, Value) {
    let path = format!("/v1/tokens/{id}/{action}");
    send(h, "POST", &path, key, json!({ "reason": reason })).await
}

pub(crate) async fn search(h: &Harness, key: &str, body: Value) -> (StatusCode, Value) {
    send(h, "POST", "/v1/tokens/search", key, body).await
}

/// The token reference ids of a `{"tokens": [...]}` answer, in order.
pub(crate) fn ids(v: &Value) -> Vec<String> {
    v["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("no tokens in {v}"))
        .iter()
        .map(|t| t["token_ref_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The number of history entries of a token, read by the admin.
pub(crate) async fn history_len(h: &Harness, id: &str) -> usize {
    let (s, v) = get_token(h, ADMIN, id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["history"].as_array().unwrap().len()
}

/// The newest history entry as `(status, reason, actor)`.
pub(crate) fn last_entry(token: &Value) -> (String, String, String) {
    let e = token["history"].as_array().unwrap().last().unwrap();
    let s = |k: &str| e[k].as_str().unwrap().to_owned();
    (s("status"), s("reason"), s("actor"))
}

pub(crate) fn entry(status: &str, reason: &str, actor: &str) -> (String, String, String) {
    (status.into(), reason.into(), actor.into())
}

/// A push of the harness's card by `wallet` to `device` (the harness's own `request_with`
/// gives each push a device of its own; these tests choose).
pub(crate) fn request_on(h: &Harness, wallet: &WalletApp, device: &str) -> PushProvisioningRequest {
    request_for(h, wallet, device, &card())
}

/// A push of `card` by `wallet` to `device`.
pub(crate) fn request_for(
    h: &Harness,
    wallet: &WalletApp,
    device: &str,
    card: &provisio_apps::CardDetails,
) -> PushProvisioningRequest {
    let start = h.issuer.start_session(&h.crypto).unwrap();
    let mut answer = wallet.answer(&start);
    answer.device_id = device.to_owned();
    let claims = h
        .issuer
        .claims(&h.crypto, &answer, card, h.clock.now())
        .unwrap();
    let jwe = h.issuer.request_data(&h.crypto, &claims, &h.jwks).unwrap();
    wallet.push_request(&answer, jwe, None)
}

/// An approved push to `device`: the answer's `token`.
pub(crate) async fn push_on(h: &Harness, wallet: &WalletApp, device: &str) -> Value {
    let (s, v) = h.push(&request_on(h, wallet, device)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED", "{v}");
    assert_eq!(v["token"]["status"], "ACTIVE");
    v["token"].clone()
}

pub(crate) fn token_id(token: &Value) -> String {
    token["token_ref_id"].as_str().unwrap().to_owned()
}

/// A push the merge holds for step-up (the wallet's non-override 5 is below the service's
/// level for a new account): the whole answer, with the device it went to.
pub(crate) async fn step_up_push(h: &Harness, device: &str) -> Value {
    let mut req = request_on(h, &h.wallet, device);
    req.wallet_risk = Some(WalletRiskInfo::level(5, true));
    let (s, mut v) = h.push(&req).await;
    assert_eq!(
        (s, v["decision"].as_str()),
        (StatusCode::OK, Some("STEP_UP_REQUIRED")),
        "{v}"
    );
    assert_eq!(v["token"]["status"], "INACTIVE");
    v["device_id"] = json!(device);
    v
}

/// A wallet user of the harness's token requestor other than `user-1`.
pub(crate) fn second_user(h: &Harness) -> WalletApp {
    WalletApp::new(&h.crypto, TRID, "user-2", "device-u2").unwrap()
}

/// Registers `bank-b` (with a key of its own) and answers its API key.
pub(crate) async fn register_other_issuer(h: &Harness) -> String {
    let key = h.crypto.generate_ec_key().unwrap();
    let kid = jwk_thumbprint(&h.crypto, key.public_key());
    let mut jwk = Jwk::from_public_key(key.public_key());
    jwk.kid = Some(kid);
    let body = json!({"issuer_id": OTHER_ISSUER, "name": "Bank B", "signing_jwk": jwk});
    let (s, v) = send(h, "POST", "/v1/admin/issuers", ADMIN, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["api_key"].as_str().unwrap().to_owned()
}

/// Registers a second token requestor and answers its API key.
pub(crate) async fn register_other_wallet(h: &Harness) -> String {
    let body = json!({"token_requestor_id": OTHER_TRID, "name": "Other wallet"});
    let (s, v) = send(h, "POST", "/v1/admin/token-requestors", ADMIN, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["api_key"].as_str().unwrap().to_owned()
}

/// `PUT /v1/admin/{participants}/{id}/notifications` with `{"url": url}`.
pub(crate) async fn set_url(
    h: &Harness,
    key: &str,
    participants: &str,
    id: &str,
    url: &str,
) -> (StatusCode, Value) {
    let path = format!("/v1/admin/{participants}/{id}/notifications");
    send(h, "PUT", &path, key, json!({ "url": url })).await
}

/// A GET answered as text (`/metrics`).
pub(crate) async fn text(app: &Router, path: &str) -> String {
    let req = Request::builder().uri(path).body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub(crate) async fn dead_events(h: &Harness) -> Vec<Value> {
    let (s, v) = send(h, "GET", "/v1/admin/events/dead", ADMIN, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["events"].as_array().unwrap().clone()
}

/// A Luhn-valid PAN other than the harness's, for a reissued card.
pub(crate) fn new_pan() -> String {
    (0..10)
        .map(|d| format!("400012345678902{d}"))
        .find(|p| luhn_valid(p))
        .unwrap()
}

/// Runs `done` until it holds, moving the clock `step` seconds between tries so retries fall
/// due; a bounded number of short sleeps (the deliverer polls once a second).
pub(crate) async fn eventually<F, Fut>(h: &Harness, step: i64, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if done().await {
            return;
        }
        h.clock.advance(step);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

pub(crate) fn config_with_events(max_attempts: u32) -> TspConfig {
    TspConfig {
        events: EventConfig {
            max_attempts,
            first_retry_s: 1,
            max_retry_s: 2,
        },
        ..TspConfig::default()
    }
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub(crate) content_type: Option<String>,
    pub(crate) body: String,
    pub(crate) accepted: bool,
}

/// An HTTP receiver of token events on loopback: it answers 500 while `failures_left` is
/// above zero (counting down), then 200, and records every POST.
#[derive(Debug, Default)]
pub(crate) struct Receiver {
    pub(crate) failures_left: AtomicUsize,
    pub(crate) posts: Mutex<Vec<Post>>,
}

impl Receiver {
    /// Starts a receiver failing its first `failures` POSTs; answers it and its URL.
    pub(crate) async fn start(failures: usize) -> (Arc<Self>, String) {
        let rx = Arc::new(Self {
            failures_left: AtomicUsize::new(failures),
            posts: Mutex::default(),
        });
        let app = Router::new().fallback(Self::receive).with_state(rx.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (rx, format!("http://127.0.0.1:{}/events", addr.port()))
    }

    pub(crate) async fn receive(
        State(rx): State<Arc<Self>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let fail = rx
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        rx.posts.lock().unwrap().push(Post {
            content_type: headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: String::from_utf8_lossy(&body).into_owned(),
            accepted: !fail,
        });
        if fail {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }

    pub(crate) fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    pub(crate) fn accepted(&self) -> Vec<Post> {
        self.posts().into_iter().filter(|p| p.accepted).collect()
    }

    pub(crate) fn fail_forever(&self) {
        self.failures_left.store(usize::MAX, Ordering::SeqCst);
    }

    pub(crate) fn succeed(&self) {
        self.failures_left.store(0, Ordering::SeqCst);
    }
}

/// Verifies a delivered event under the service's published signing keys and returns its
/// claims; checks the header and that nothing of the PAN travels.
pub(crate) fn open_event(h: &Harness, jwks: &JwkSet, post: &Post) -> Value {
    assert_eq!(post.content_type.as_deref(), Some("application/jose"));
    assert_eq!(
        post.body.split('.').count(),
        3,
        "a compact JWS: {}",
        post.body
    );
    assert!(!post.body.contains(PAN));
    let verified = provisio_jose::verify(&h.crypto, &post.body, |header| {
        jwks.keys
            .iter()
            .find(|k| k.kid == header.kid)
            .filter(|k| k.key_use == Some(KeyUse::Sig) && k.alg.as_deref() == Some("ES256"))
            .and_then(|k| k.public_key().ok())
            .ok_or(provisio_jose::JoseError::UnknownKey)
    })
    .expect("the event verifies under a published use:sig key");
    assert_eq!(verified.header.alg, "ES256");
    assert_eq!(
        verified.header.typ.as_deref(),
        Some("provisio-token-event+jws")
    );
    let payload = String::from_utf8(verified.payload).unwrap();
    assert!(!payload.contains(PAN), "{payload}");
    serde_json::from_str(&payload).unwrap()
}

/// The events of `posts`, verified, each once (the first copy of each `event_id`), in the
/// order they arrived.
pub(crate) fn distinct_events(h: &Harness, jwks: &JwkSet, posts: &[Post]) -> Vec<Value> {
    let mut seen = HashSet::new();
    posts
        .iter()
        .map(|p| open_event(h, jwks, p))
        .filter(|e| seen.insert(e["event_id"].as_str().unwrap().to_owned()))
        .collect()
}

pub(crate) async fn published_keys(h: &Harness) -> JwkSet {
    let (s, v) = call(&h.app, "GET", "/v1/keys/jwks.json", None, vec![], None).await;
    assert_eq!(s, StatusCode::OK);
    serde_json::from_value(v).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Reading a token
// ---------------------------------------------------------------------------------------------

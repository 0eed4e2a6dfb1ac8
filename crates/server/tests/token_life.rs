//! The token's life (docs/protocol.md §15) over the real router and store: reading and
//! searching tokens as each participant, the state machine and its refusals, concurrent
//! changes, "already in wallet", card-level changes and reissue, signed events to a real
//! HTTP receiver with retries and dead letters, the sweep of pending tokens, and the
//! notification settings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use common::{code as problem, *};
use provisio_apps::WalletApp;
use provisio_crypto::CryptoProvider;
use provisio_jose::{Jwk, JwkSet, KeyUse};
use provisio_server::{Clock, MemorySink, spawn_delivery, sweep_pending};
use provisio_tsp::records::TokenStatus;
use provisio_tsp::wire::{PushProvisioningRequest, WalletRiskInfo};
use provisio_tsp::{EventConfig, TspConfig, jwk_thumbprint};
use provisio_types::luhn_valid;
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A second issuer and a second token requestor, registered through the admin API.
const OTHER_ISSUER: &str = "bank-b";
const OTHER_TRID: &str = "40010030281";

/// A JSON call with `body` (`Value::Null` sends an empty body).
async fn send(
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

async fn get_token(h: &Harness, key: &str, id: &str) -> (StatusCode, Value) {
    send(h, "GET", &format!("/v1/tokens/{id}"), key, Value::Null).await
}

/// `POST /v1/tokens/{id}/{action}` with `{"reason": reason}`.
async fn change(
    h: &Harness,
    key: &str,
    id: &str,
    action: &str,
    reason: &str,
) -> (StatusCode, Value) {
    let path = format!("/v1/tokens/{id}/{action}");
    send(h, "POST", &path, key, json!({ "reason": reason })).await
}

async fn search(h: &Harness, key: &str, body: Value) -> (StatusCode, Value) {
    send(h, "POST", "/v1/tokens/search", key, body).await
}

/// The token reference ids of a `{"tokens": [...]}` answer, in order.
fn ids(v: &Value) -> Vec<String> {
    v["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("no tokens in {v}"))
        .iter()
        .map(|t| t["token_ref_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The number of history entries of a token, read by the admin.
async fn history_len(h: &Harness, id: &str) -> usize {
    let (s, v) = get_token(h, ADMIN, id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["history"].as_array().unwrap().len()
}

/// The newest history entry as `(status, reason, actor)`.
fn last_entry(token: &Value) -> (String, String, String) {
    let e = token["history"].as_array().unwrap().last().unwrap();
    let s = |k: &str| e[k].as_str().unwrap().to_owned();
    (s("status"), s("reason"), s("actor"))
}

fn entry(status: &str, reason: &str, actor: &str) -> (String, String, String) {
    (status.into(), reason.into(), actor.into())
}

/// A push of the harness's card by `wallet` to `device` (the harness's own `request_with`
/// gives each push a device of its own; these tests choose).
fn request_on(h: &Harness, wallet: &WalletApp, device: &str) -> PushProvisioningRequest {
    request_for(h, wallet, device, &card())
}

/// A push of `card` by `wallet` to `device`.
fn request_for(
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
async fn push_on(h: &Harness, wallet: &WalletApp, device: &str) -> Value {
    let (s, v) = h.push(&request_on(h, wallet, device)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED", "{v}");
    assert_eq!(v["token"]["status"], "ACTIVE");
    v["token"].clone()
}

fn token_id(token: &Value) -> String {
    token["token_ref_id"].as_str().unwrap().to_owned()
}

/// A push the merge holds for step-up (the wallet's non-override 5 is below the service's
/// level for a new account): the whole answer, with the device it went to.
async fn step_up_push(h: &Harness, device: &str) -> Value {
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
fn second_user(h: &Harness) -> WalletApp {
    WalletApp::new(&h.crypto, TRID, "user-2", "device-u2").unwrap()
}

/// Registers `bank-b` (with a key of its own) and answers its API key.
async fn register_other_issuer(h: &Harness) -> String {
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
async fn register_other_wallet(h: &Harness) -> String {
    let body = json!({"token_requestor_id": OTHER_TRID, "name": "Other wallet"});
    let (s, v) = send(h, "POST", "/v1/admin/token-requestors", ADMIN, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["api_key"].as_str().unwrap().to_owned()
}

/// `PUT /v1/admin/{participants}/{id}/notifications` with `{"url": url}`.
async fn set_url(
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
async fn text(app: &Router, path: &str) -> String {
    let req = Request::builder().uri(path).body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn dead_events(h: &Harness) -> Vec<Value> {
    let (s, v) = send(h, "GET", "/v1/admin/events/dead", ADMIN, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["events"].as_array().unwrap().clone()
}

/// A Luhn-valid PAN other than the harness's, for a reissued card.
fn new_pan() -> String {
    (0..10)
        .map(|d| format!("400012345678902{d}"))
        .find(|p| luhn_valid(p))
        .unwrap()
}

/// Runs `done` until it holds, moving the clock `step` seconds between tries so retries fall
/// due; a bounded number of short sleeps (the deliverer polls once a second).
async fn eventually<F, Fut>(h: &Harness, step: i64, what: &str, mut done: F)
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

/// Waits for the `n`th delivered step-up message and returns its code.
async fn nth_code(sink: &MemorySink, n: usize) -> String {
    for _ in 0..500 {
        if let Some(m) = sink.delivered().get(n) {
            return m
                .text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .unwrap()
                .to_owned();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("message {n} never delivered");
}

fn config_with_events(max_attempts: u32) -> TspConfig {
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
struct Post {
    content_type: Option<String>,
    body: String,
    accepted: bool,
}

/// An HTTP receiver of token events on loopback: it answers 500 while `failures_left` is
/// above zero (counting down), then 200, and records every POST.
#[derive(Debug, Default)]
struct Receiver {
    failures_left: AtomicUsize,
    posts: Mutex<Vec<Post>>,
}

impl Receiver {
    /// Starts a receiver failing its first `failures` POSTs; answers it and its URL.
    async fn start(failures: usize) -> (Arc<Self>, String) {
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

    async fn receive(State(rx): State<Arc<Self>>, headers: HeaderMap, body: Bytes) -> StatusCode {
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

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<Post> {
        self.posts().into_iter().filter(|p| p.accepted).collect()
    }

    fn fail_forever(&self) {
        self.failures_left.store(usize::MAX, Ordering::SeqCst);
    }

    fn succeed(&self) {
        self.failures_left.store(0, Ordering::SeqCst);
    }
}

/// Verifies a delivered event under the service's published signing keys and returns its
/// claims; checks the header and that nothing of the PAN travels.
fn open_event(h: &Harness, jwks: &JwkSet, post: &Post) -> Value {
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
fn distinct_events(h: &Harness, jwks: &JwkSet, posts: &[Post]) -> Vec<Value> {
    let mut seen = HashSet::new();
    posts
        .iter()
        .map(|p| open_event(h, jwks, p))
        .filter(|e| seen.insert(e["event_id"].as_str().unwrap().to_owned()))
        .collect()
}

async fn published_keys(h: &Harness) -> JwkSet {
    let (s, v) = call(&h.app, "GET", "/v1/keys/jwks.json", None, vec![], None).await;
    assert_eq!(s, StatusCode::OK);
    serde_json::from_value(v).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Reading a token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_is_read_by_its_issuer_wallet_and_admin_and_unknown_to_everyone_else() {
    let h = harness().await;
    let other_issuer = register_other_issuer(&h).await;
    let other_wallet = register_other_wallet(&h).await;
    let pushed = push_on(&h, &h.wallet, "device-1").await;
    let id = token_id(&pushed);

    let mut seen = Vec::new();
    for key in [&h.issuer_api_key, &h.wallet_key, &ADMIN.to_owned()] {
        let (s, v) = get_token(&h, key, &id).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["token_ref_id"], id.as_str());
        assert_eq!(v["status"], "ACTIVE");
        assert_eq!(v["issuer_id"], "bank-a");
        assert_eq!(v["token_requestor_id"], TRID);
        assert_eq!(v["wallet_user_id"], "user-1");
        assert_eq!(v["device_id"], "device-1");
        assert_eq!(v["last4"], pushed["last4"]);
        assert_eq!(v["account_ref"], pushed["account_ref"]);
        let account_ref = v["account_ref"].as_str().unwrap();
        assert!(account_ref.starts_with("ar_"), "{account_ref}");
        assert!(v["created_at"].as_i64().unwrap() > 0);
        let history = v["history"].as_array().unwrap();
        assert_eq!(history.len(), 1, "the creation: {v}");
        assert_eq!(history[0]["status"], "ACTIVE");
        for k in ["reason", "actor", "at"] {
            assert!(!history[0][k].is_null(), "history entry without {k}: {v}");
        }
        let body = v.to_string();
        assert!(!body.contains(PAN), "no PAN in {body}");
        assert!(!body.contains(&PAN[..12]), "no part of the PAN in {body}");
        assert!(v.get("pan").is_none() && v.get("token_pan").is_none());
        seen.push(v);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "every reader sees the same token"
    );

    // Not the caller's is the same answer as does not exist.
    let (s, missing) = get_token(&h, &h.issuer_api_key, "tr_does_not_exist").await;
    assert_eq!(
        (s, problem(&missing)),
        (StatusCode::NOT_FOUND, "unknown_token")
    );
    for key in [&other_issuer, &other_wallet] {
        let (s, v) = get_token(&h, key, &id).await;
        assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
        assert_eq!(v, missing, "a foreign token is indistinguishable from none");
        // Nor may they change it, with the same answer.
        let (s, v) = change(&h, key, &id, "suspend", "FRAUD").await;
        assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
    }
    let (s, v) = change(
        &h,
        &h.issuer_api_key,
        "tr_does_not_exist",
        "suspend",
        "FRAUD",
    )
    .await;
    assert_eq!((s, problem(&v)), (StatusCode::NOT_FOUND, "unknown_token"));
    assert_eq!(
        history_len(&h, &id).await,
        1,
        "the refused changes left no trace"
    );

    let (s, _) = call(
        &h.app,
        "GET",
        &format!("/v1/tokens/{id}"),
        None,
        vec![],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// 2. Search
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn search_finds_the_callers_live_tokens_by_card_or_by_wallet() {
    let h = harness().await;
    let other_issuer = register_other_issuer(&h).await;
    let other_wallet = register_other_wallet(&h).await;
    let user2 = second_user(&h);
    // A second apart: answers list the oldest first.
    let a = token_id(&push_on(&h, &h.wallet, "device-a").await);
    h.clock.advance(1);
    let b = token_id(&push_on(&h, &h.wallet, "device-b").await);
    h.clock.advance(1);
    let c = token_id(&push_on(&h, &user2, "device-c").await);

    // An issuer by PAN, in the body.
    let (s, v) = search(&h, &h.issuer_api_key, json!({ "pan": PAN })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str(), c.as_str()]);
    assert!(!v.to_string().contains(PAN));
    assert!(
        v["tokens"][0]["history"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
    let (_, v) = search(&h, &other_issuer, json!({ "pan": PAN })).await;
    assert!(ids(&v).is_empty(), "another issuer's card tokens: {v}");

    // A token requestor by user, by device, by both.
    let wallet = |body: Value| search(&h, &h.wallet_key, body);
    assert_eq!(
        ids(&wallet(json!({"wallet_user_id": "user-1"})).await.1),
        [a.as_str(), b.as_str()]
    );
    assert_eq!(
        ids(&wallet(json!({"wallet_user_id": "user-2"})).await.1),
        [c.as_str()]
    );
    assert_eq!(
        ids(&wallet(json!({"device_id": "device-b"})).await.1),
        [b.as_str()]
    );
    let both = json!({"wallet_user_id": "user-2", "device_id": "device-c"});
    assert_eq!(ids(&wallet(both).await.1), [c.as_str()]);
    let crossed = json!({"wallet_user_id": "user-1", "device_id": "device-c"});
    assert!(ids(&wallet(crossed).await.1).is_empty());
    let (_, v) = search(&h, &other_wallet, json!({"wallet_user_id": "user-1"})).await;
    assert!(ids(&v).is_empty(), "another wallet's tokens: {v}");

    // Each role searches its own way.
    for (key, body) in [
        (
            &h.issuer_api_key,
            json!({"pan": PAN, "wallet_user_id": "user-1"}),
        ),
        (&h.issuer_api_key, json!({"device_id": "device-a"})),
        (&h.issuer_api_key, json!({})),
        (&h.wallet_key, json!({"pan": PAN})),
        (&h.wallet_key, json!({"pan": PAN, "device_id": "device-a"})),
        (&h.wallet_key, json!({})),
        (&h.issuer_api_key, json!({"pan": "4000123456789018"})),
    ] {
        let (s, v) = search(&h, key, body.clone()).await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{body}"
        );
        assert!(!v.to_string().contains(PAN), "the PAN is never echoed: {v}");
    }
    // The PAN goes in the body only: one in the query string is not read.
    let (s, v) = call(
        &h.app,
        "POST",
        &format!("/v1/tokens/search?pan={PAN}"),
        Some(&h.issuer_api_key),
        b"{}".to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/tokens/search",
        Some(&h.wallet_key),
        b"{nope".to_vec(),
        None,
    )
    .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );

    // A deleted token leaves the searches but is still read, as DELETED.
    let (s, v) = change(&h, &h.wallet_key, &b, "delete", "CUSTOMER_REQUEST").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        ids(&search(&h, &h.issuer_api_key, json!({"pan": PAN})).await.1),
        [a.as_str(), c.as_str()]
    );
    assert_eq!(
        ids(&wallet(json!({"wallet_user_id": "user-1"})).await.1),
        [a.as_str()]
    );
    assert!(ids(&wallet(json!({"device_id": "device-b"})).await.1).is_empty());
    let (s, v) = get_token(&h, &h.issuer_api_key, &b).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("DELETED")));
    assert_eq!(
        last_entry(&v),
        entry("DELETED", "CUSTOMER_REQUEST", "TOKEN_REQUESTOR")
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The state machine over HTTP
// ---------------------------------------------------------------------------------------------

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

#[tokio::test]
async fn an_issuer_changes_every_token_of_a_card_and_relinks_them_on_reissue() {
    let h = harness().await;
    let other_issuer = register_other_issuer(&h).await;
    let a = token_id(&push_on(&h, &h.wallet, "device-a").await);
    h.clock.advance(1);
    let b = token_id(&push_on(&h, &h.wallet, "device-b").await);
    let card_call = async |key: &str, what: &str, body: Value| {
        send(&h, "POST", &format!("/v1/cards/{what}"), key, body).await
    };

    // Only the card's issuer reaches its tokens.
    let (s, v) = card_call(
        &h.wallet_key,
        "suspend",
        json!({"pan": PAN, "reason": "LOST"}),
    )
    .await;
    assert_eq!((s, problem(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = card_call(
        &other_issuer,
        "suspend",
        json!({"pan": PAN, "reason": "LOST"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(ids(&v).is_empty(), "{v}");
    let (s, v) = card_call(
        &h.issuer_api_key,
        "suspend",
        json!({"pan": PAN, "reason": "LOSTISH"}),
    )
    .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    for id in [&a, &b] {
        assert_eq!(get_token(&h, ADMIN, id).await.1["status"], "ACTIVE");
    }

    let (s, v) = card_call(
        &h.issuer_api_key,
        "suspend",
        json!({"pan": PAN, "reason": "STOLEN"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str()]);
    for id in [&a, &b] {
        let (_, t) = get_token(&h, &h.wallet_key, id).await;
        assert_eq!(t["status"], "SUSPENDED");
        assert_eq!(last_entry(&t), entry("SUSPENDED", "STOLEN", "ISSUER"));
        let (s, v) = change(&h, &h.wallet_key, id, "resume", "FOUND").await;
        assert_eq!(
            (s, problem(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "the issuer's suspension"
        );
    }

    // Reissued with a new number and expiry: the same tokens, still suspended, under the new PAN.
    let new = new_pan();
    let reissue = json!({"pan": PAN, "new_pan": new, "exp_month": 3, "exp_year": 2033});
    let (s, v) = card_call(&h.issuer_api_key, "reissue", reissue).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str()]);
    assert!(!v.to_string().contains(&new) && !v.to_string().contains(PAN));
    assert!(
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "SUSPENDED")
    );
    let (_, found) = search(&h, &h.issuer_api_key, json!({"pan": new})).await;
    assert_eq!(ids(&found), [a.as_str(), b.as_str()]);
    let (_, old) = search(&h, &h.issuer_api_key, json!({"pan": PAN})).await;
    assert!(
        ids(&old).is_empty(),
        "nothing is left under the old PAN: {old}"
    );
    for id in [&a, &b] {
        let (_, t) = get_token(&h, ADMIN, id).await;
        assert_eq!(t["status"], "SUSPENDED");
        assert_eq!(t["history"].as_array().unwrap().len(), 3);
        assert_eq!(last_entry(&t), entry("SUSPENDED", "OTHER", "ISSUER"));
        // The token now draws on the new card.
        let record = h.state.store.token(id).await.unwrap().unwrap();
        let aad = format!("token:{id}:pan");
        let pan = h
            .state
            .keys
            .vault()
            .open(&h.crypto, &record.pan, aad.as_bytes())
            .unwrap();
        assert_eq!(pan.expose(), new.as_bytes());
    }

    // The new card is the same account, already on these devices.
    let reissued = provisio_apps::CardDetails {
        pan: provisio_types::Pan::parse(&new).unwrap(),
        exp_month: 3,
        exp_year: 2033,
        ..card()
    };
    let (s, v) = h
        .push(&request_for(&h, &h.wallet, "device-a", &reissued))
        .await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::CONFLICT, "already_in_wallet"),
        "{v}"
    );
    assert_eq!(v["token_ref_id"], a.as_str());
    h.clock.advance(1);
    let (s, v) = h
        .push(&request_for(&h, &h.wallet, "device-c", &reissued))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let c = token_id(&v["token"]);
    assert_eq!(
        v["token"]["account_ref"],
        get_token(&h, ADMIN, &a).await.1["account_ref"],
        "the account reference survives the reissue"
    );

    // The card-level changes now go by the new PAN.
    let (s, v) = card_call(
        &h.issuer_api_key,
        "resume",
        json!({"pan": new, "reason": "FOUND"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "ACTIVE"),
        "{v}"
    );
    let bad = json!({"pan": new, "new_pan": "4000123456789018", "exp_month": 3, "exp_year": 2033});
    let (s, v) = card_call(&h.issuer_api_key, "reissue", bad).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let bad = json!({"pan": new, "exp_month": 13, "exp_year": 2033});
    let (s, v) = card_call(&h.issuer_api_key, "reissue", bad).await;
    assert_eq!(
        (s, problem(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request")
    );
    let (s, v) = card_call(
        &h.issuer_api_key,
        "delete",
        json!({"pan": new, "reason": "ACCOUNT_CLOSED"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [a.as_str(), b.as_str(), c.as_str()]);
    assert!(
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "DELETED"),
        "{v}"
    );
    let (_, found) = search(&h, &h.issuer_api_key, json!({"pan": new})).await;
    assert!(ids(&found).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 7. Events: signed, retried, in order
// ---------------------------------------------------------------------------------------------

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
    let h = harness_with(config_with_events(12)).await;
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

#[tokio::test]
async fn the_sweep_deletes_expired_pending_tokens_and_closes_their_step_up() {
    let ttl = 300;
    let h = harness_with(TspConfig {
        pending_token_ttl_s: ttl,
        ..TspConfig::default()
    })
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

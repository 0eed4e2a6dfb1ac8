//! The authorisation matrix (docs/protocol.md §1.2, §2.1): every operation of each role's
//! `/openapi.json`, read at run time, called with no key, an unknown key, the admin key and a
//! key of every participant kind, and, where it names an object someone owns, by another
//! participant of the right kind. The document's `security` says which roles an operation
//! takes (the requirement's scopes are role names, as OpenAPI 3.1 §4.8.30 allows for
//! non-OAuth schemes), so a new endpoint is walked as soon as it is documented; and every
//! `.route(` of the routers' source must be in the document, so an undocumented endpoint
//! fails too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{ADMIN, Harness, TRID, call, code, harness_stepping_up};
use provisio_apps::WalletApp;
use provisio_crypto::{CryptoProvider, SecretBytes};
use provisio_jose::Jwk;
use provisio_tsp::jwk_thumbprint;
use provisio_tsp::wire::WalletRiskInfo;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The operations that take no key (docs/protocol.md §1.2), per role.
const PUBLIC: [&str; 5] = [
    "GET /healthz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /v1/keys/jwks.json",
    "GET /v1/wallet-module",
];
const SEI_PUBLIC: [&str; 2] = ["GET /healthz", "GET /openapi.json"];
const SP_PUBLIC: [&str; 3] = [
    "GET /healthz",
    "GET /openapi.json",
    "GET /v1/sp/keys/handover",
];
/// A well-formed key that no role made.
const UNKNOWN_KEY: &str = "pvk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const HOSTED: &str = "40010099999";
const OTHER_ISSUER: &str = "bank-b";
const OTHER_WALLET: &str = "40010077777";
/// The owned-object operations that name a provisioning held for step-up (or its inactive
/// token): the fixture's second push, which the wallet's non-override level 5 holds in the
/// step-up band (its issuer registered `push_step_up`). The first push is approved without a
/// step-up, so its owner would get 404 here. A push offers the code methods only (the
/// issuer's app and call centre come from an issuer's decisioning), so the owner's
/// `issuer-app` and `call-center` calls are refused `unknown_method`, after the ownership
/// check (docs/protocol.md §6.2: the step-up and its owner come before the method).
const STEPPED_UP: [&str; 5] = [
    "POST /v1/provisionings/{provisioning_id}/step-up/call-center",
    "POST /v1/provisionings/{provisioning_id}/step-up/issuer-app",
    "POST /v1/provisionings/{provisioning_id}/step-up/otp",
    "POST /v1/provisionings/{provisioning_id}/step-up/verify",
    "POST /v1/tokens/{token_ref_id}/activate",
];

/// One documented operation.
#[derive(Debug)]
struct Op {
    method: String,
    path: String,
    /// `None` when public; otherwise the roles whose keys it takes.
    roles: Option<BTreeSet<String>>,
    body: Option<Value>,
    statuses: BTreeSet<String>,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every operation of a document.
fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let requirements = op["security"].as_array().cloned().unwrap_or_default();
            let roles = (!requirements.is_empty()).then(|| {
                requirements
                    .iter()
                    .flat_map(|r| r["api_key"].as_array().cloned().unwrap_or_default())
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect::<BTreeSet<_>>()
            });
            let body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|s| Value::Object(s.clone()));
            ops.push(Op {
                method: method.to_uppercase(),
                path: path.clone(),
                roles,
                body,
                statuses: op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect(),
            });
        }
    }
    ops
}

/// Every `(method, path)` a router's source file routes, read from its `.route(` calls.
fn routed(source: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{}/{source}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out = BTreeSet::new();
    for chunk in text.split(".route(").skip(1) {
        let chunk = [".fallback(", ".layer(", ".with_state("]
            .iter()
            .filter_map(|end| chunk.find(end))
            .min()
            .map_or(chunk, |end| &chunk[..end]);
        let path = chunk.split('"').nth(1).unwrap();
        let handlers = &chunk[chunk.find(path).unwrap() + path.len()..];
        for method in ["get", "post", "put", "delete", "patch"] {
            let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if called {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(!out.is_empty(), "no routes read from {source}");
    out
}

/// A minimal body built from a request schema: required members only, each the least value
/// its schema allows, with `fixed` members (ids of the fixture) used as they are.
fn body_of(doc: &Value, schema: &Value, fixed: &BTreeMap<&str, String>) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return body_of(doc, &doc["components"]["schemas"][name], fixed);
    }
    if let Some(first) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return body_of(doc, &first[0], fixed);
    }
    if let Some(e) = schema["enum"].as_array() {
        return e[0].clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds[0].as_str().unwrap_or("string").to_owned(),
        Value::String(k) => k.clone(),
        _ => "object".to_owned(),
    };
    match kind.as_str() {
        "object" => {
            let mut out = serde_json::Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                let value = match fixed.get(name) {
                    Some(v) => json!(v),
                    None => body_of(doc, &schema["properties"][name], fixed),
                };
                out.insert(name.to_owned(), value);
            }
            Value::Object(out)
        }
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(0) as usize;
            Value::Array(
                (0..n)
                    .map(|_| body_of(doc, &schema["items"], fixed))
                    .collect(),
            )
        }
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(1)),
        "boolean" => json!(false),
        _ => match schema["pattern"]
            .as_str()
            .and_then(|p| p.strip_prefix("^("))
        {
            // A closed set written as a pattern: its first member.
            Some(set) => json!(set.split(['|', ')']).next().unwrap()),
            None => json!("x".repeat(schema["minLength"].as_u64().unwrap_or(1) as usize)),
        },
    }
}

/// A request's status, `code` and content type.
async fn send(
    app: &Router,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let bytes = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            b.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(bytes)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let media = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, code(&value).to_owned(), media)
}

/// The token service with one participant of each kind, a second of the kinds that own
/// objects, and objects they own: an approved provisioning and its token, a provisioning held
/// for step-up and its inactive token (both issuer `bank-a`, wallet [`TRID`]), and a hosted
/// wallet account (issuer `bank-a`, wallet [`HOSTED`]).
struct World {
    h: Harness,
    keys: BTreeMap<&'static str, String>,
    ids: BTreeMap<&'static str, String>,
    fixed: BTreeMap<&'static str, String>,
    /// `ids` and `fixed` for the [`STEPPED_UP`] operations: the held provisioning's.
    stepped_ids: BTreeMap<&'static str, String>,
    stepped_fixed: BTreeMap<&'static str, String>,
}

async fn register(app: &Router, path: &str, body: Value) -> String {
    let (s, v) = call(
        app,
        "POST",
        path,
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["api_key"].as_str().unwrap().to_owned()
}

async fn world() -> World {
    let h = harness_stepping_up().await;
    let key = h.crypto.generate_ec_key().unwrap();
    let mut jwk = Jwk::from_public_key(key.public_key());
    jwk.kid = Some(jwk_thumbprint(&h.crypto, key.public_key()));
    let issuer_b = register(
        &h.app,
        "/v1/admin/issuers",
        json!({"issuer_id": OTHER_ISSUER, "name": "Bank B", "signing_jwk": jwk}),
    )
    .await;
    let hosted = register(
        &h.app,
        "/v1/admin/token-requestors",
        json!({"token_requestor_id": HOSTED, "name": "Hosted", "wallet_accounts": "hosted"}),
    )
    .await;
    let other_wallet = register(
        &h.app,
        "/v1/admin/token-requestors",
        json!({"token_requestor_id": OTHER_WALLET, "name": "Other wallet"}),
    )
    .await;
    let network = register(
        &h.app,
        "/v1/admin/networks",
        json!({"network_id": "net-1", "name": "Network"}),
    )
    .await;

    let (s, pushed) = h.push(&h.request_with(|_| {})).await;
    assert_eq!(s, StatusCode::OK, "{pushed}");
    let provisioning_id = pushed["provisioning_id"].as_str().unwrap().to_owned();
    let token_ref_id = pushed["token"]["token_ref_id"].as_str().unwrap().to_owned();
    let method_id = pushed["step_up"]["methods"][0]["method_id"]
        .as_str()
        .unwrap_or("sm_none")
        .to_owned();

    // A provisioning held for step-up: the wallet's non-override 5 is below the service's
    // level for a new account, and bank-a's pushes in the step-up band step up. Each push of
    // the harness goes to a device of its own.
    let mut held_req = h.request_with(|_| {});
    held_req.wallet_risk = Some(WalletRiskInfo::level(5, true));
    let (s, held) = h.push(&held_req).await;
    assert_eq!(
        (s, held["decision"].as_str()),
        (StatusCode::OK, Some("STEP_UP_REQUIRED")),
        "{held}"
    );
    let held_method = held["step_up"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "OTP_SMS")
        .and_then(|m| m["method_id"].as_str())
        .unwrap_or_else(|| panic!("the held push offers no OTP_SMS: {held}"))
        .to_owned();
    let held_provisioning = held["provisioning_id"].as_str().unwrap().to_owned();
    let held_token = held["token"]["token_ref_id"].as_str().unwrap().to_owned();
    assert_eq!(held["token"]["status"], "INACTIVE", "{held}");
    // A code sent, for the verification to name (an unknown `otp_id` is 404 too).
    let (s, sent) = call(
        &h.app,
        "POST",
        &format!("/v1/provisionings/{held_provisioning}/step-up/otp"),
        Some(&h.wallet_key),
        json!({"method_id": held_method, "wallet_user_id": "user-1", "device_id": held_req.device_id})
            .to_string()
            .into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let otp_id = sent["otp_id"].as_str().unwrap().to_owned();

    // A hosted account: the issuer's enrolment, the module on the phone, the account.
    let enrolment = json!({"customer_ref": "c-1", "name": "Ada Lovelace", "phone": "+447700900123",
        "email": "ada@example.org", "customer_since": 0,
        "facts": (0..5).map(|i| json!({"kind": "CUSTOM", "question": format!("Q{i}?"), "answer": format!("a{i}"),
            "distractors": ["b", "c", "d", "e"]})).collect::<Vec<_>>()});
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/issuer/enrolments",
        Some(&h.issuer_api_key),
        enrolment.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut phone = WalletApp::new(&h.crypto, HOSTED, "user-h", "device-h").unwrap();
    let (_, module) = call(&h.app, "GET", "/v1/wallet-module", None, vec![], None).await;
    phone
        .install_module(&h.crypto, module["manifest"].as_str().unwrap(), &h.jwks)
        .unwrap();
    let user = provisio_accounts::wire::AccountUser {
        name: "Ada Lovelace".into(),
        phone: "+447700900123".into(),
        email: "ada@example.org".into(),
        customer_ref: "c-1".into(),
    };
    let req = phone
        .account_request("bank-a", user, "Pixel 9", "Android 16", None)
        .unwrap();
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/wallet-accounts",
        Some(&hosted),
        serde_json::to_vec(&req).unwrap(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let account_id = v["account_id"].as_str().unwrap().to_owned();

    let keys = BTreeMap::from([
        ("admin", ADMIN.to_owned()),
        ("issuer", h.issuer_api_key.clone()),
        ("issuer_other", issuer_b),
        ("token_requestor", hosted.clone()),
        ("token_requestor_pusher", h.wallet_key.clone()),
        ("token_requestor_other", other_wallet),
        ("network", network),
    ]);
    let ids = BTreeMap::from([
        ("provisioning_id", provisioning_id.clone()),
        ("job_id", provisioning_id),
        ("token_ref_id", token_ref_id),
        ("account_id", account_id),
        ("issuer_id", "bank-a".to_owned()),
        ("token_requestor_id", TRID.to_owned()),
        ("message_id", "msg_AAAAAAAAAAAAAAAAAAAAAA".to_owned()),
    ]);
    let fixed = BTreeMap::from([
        ("wallet_user_id", "user-1".to_owned()),
        ("device_id", "device-1".to_owned()),
        ("method_id", method_id),
    ]);
    let mut stepped_ids = ids.clone();
    stepped_ids.insert("provisioning_id", held_provisioning.clone());
    stepped_ids.insert("job_id", held_provisioning);
    stepped_ids.insert("token_ref_id", held_token);
    let mut stepped_fixed = fixed.clone();
    stepped_fixed.insert("device_id", held_req.device_id);
    stepped_fixed.insert("method_id", held_method);
    stepped_fixed.insert("otp_id", otp_id);
    World {
        h,
        keys,
        ids,
        fixed,
        stepped_ids,
        stepped_fixed,
    }
}

/// The path with its parameters replaced by the fixture's ids.
fn concrete(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_owned();
    while let Some(start) = out.find('{') {
        let end = out.find('}').unwrap();
        let name = &out[start + 1..end];
        let id = ids
            .get(name)
            .unwrap_or_else(|| panic!("{path}: give the matrix a plausible {name}"));
        out.replace_range(start..=end, id);
    }
    out
}

/// Who owns the object a path parameter names, per role: (owner key, another's key).
fn owners(param: &str, role: &str) -> Option<(&'static str, &'static str)> {
    match (param, role) {
        ("provisioning_id" | "token_ref_id", "token_requestor") => {
            Some(("token_requestor_pusher", "token_requestor_other"))
        }
        ("account_id", "token_requestor") => Some(("token_requestor", "token_requestor_pusher")),
        ("token_ref_id" | "account_id", "issuer") => Some(("issuer", "issuer_other")),
        _ => None,
    }
}

#[tokio::test]
async fn every_token_service_operation_checks_its_caller() {
    let w = world().await;
    let (_, doc) = call(&w.h.app, "GET", "/openapi.json", None, vec![], None).await;
    let ops = operations(&doc);

    let documented: BTreeSet<String> = ops.iter().map(Op::name).collect();
    let served = routed("src/lib.rs");
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "served but not documented"
    );
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented but not served"
    );
    let public: BTreeSet<String> = ops
        .iter()
        .filter(|o| o.roles.is_none())
        .map(Op::name)
        .collect();
    assert_eq!(public, PUBLIC.iter().map(|s| (*s).to_owned()).collect());

    let mut cases = 0;
    let mut owned = 0;
    let mut stepped_reached = BTreeSet::new();
    let mut failures = Vec::new();
    for op in &ops {
        let stepped = STEPPED_UP.contains(&op.name().as_str());
        let (ids, fixed) = if stepped {
            (&w.stepped_ids, &w.stepped_fixed)
        } else {
            (&w.ids, &w.fixed)
        };
        let path = concrete(&op.path, ids);
        let empty = op.body.as_ref().map(|_| json!({}));
        let mut check = |case: &str, got: (StatusCode, String, String), ok: bool| {
            cases += 1;
            let listed = op.statuses.contains(got.0.as_str());
            if !ok || !listed {
                failures.push(format!(
                    "{} [{case}]: {} {} ({}){}",
                    op.name(),
                    got.0,
                    got.1,
                    got.2,
                    if listed {
                        ""
                    } else {
                        ", status not documented"
                    }
                ));
            }
        };
        let Some(roles) = &op.roles else {
            let got = send(&w.h.app, &op.method, &path, None, empty.as_ref()).await;
            let ok = got.0 == StatusCode::OK;
            check("public, no key", got, ok);
            continue;
        };
        assert!(!roles.is_empty(), "{}: security names no role", op.name());
        for (case, key) in [("no key", None), ("unknown key", Some(UNKNOWN_KEY))] {
            let got = send(&w.h.app, &op.method, &path, key, empty.as_ref()).await;
            let ok = got.0 == StatusCode::UNAUTHORIZED
                && got.1 == "unauthorized"
                && got.2 == "application/problem+json";
            check(case, got, ok);
        }
        for role in ["admin", "issuer", "token_requestor", "network"] {
            let got = send(
                &w.h.app,
                &op.method,
                &path,
                Some(&w.keys[role]),
                empty.as_ref(),
            )
            .await;
            let ok = if roles.contains(role) {
                // Past authentication: refused for the body or the object, never as a caller.
                got.0 != StatusCode::UNAUTHORIZED
                    && got.1 != "forbidden"
                    && !got.0.is_server_error()
            } else if roles.contains("report_token") {
                got.0 == StatusCode::UNAUTHORIZED && got.1 == "unauthorized"
            } else {
                got.0 == StatusCode::FORBIDDEN && got.1 == "forbidden"
            };
            check(&format!("{role} key"), got, ok);
        }
        // Another participant's object: 404, as if it did not exist; its owner gets past it.
        let param = op.path.split('{').nth(1).and_then(|p| p.split('}').next());
        for role in roles {
            let Some((owner, other)) = param.and_then(|p| owners(p, role)) else {
                continue;
            };
            let body = op.body.as_ref().map(|s| body_of(&doc, s, fixed));
            let mine = send(
                &w.h.app,
                &op.method,
                &path,
                Some(&w.keys[owner]),
                body.as_ref(),
            )
            .await;
            let theirs = send(
                &w.h.app,
                &op.method,
                &path,
                Some(&w.keys[other]),
                body.as_ref(),
            )
            .await;
            // The owner is past authentication and the ownership check: refused, if at all,
            // for the body or the object's state.
            let ok = mine.0 != StatusCode::NOT_FOUND
                && mine.0 != StatusCode::UNAUTHORIZED
                && !mine.0.is_server_error();
            if ok && stepped {
                stepped_reached.insert(format!("{} -> {} {}", op.name(), mine.0.as_u16(), mine.1));
            }
            check(&format!("{owner}, the owner"), mine, ok);
            let ok = theirs.0 == StatusCode::NOT_FOUND
                && ["not_found", "unknown_token"].contains(&theirs.1.as_str());
            check(&format!("{other}, not the owner"), theirs, ok);
            owned += 1;
        }
    }
    println!(
        "token service: {} operations, {cases} cases ({owned} owned-object pairs)",
        ops.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(owned >= 15, "only {owned} owned-object pairs walked");
    println!("owners of the held provisioning: {stepped_reached:#?}");
    assert_eq!(
        stepped_reached
            .iter()
            .map(|s| s.split(" -> ").next().unwrap())
            .collect::<BTreeSet<_>>(),
        STEPPED_UP.into_iter().collect(),
        "STEPPED_UP is out of date: each must be an owned-object operation its owner reaches"
    );
}

/// The TSM roles: every secured operation refuses no key and an unknown key with 401, the
/// operator's key passes only the operator's endpoints, and every route is documented.
#[tokio::test]
async fn every_tsm_operation_checks_its_caller() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| {
        let url = format!("sqlite://{}", dir.path().join(name).display());
        async move { std::sync::Arc::new(provisio_store::SqlStore::open(&url).await.unwrap()) }
    };
    let sei = provisio_server::sei_router(provisio_server::SeiState::new(
        open("sei.db").await,
        SecretBytes::new(vec![1; 32]),
        ADMIN,
        std::sync::Arc::new(provisio_server::SystemClock),
    ));
    let sp_state = provisio_server::SpState::open(
        open("sp.db").await,
        SecretBytes::new(vec![2; 32]),
        ADMIN,
        std::sync::Arc::new(provisio_server::SystemClock),
        vec![0xA0, 0, 0, 0, 3],
        "http://127.0.0.1:9".into(),
        provisio_server::SeiLink {
            base: "http://127.0.0.1:9".into(),
            api_key: String::new(),
        },
    )
    .await
    .unwrap();
    let sp = provisio_server::sp_router(sp_state);
    let mut total = 0;
    let mut failures = Vec::new();
    for (role, app, source, public) in [
        ("SEI-TSM", &sei, "src/sei/mod.rs", &SEI_PUBLIC[..]),
        ("SP-TSM", &sp, "src/sp/mod.rs", &SP_PUBLIC[..]),
    ] {
        let (_, doc) = call(app, "GET", "/openapi.json", None, vec![], None).await;
        let ops = operations(&doc);
        let documented: BTreeSet<String> = ops.iter().map(Op::name).collect();
        let undocumented: BTreeSet<String> =
            routed(source).difference(&documented).cloned().collect();
        assert!(
            undocumented.is_empty(),
            "{role} routes undocumented: {undocumented:?}"
        );
        let open_ops: BTreeSet<String> = ops
            .iter()
            .filter(|o| o.roles.is_none())
            .map(Op::name)
            .collect();
        let public: BTreeSet<String> = public.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(open_ops, public, "{role}");
        let ids: BTreeMap<&str, String> = ["request_id", "message_id", "session_id", "job_id"]
            .into_iter()
            .map(|p| (p, "x-1".to_owned()))
            .collect();
        for op in ops.iter().filter(|o| o.roles.is_some()) {
            let path = concrete(&op.path, &ids);
            let empty = op.body.as_ref().map(|_| json!({}));
            let roles = op.roles.as_ref().unwrap();
            for (case, key) in [
                ("no key", None),
                ("unknown key", Some(UNKNOWN_KEY)),
                ("operator key", Some(ADMIN)),
            ] {
                let got = send(app, &op.method, &path, key, empty.as_ref()).await;
                total += 1;
                let ok = if key == Some(ADMIN) && roles.contains("operator") {
                    got.0 != StatusCode::UNAUTHORIZED && !got.0.is_server_error()
                } else {
                    got.0 == StatusCode::UNAUTHORIZED
                        && got.1 == "unauthorized"
                        && got.2 == "application/problem+json"
                };
                if !ok || !op.statuses.contains(got.0.as_str()) {
                    failures.push(format!(
                        "{role} {} [{case}]: {} {}",
                        op.name(),
                        got.0,
                        got.1
                    ));
                }
            }
        }
        println!("{role}: {} operations", ops.len());
    }
    println!("TSM roles: {total} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! One error contract (docs/protocol.md §1.3 and §4): every stable code is documented with
//! its status, listed in each role's OpenAPI document, and every endpoint of every role's
//! document is described in docs/protocol.md; and the framework's own refusals (unknown path,
//! wrong method, a body over the limit) are problem documents with a code too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use provisio_server::{ApiDoc, SeiApiDoc, SpApiDoc};
use provisio_types::Code;
use serde_json::Value;
use tower::ServiceExt;
use utoipa::OpenApi;

fn protocol() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    std::fs::read_to_string(path).expect("docs/protocol.md exists")
}

/// The `| `code` | status |` rows of §4, by code.
fn documented_codes() -> BTreeMap<String, u16> {
    let doc = protocol();
    let start = doc.find("\n## 4. ").expect("docs/protocol.md has §4");
    let section = &doc[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut codes = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, code, status, ..] = cells.as_slice()
            && let (Some(code), Ok(status)) = (
                code.strip_prefix('`').and_then(|c| c.strip_suffix('`')),
                status.parse::<u16>(),
            )
        {
            let before = codes.insert(code.to_owned(), status);
            assert!(
                before.is_none() || before == Some(status),
                "{code} documented with two statuses"
            );
        }
    }
    codes
}

fn documents() -> [(&'static str, Value); 3] {
    [
        (
            "token service",
            serde_json::to_value(ApiDoc::openapi()).unwrap(),
        ),
        (
            "SEI-TSM",
            serde_json::to_value(SeiApiDoc::openapi()).unwrap(),
        ),
        ("SP-TSM", serde_json::to_value(SpApiDoc::openapi()).unwrap()),
    ]
}

#[test]
fn every_code_is_documented_in_protocol_section_4_with_its_status() {
    let documented = documented_codes();
    for &code in Code::ALL {
        let status = provisio_server::meaning(code).status.as_u16();
        assert_eq!(
            documented.get(code.as_str()),
            Some(&status),
            "{code} ({status}) is not in docs/protocol.md §4 with its status"
        );
    }
    for code in documented.keys() {
        assert!(
            Code::parse(code).is_some(),
            "docs/protocol.md §4 lists {code}, which the server does not have"
        );
    }
}

#[test]
fn every_code_is_in_every_openapi_document() {
    let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    for (role, doc) in documents() {
        let code = &doc["components"]["schemas"]["Problem"]["properties"]["code"];
        let listed: Vec<&str> = code["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{role}: Problem.code has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, all, "{role}");
        let description = code["description"].as_str().unwrap();
        for c in &all {
            assert!(description.contains(&format!("`{c}`")), "{role}: {c}");
        }
    }
}

#[test]
fn every_endpoint_of_every_role_is_described_in_the_protocol() {
    let doc = protocol();
    let mut seen = 0;
    for (role, openapi) in documents() {
        for (path, item) in openapi["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let line = format!("{} {path}", method.to_uppercase());
                assert!(doc.contains(&line), "{role}: docs/protocol.md lacks {line}");
                seen += 1;
            }
        }
    }
    assert!(seen > 30, "only {seen} operations found");
}

async fn answer(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Value, String) {
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap(),
        content_type,
    )
}

#[tokio::test]
async fn the_frameworks_refusals_are_problem_documents_with_codes() {
    let h = common::harness().await;
    let cases = [
        (
            "GET",
            "/v1/no-such-thing",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "DELETE",
            "/v1/push-provisioning",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "POST",
            "/v1/push-provisioning",
            vec![b'x'; 3 << 20],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (s, v, content_type) = answer(&h.app, method, path, body).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {v}"
        );
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(v["status"], status.as_u16());
        assert_ne!(v["title"], "Internal error");
    }
}

#[tokio::test]
async fn a_tsm_body_that_is_not_json_is_a_problem_document_after_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        provisio_store::SqlStore::open(&format!(
            "sqlite://{}",
            dir.path().join("sei.db").display()
        ))
        .await
        .unwrap(),
    );
    let app = provisio_server::sei_router(provisio_server::SeiState::new(
        store,
        provisio_crypto::SecretBytes::new(vec![1; 32]),
        common::ADMIN,
        std::sync::Arc::new(provisio_server::SystemClock),
    ));
    // Without a key: 401 before the body is looked at.
    let (s, v, _) = answer(&app, "POST", "/v1/sei/admin/elements", b"{".to_vec()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/v1/sei/admin/elements")
                .header("authorization", format!("Bearer {}", common::ADMIN))
                .header("content-type", "application/json")
                .body(Body::from("{"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let (s, v, _) = answer(&app, "GET", "/v1/sei/nothing", vec![]).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

/// Every answer, of every role, a success, a refusal or the framework's own, says
/// `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; the bearer scheme is
/// case-insensitive (RFC 9110 section 11.1).
#[tokio::test]
async fn every_answer_is_uncacheable_and_unsniffable() {
    let h = common::harness().await;
    let dir = tempfile::tempdir().unwrap();
    let url = provisio_testkit::postgres::store_url(dir.path(), "sei.db").await;
    let sei = provisio_server::sei_router(provisio_server::SeiState::new(
        std::sync::Arc::new(provisio_store::SqlStore::open(&url).await.unwrap()),
        provisio_crypto::SecretBytes::new(vec![7; 32]),
        "sei-admin-key",
        std::sync::Arc::new(provisio_server::SystemClock),
    ));
    let headers_of = |app: &axum::Router, method: &str, path: &str, key: Option<&str>| {
        let app = app.clone();
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header("authorization", k);
        }
        let req = req.body(Body::empty()).unwrap();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let get = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (
                r.status(),
                get("cache-control"),
                get("x-content-type-options"),
            )
        }
    };
    let admin_lower = format!("bearer {}", common::ADMIN);
    let cases = [
        (&h.app, "GET", "/v1/keys/jwks.json", None, StatusCode::OK),
        (
            &h.app,
            "GET",
            "/v1/admin/events/dead",
            Some(admin_lower.as_str()),
            StatusCode::OK,
        ),
        (
            &h.app,
            "GET",
            "/v1/admin/events/dead",
            Some("Basic eDp5"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            &h.app,
            "GET",
            "/v1/no-such-thing",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            &h.app,
            "DELETE",
            "/v1/push-provisioning",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (&sei, "GET", "/healthz", None, StatusCode::OK),
        (&sei, "GET", "/v1/sei/nothing", None, StatusCode::NOT_FOUND),
    ];
    for (app, method, path, key, status) in cases {
        let (s, cache, sniff) = headers_of(app, method, path, key).await;
        assert_eq!(s, status, "{method} {path}");
        assert_eq!(
            (cache.as_deref(), sniff.as_deref()),
            (Some("no-store"), Some("nosniff")),
            "{method} {path}"
        );
    }
}

/// A value of the wrong type is never echoed in `detail` (an OTP code sent as a number, a PAN
/// sent as a number, an unknown enum value); a missing or unknown member is still named.
#[tokio::test]
async fn a_malformed_body_is_described_without_quoting_its_values() {
    let h = common::harness().await;
    let cases: [(&str, &str, serde_json::Value, &str, Option<&str>); 4] = [
        (
            "/v1/provisionings/pv_x/step-up/verify",
            h.wallet_key.as_str(),
            serde_json::json!({"otp_id": "otp_1", "code": 918273, "wallet_user_id": "u", "device_id": "d"}),
            "918273",
            Some("expected a string"),
        ),
        (
            "/v1/cards/suspend",
            h.issuer_api_key.as_str(),
            serde_json::json!({"pan": 4000123456789017u64, "reason": "LOST"}),
            "4000123456789017",
            None,
        ),
        (
            "/v1/tokens/tr_x/suspend",
            common::ADMIN,
            serde_json::json!({"reason": "SECRET-REASON-7"}),
            "SECRET-REASON-7",
            None,
        ),
        (
            "/v1/push-provisioning",
            h.wallet_key.as_str(),
            serde_json::json!({"encrypted_payload": "x", "session_id": 55555555}),
            "55555555",
            None,
        ),
    ];
    for (path, key, body, secret, says) in cases {
        let (s, v) = common::call(
            &h.app,
            "POST",
            path,
            Some(key),
            body.to_string().into_bytes(),
            None,
        )
        .await;
        let detail = v["detail"].as_str().unwrap_or_default();
        assert!(s.is_client_error(), "{path}: {s} {v}");
        assert!(
            !detail.contains(secret),
            "{path} echoes its value: {detail}"
        );
        if let Some(says) = says {
            assert!(detail.contains(says), "{path}: {detail}");
        }
    }
    // A missing member is named.
    let (_, v) = common::call(
        &h.app,
        "POST",
        "/v1/admin/token-requestors",
        Some(common::ADMIN),
        serde_json::json!({"name": "W"}).to_string().into_bytes(),
        None,
    )
    .await;
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("missing field `token_requestor_id`"),
        "{v}"
    );
}

/// A body that is not sent as `application/json` is 415 `unsupported_media_type` before it is
/// read, on every role; JSON with a charset parameter is JSON.
#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported_media() {
    let h = common::harness().await;
    let body = serde_json::json!({"token_requestor_id": "40010099966", "name": "W"}).to_string();
    let send = |content_type: Option<&str>| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/v1/admin/token-requestors")
            .header("authorization", format!("Bearer {}", common::ADMIN));
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let req = req.body(Body::from(body.clone())).unwrap();
        let app = h.app.clone();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let status = r.status();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    for t in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (s, v) = send(t).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("unsupported_media_type")
            ),
            "{t:?}: {v}"
        );
    }
    let (s, v) = send(Some("application/json; charset=utf-8")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// Every role's OpenAPI document declares its error answers as `application/problem+json`,
/// the media type the server sends them with, and successes as JSON.
#[test]
fn error_answers_are_documented_as_problem_documents() {
    for (role, doc) in [
        (
            "token service",
            serde_json::to_value(ApiDoc::openapi()).unwrap(),
        ),
        (
            "bank TSM",
            serde_json::to_value(SpApiDoc::openapi()).unwrap(),
        ),
        (
            "carrier TSM",
            serde_json::to_value(SeiApiDoc::openapi()).unwrap(),
        ),
    ] {
        let mut errors = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(responses) = operation["responses"].as_object() else {
                    continue;
                };
                for (status, response) in responses {
                    let Some(content) = response["content"].as_object() else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        errors += 1;
                        assert!(
                            content.contains_key("application/problem+json")
                                && !content.contains_key("application/json"),
                            "{role}: {method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(errors > 0, "{role} documents no error answer");
    }
}

/// A `Content-Length` above the limit is refused at once, before any body arrives: the answer
/// comes although the body is never sent.
#[tokio::test]
async fn an_oversized_content_length_is_refused_without_waiting_for_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = common::harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = h.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            b"POST /v1/push-provisioning HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    // A bound on liveness, not on speed: without the check the server waits for the body.
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), socket.read(&mut answer))
        .await
        .expect("answered before the body came")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
}

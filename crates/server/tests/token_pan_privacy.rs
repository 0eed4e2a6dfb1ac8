//! A PAN sent to the token routes (docs/protocol.md §15.2, §15.3) is never echoed, whatever
//! shape it comes in.

mod common;

use axum::http::StatusCode;
use common::{PAN, call, code, harness};

#[tokio::test]
async fn a_pan_in_a_malformed_body_is_not_echoed() {
    let h = harness().await;
    let number: u64 = PAN.parse().unwrap();
    let bodies = [
        ("/v1/tokens/search", format!(r#"{{"pan": {number}}}"#)),
        (
            "/v1/tokens/search",
            format!(r#"{{"pan": "{PAN}", "cvv": "123"}}"#),
        ),
        ("/v1/tokens/search", format!(r#"{{"pan": "{PAN}x"}}"#)),
        (
            "/v1/cards/suspend",
            format!(r#"{{"pan": {number}, "reason": "LOST"}}"#),
        ),
        (
            "/v1/cards/suspend",
            format!(r#"{{"pan": "{PAN}", "reason": {number}}}"#),
        ),
        (
            "/v1/cards/reissue",
            format!(r#"{{"pan": "{PAN}", "new_pan": {number}, "exp_month": 1, "exp_year": 2031}}"#),
        ),
        (
            "/v1/cards/reissue",
            format!(r#"{{"pan": "{PAN}", "new_pan": "12345", "exp_month": 1, "exp_year": 2031}}"#),
        ),
    ];
    for (path, body) in bodies {
        let (s, v) = call(
            &h.app,
            "POST",
            path,
            Some(&h.issuer_api_key),
            body.clone().into_bytes(),
            None,
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_request"),
            "{path} {body}: {v}"
        );
        let text = v.to_string();
        assert!(!text.contains(&PAN[4..]), "{path} echoes the PAN: {text}");
    }
}

//! Request bodies are JSON, said so, and not too large: a body sent with another
//! `Content-Type` (or none) is 415 `unsupported_media_type` before any handler reads it, so a
//! form or a text body is never parsed as JSON by accident (RFC 9110 section 15.5.16); a
//! `Content-Length` above the limit is 413 `payload_too_large` at once, without waiting for a
//! body that may never come.

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use provisio_types::Code;

use crate::ApiError;

/// The largest request body (axum's default limit for a `Bytes` body).
const MAX_BODY: u64 = 2 * 1024 * 1024;

/// Refuses a body announced larger than [`MAX_BODY`], and a non-empty body that is not
/// `application/json` (parameters such as `charset` are allowed).
pub(crate) async fn json_bodies(request: Request, next: Next) -> Response {
    let size = request.body().size_hint();
    if size.lower() > MAX_BODY {
        return ApiError::new(
            Code::PayloadTooLarge,
            "the body is larger than this endpoint accepts (2 MiB)",
        )
        .into_response();
    }
    let empty = size.exact() == Some(0);
    if !empty && !is_json(request.headers().get(CONTENT_TYPE)) {
        return ApiError::new(
            Code::UnsupportedMediaType,
            "the body must be sent as Content-Type: application/json",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_json(value: Option<&axum::http::HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_parameters_is_json_and_nothing_else_is() {
        let v = |s: &'static str| axum::http::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("Application/JSON; charset=utf-8"))));
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "",
        ] {
            assert!(!is_json(Some(&v(other))), "{other}");
        }
        assert!(!is_json(None));
    }
}

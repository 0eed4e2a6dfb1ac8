//! Headers on every answer of every role: `Cache-Control: no-store` (answers carry API keys,
//! access data, tokens and codes; RFC 9111 section 5.2.2.5 keeps them out of every cache) and
//! `X-Content-Type-Options: nosniff` (a client takes the declared type, never a guessed one).

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::response::Response;

/// Adds the headers to `response`.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

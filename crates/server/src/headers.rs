//! Headers on every answer of every role: `Cache-Control: no-store` (answers carry API keys,
//! access data, tokens and codes; RFC 9111 section 5.2.2.5 keeps them out of every cache) and
//! `X-Content-Type-Options: nosniff` (a client takes the declared type, never a guessed one).

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::response::Response;

/// Adds the headers to every answer of a router (a `map_response` layer).
pub(crate) async fn security_headers(response: Response) -> Response {
    secured(response)
}

/// Adds the headers to `response`: for answers made outside a router (the serving layer's
/// 408 and 429).
pub(crate) fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

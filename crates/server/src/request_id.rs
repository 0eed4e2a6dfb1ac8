//! A request id per request: in a tracing span around the handler, and in the answer's
//! `x-request-id` header, so a caller's report can be found in the logs.

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use provisio_types::Code;
use tracing::Instrument;

use crate::AppState;
use crate::error::ErrorCode;

pub(crate) async fn trace_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let id = provisio_tsp::random_id(state.crypto.as_ref(), "req_")
        .unwrap_or_else(|_| "req_unknown".into());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), route = %route);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            code = code.map_or("", Code::as_str),
            elapsed_us = started.elapsed().as_micros() as u64,
            "answered"
        );
    });
    state.metrics.record(&route, status, code.map(Code::as_str));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

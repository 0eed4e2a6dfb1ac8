//! Health, metrics, the OpenAPI document, and the 404 answer.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use provisio_types::Code;
use utoipa::OpenApi;

use crate::{ApiDoc, ApiError, AppState};

/// 200 once the store answers; 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The store is reachable"), (status = 503, description = "The store is unreachable")))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// 200 while the process serves: the TSM roles' health (docs/protocol.md §11, §12).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process serves", body = String, content_type = "text/plain")))]
pub(crate) async fn alive() -> &'static str {
    "ok"
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render(state.store.count_dead_events().await.ok()),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Every role's answer for a path it does not serve.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such endpoint; see /openapi.json")
}

/// Every role's answer for a method a path does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        "this endpoint does not take this method; see /openapi.json",
    )
}

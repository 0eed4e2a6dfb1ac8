//! The carrier's trusted service manager (SEI-TSM, US 8,060,449) over HTTP: it owns the
//! secure elements' issuer security domains, takes service requests from issuers' SP-TSMs,
//! wakes phones' OTA clients, and runs its admin sessions through them.
//!
//! ```text
//!  SP-TSM ──POST /v1/sei/service-requests──► intake ─► request + wake-up message (one commit)
//!  OTA client ──GET /v1/sei/ota/messages?wait=──► (long-poll, durable until acked)
//!  OTA client ──POST /v1/sei/ota/sessions {request_id}──► AdminSession: SELECT …
//!  OTA client ──POST /v1/sei/ota/sessions/{id} {response}──► next command … done
//!  SP-TSM ──GET /v1/sei/service-requests/{id}──► DONE + key handover package (JWE)
//! ```
//!
//! Admin sessions live in memory only while they run: after a restart (or on another
//! instance) a session id is `session_gone`, and the OTA client opens a new session, which
//! surveys the element and resumes where the last one stopped. Everything else is in the
//! store.

mod openapi;
mod routes;
mod state;

pub use openapi::SeiApiDoc;
pub use state::SeiState;

use axum::Router;
use axum::routing::{get, post};

/// The SEI-TSM's routes.
pub fn sei_router(state: SeiState) -> Router {
    Router::new()
        .route("/healthz", get(crate::routes::health::alive))
        .route("/openapi.json", get(openapi::openapi))
        .route("/v1/sei/admin/elements", post(routes::add_element))
        .route(
            "/v1/sei/admin/service-providers",
            post(routes::add_provider),
        )
        .route("/v1/sei/service-requests", post(routes::create_request))
        .route(
            "/v1/sei/service-requests/{request_id}",
            get(routes::request_status),
        )
        .route("/v1/sei/ota/messages", get(routes::messages))
        .route("/v1/sei/ota/messages/{message_id}/ack", post(routes::ack))
        .route("/v1/sei/ota/sessions", post(routes::open_session))
        .route(
            "/v1/sei/ota/sessions/{session_id}",
            post(routes::session_step),
        )
        .fallback(crate::routes::health::not_found)
        .method_not_allowed_fallback(crate::routes::health::method_not_allowed)
        .layer(axum::middleware::from_fn(crate::media_type::json_bodies))
        .layer(axum::middleware::map_response(
            crate::error::framework_problems,
        ))
        .layer(axum::middleware::map_response(
            crate::headers::security_headers,
        ))
        .with_state(state)
}

//! The issuer's trusted service manager (SP-TSM, US 8,060,449) over HTTP: it takes a
//! provisioning job from the token service, asks the carrier's TSM for its security domain,
//! takes the domain over with its own keys, and personalises the payment applet in sessions
//! the phone's OTA client opens straight to it (delegated by the carrier).
//!
//! ```text
//!  token service ──POST /v1/sp/jobs──► job RECEIVED (credential: JWE to this TSM's key)
//!  driver ──CREATE_DOMAIN──► SEI-TSM … DONE + handover package ─► DOMAIN_READY (own keys made)
//!  driver ──DELEGATE_PERSONALIZATION (connect: <base>/v1/sp/ota#t=<ticket>)──► SEI-TSM
//!  OTA client ──POST /v1/sp/ota/sessions (ticket)──► TakeOverKeys session ─► KEYS_TAKEN
//!  OTA client ──POST /v1/sp/ota/sessions (ticket)──► Personalize session ─► DONE
//! ```

mod driver;
mod openapi;
mod routes;
mod state;

pub use driver::spawn_sp_driver;
pub use openapi::SpApiDoc;
pub use state::{SeiLink, SpState};

use axum::Router;
use axum::routing::{get, post};

/// The SP-TSM's routes.
pub fn sp_router(state: SpState) -> Router {
    Router::new()
        .route("/healthz", get(crate::routes::health::alive))
        .route("/openapi.json", get(openapi::openapi))
        .route("/v1/sp/keys/handover", get(routes::handover_key))
        .route("/v1/sp/admin/callers", post(routes::add_caller))
        .route("/v1/sp/jobs", post(routes::create_job))
        .route("/v1/sp/jobs/{job_id}", get(routes::job_status))
        .route("/v1/sp/ota/sessions", post(routes::open_session))
        .route(
            "/v1/sp/ota/sessions/{session_id}",
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

//! The Provisio HTTP server (axum).
//!
//! Handlers follow one shape (CONTRIBUTING.md §1): authenticate, load what the core needs, call
//! the sans-IO core, commit what it returned in one transaction, answer. Errors become RFC 9457
//! problem documents in one place ([`ApiError`]).

mod account_crypto;
mod auth;
mod bootstrap;
mod clock;
mod decisioning;
mod doc_schemas;
mod error;
mod headers;
mod idempotency;
mod kba_source;
mod media_type;
mod metrics;
mod openapi;
mod outbox;
mod read_cache;
mod request_id;
mod routes;
mod sei;
pub mod serving;
mod sp;
mod sp_tsm_link;
mod state;
mod token_events;
mod tsm_sessions;

pub use error::Problem;
pub use routes::admin::{
    CreateIssuer, CreateTokenRequestor, CreatedIssuer, CreatedTokenRequestor, WalletAccounts,
};
pub use routes::payments::{CreateNetwork, CreatedNetwork};
pub use routes::risk_lists::RiskListEntry;

pub use bootstrap::{BootstrapError, bootstrap, hash_api_key, new_api_key};
pub use clock::{Clock, SystemClock};
pub use error::{ApiError, Meaning, meaning};
pub use openapi::ApiDoc;
pub use outbox::{MemorySink, NoGateway, NotificationSink, WebhookSink, spawn_delivery};
pub use sei::{SeiApiDoc, SeiState, sei_router};
pub use sp::{SeiLink, SpApiDoc, SpState, sp_router, spawn_sp_driver};
pub use state::AppState;
pub use token_events::{spawn_pending_sweep, sweep_pending};

use axum::Router;
use axum::routing::{get, post, put};

/// The application's routes, with request ids, logging and metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/metrics", get(routes::health::metrics))
        .route("/openapi.json", get(routes::health::openapi))
        .route("/v1/keys/jwks.json", get(routes::keys::jwks))
        .route("/v1/admin/issuers", post(routes::admin::create_issuer))
        .route(
            "/v1/admin/issuers/{issuer_id}/bin-ranges",
            put(routes::issuer_settings::set_bin_ranges),
        )
        .route(
            "/v1/admin/issuers/{issuer_id}/decisioning",
            put(routes::issuer_settings::set_decisioning),
        )
        .route(
            "/v1/admin/issuers/{issuer_id}/push-step-up",
            put(routes::issuer_settings::set_push_step_up),
        )
        .route("/v1/admin/networks", post(routes::payments::create_network))
        .route(
            "/v1/network/authorizations",
            post(routes::payments::authorize_payment),
        )
        .route(
            "/v1/admin/token-requestors",
            post(routes::admin::create_token_requestor),
        )
        .route(
            "/v1/admin/risk-lists",
            post(routes::risk_lists::add_risk_list_entry),
        )
        .route(
            "/v1/admin/issuers/{issuer_id}/kba-source",
            put(routes::kba_sources::set_kba_source),
        )
        .route(
            "/v1/wallet-module",
            get(routes::wallet_module::wallet_module),
        )
        .route(
            "/v1/wallet-accounts",
            post(routes::accounts::create_account),
        )
        .route(
            "/v1/wallet-accounts/{account_id}",
            get(routes::accounts::get_account),
        )
        .route(
            "/v1/wallet-accounts/{account_id}/kba/question",
            post(routes::accounts::question),
        )
        .route(
            "/v1/wallet-accounts/{account_id}/kba/answer",
            post(routes::accounts::answer),
        )
        .route(
            "/v1/wallet-accounts/{account_id}/kba/opt-out",
            post(routes::accounts::opt_out),
        )
        .route(
            "/v1/issuer/enrolments",
            post(routes::issuer_accounts::load_enrolment),
        )
        .route(
            "/v1/issuer/wallet-accounts/{account_id}/verification",
            post(routes::issuer_accounts::verify),
        )
        .route(
            "/v1/push-provisioning",
            post(routes::push::push_provisioning),
        )
        .route(
            "/v1/provisionings",
            post(routes::provisionings::wallet_provisioning),
        )
        .route(
            "/v1/provisionings/{provisioning_id}/step-up/issuer-app",
            post(routes::step_up::issuer_app),
        )
        .route(
            "/v1/provisionings/{provisioning_id}/step-up/call-center",
            post(routes::step_up::call_center_collect),
        )
        .route(
            "/v1/tokens/{token_ref_id}/activate",
            post(routes::step_up::call_center_activate),
        )
        .route(
            "/v1/provisionings/{provisioning_id}/step-up/otp",
            post(routes::step_up::send_otp),
        )
        .route(
            "/v1/provisionings/{provisioning_id}/step-up/verify",
            post(routes::step_up::verify_otp),
        )
        .route(
            "/v1/provisionings/{provisioning_id}/script-report",
            post(routes::scripts::report),
        )
        .route(
            "/v1/provisionings/{provisioning_id}/installation",
            get(routes::scripts::get_installation),
        )
        .route(
            "/v1/tsm/jobs/{job_id}/report",
            post(routes::scripts::tsm_report),
        )
        .route(
            "/v1/admin/issuers/{issuer_id}/sp-tsm",
            put(routes::sp_tsms::set_sp_tsm),
        )
        .route("/v1/tokens/search", post(routes::tokens::search))
        .route("/v1/tokens/{token_ref_id}", get(routes::tokens::get_token))
        .route(
            "/v1/tokens/{token_ref_id}/suspend",
            post(routes::tokens::suspend),
        )
        .route(
            "/v1/tokens/{token_ref_id}/resume",
            post(routes::tokens::resume),
        )
        .route(
            "/v1/tokens/{token_ref_id}/delete",
            post(routes::tokens::delete),
        )
        .route("/v1/cards/suspend", post(routes::tokens::suspend_card))
        .route("/v1/cards/resume", post(routes::tokens::resume_card))
        .route("/v1/cards/delete", post(routes::tokens::delete_card))
        .route("/v1/cards/reissue", post(routes::tokens::reissue_card))
        .route(
            "/v1/admin/issuers/{issuer_id}/notifications",
            put(routes::token_admin::set_issuer_notifications),
        )
        .route(
            "/v1/admin/token-requestors/{token_requestor_id}/notifications",
            put(routes::token_admin::set_token_requestor_notifications),
        )
        .route(
            "/v1/admin/events/dead",
            get(routes::token_admin::dead_events),
        )
        .route(
            "/v1/admin/events/{message_id}/redrive",
            post(routes::token_admin::redrive),
        )
        .fallback(routes::health::not_found)
        .method_not_allowed_fallback(routes::health::method_not_allowed)
        .layer(axum::middleware::from_fn(media_type::json_bodies))
        .layer(axum::middleware::map_response(error::framework_problems))
        .layer(axum::middleware::map_response(headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::trace_request,
        ))
        .with_state(state)
}

//! `PUT /v1/admin/issuers/{issuer_id}/kba-source` (docs/protocol.md §2.6): where an issuer's
//! knowledge-based questions come from. Authenticate, load the issuer, let the accounts core
//! check the setting and seal its credential, commit, answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_accounts::SourceSetting;
use provisio_accounts::wire::KbaSourceConfig;
use provisio_store::Role;

use super::{parse_json, tls_or_loopback};
use crate::account_crypto::{ServiceVault, context};
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Sets an issuer's question source: `BANK` (the service's own, from loaded enrolments; the
/// default), `ISSUER` (the issuer's system, by customer reference) or `THIRD_PARTY` (an
/// identity provider, by name, phone and e-mail). HTTP sources take `url` and optionally a
/// bearer `credential`, which is stored sealed and never shown again.
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/kba-source", tag = "admin",
    request_body = KbaSourceConfig,
    params(("issuer_id" = String, Path, description = "A registered issuer")),
    responses(
        (status = 200, body = KbaSourceConfig, description = "Set (the credential is not echoed)"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_kba_source(
    State(state): State<AppState>,
    Path(issuer_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<KbaSourceConfig>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: KbaSourceConfig = parse_json(&body)?;
    if state.store.issuer(&issuer_id).await?.is_none() {
        return Err(ApiError::not_found("no such issuer"));
    }
    let vault = ServiceVault::of(&state);
    let ctx = context(&state, &vault);
    let setting = SourceSetting::parse(&ctx.at_rest, &issuer_id, req, tls_or_loopback)?;
    state
        .store
        .set_kba_source(&issuer_id, &setting.record, ctx.now)
        .await?;
    Ok(Json(setting.answer))
}

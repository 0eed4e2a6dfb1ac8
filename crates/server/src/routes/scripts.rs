//! `POST /v1/provisionings/{id}/script-report`: the device reports it ran the installation
//! script; the token becomes payment-ready ("converted into a payment device").

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use provisio_store::{Conflict, Role, StoreError};
use provisio_tsp::wire::{ScriptReportRequest, ScriptReportResponse};
use provisio_tsp::Script;

use super::parse_json;
use crate::account_gate::require_active_account;
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Completes the installation script of an approved provisioning.
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/script-report", tag = "scripts",
    request_body = ScriptReportRequest,
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 200, body = ScriptReportResponse, description = "Installed: the token can pay (a repeated report gets the same answer)"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: another user's or device's provisioning; account_not_active"),
        (status = 404, body = Problem, description = "not_found: no script was sent for it"),
        (status = 422, body = Problem, description = "script_mismatch, script_incomplete"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn report(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let req: ScriptReportRequest = parse_json(&body)?;
    let record = state
        .store
        .script(&provisioning_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no script was sent for this provisioning"))?;
    let mine = record.token_requestor_id == principal.id
        && record.wallet_user_id == req.wallet_user_id
        && record.device_id == req.device_id;
    if !mine {
        return Err(ApiError::forbidden(
            "this provisioning belongs to another wallet user or device",
        ));
    }
    require_active_account(
        &state,
        &principal,
        &record.wallet_user_id,
        &record.device_id,
    )
    .await?;
    let script: Script = serde_json::from_str(&record.body).map_err(|e| ApiError::internal(&e))?;
    script.check_report(&req.script_id, &req.steps)?;
    if record.completed_at.is_none() {
        match state
            .store
            .complete_script(&provisioning_id, state.clock.now())
            .await
        {
            // A concurrent identical report completed it first: same answer.
            Ok(()) | Err(StoreError::Conflict(Conflict::ScriptCompleted)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(%provisioning_id, token_ref_id = %record.token_ref_id, "script complete; token payment-ready");
    }
    Ok(Json(ScriptReportResponse {
        token_ref_id: record.token_ref_id,
        status: "ACTIVE".into(),
        payment_ready: true,
    })
    .into_response())
}

//! Completing installation scripts, after which a token can pay ("converted into a payment
//! device"): the device reports an HCE script it ran (`POST /v1/provisionings/{id}/script-report`);
//! the issuer's TSM reports a secure-element job (`POST /v1/tsm/jobs/{id}/report`, with the
//! token made for that job); the wallet asks where it stands
//! (`GET /v1/provisionings/{id}/installation`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use provisio_store::{Conflict, Role, ScriptRecord, StoreError};
use provisio_tsm::JobState;
use provisio_tsm::wire::JobStatus;
use provisio_tsp::wire::{
    Installation, InstallationState, ScriptReportRequest, ScriptReportResponse,
};
use provisio_tsp::{Script, report_token_hash};
use provisio_types::Code;

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
        (status = 409, body = Problem, description = "reported_by_tsm: a secure-element script is completed by the issuer's TSM, not the device"),
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
        None,
    )
    .await?;
    if record.report_token_hash.is_some() {
        return Err(ApiError::new(
            Code::ReportedByTsm,
            "this credential goes to the secure element: the issuer's TSM reports its installation",
        ));
    }
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

/// Where a script stands, as the wallet and the TSM see it.
fn installation(record: &ScriptRecord) -> Result<Installation, ApiError> {
    let script: Script = serde_json::from_str(&record.body).map_err(|e| ApiError::internal(&e))?;
    let state = match (record.completed_at, &record.failure) {
        (Some(_), _) => InstallationState::Installed,
        (None, Some(_)) => InstallationState::Failed,
        (None, None) => InstallationState::Pending,
    };
    Ok(Installation {
        token_ref_id: record.token_ref_id.clone(),
        script_id: script.script_id,
        target: script.target,
        state,
        payment_ready: record.completed_at.is_some(),
        failure: record.failure.clone(),
    })
}

/// Where the installation of a provisioning's credential stands: the wallet of a
/// secure-element phone waits here for the issuer's TSM.
#[utoipa::path(get, path = "/v1/provisionings/{provisioning_id}/installation", tag = "scripts",
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 200, body = Installation, description = "PENDING, INSTALLED (payment-ready) or FAILED"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 404, body = Problem, description = "not_found: no script was sent for it, or not to this wallet provider"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn get_installation(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Installation>, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let record = state
        .store
        .script(&provisioning_id)
        .await?
        .filter(|r| r.token_requestor_id == principal.id)
        .ok_or_else(|| ApiError::not_found("no script was sent for this provisioning"))?;
    Ok(Json(installation(&record)?))
}

/// The longest failure reason kept from a TSM.
const MAX_REASON: usize = 200;

/// The issuer's TSM reports how a secure-element job ended (`DONE`: the credential is on the
/// element and the token can pay; `FAILED` with a reason). Authenticated by the report token
/// sent with that job only. A repeated report gets the same answer; a report contradicting the
/// recorded outcome is refused.
#[utoipa::path(post, path = "/v1/tsm/jobs/{job_id}/report", tag = "scripts",
    request_body = provisio_tsm::wire::JobStatus,
    params(("job_id" = String, Path, description = "The job id the token service gave the TSM (the provisioning id)")),
    responses(
        (status = 200, body = Installation, description = "Recorded (or recorded before)"),
        (status = 400, body = Problem, description = "malformed_request: another job id, or a state that is not DONE or FAILED"),
        (status = 401, body = Problem, description = "unauthorized: not this job's report token"),
        (status = 409, body = Problem, description = "report_conflict: the job already has the other outcome"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn tsm_report(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Installation>, ApiError> {
    let token = crate::auth::bearer(&headers)?;
    let hash = report_token_hash(state.crypto.as_ref(), state.keys.vault(), token);
    let record = state
        .store
        .script(&job_id)
        .await?
        .filter(|r| {
            r.report_token_hash
                .as_deref()
                .is_some_and(|h| provisio_crypto::ct_eq(h, &hash))
        })
        .ok_or_else(ApiError::unauthorized)?;
    let report: JobStatus = parse_json(&body)?;
    if report.job_id != job_id {
        return Err(ApiError::malformed("job_id differs from the path"));
    }
    let now = state.clock.now();
    let written = match &report.state {
        JobState::Done if record.completed_at.is_none() => {
            state.store.complete_script(&job_id, now).await
        }
        JobState::Failed { reason } if record.failure.is_none() => {
            let reason: String = reason.chars().take(MAX_REASON).collect();
            state.store.fail_script(&job_id, &reason, now).await
        }
        JobState::Done | JobState::Failed { .. } => Ok(()),
        _ => return Err(ApiError::malformed("a report says DONE or FAILED")),
    };
    match written {
        // A concurrent report wrote first: the answer below says what stands.
        Ok(()) | Err(StoreError::Conflict(Conflict::ScriptCompleted)) => {}
        Err(e) => return Err(e.into()),
    }
    let record = state
        .store
        .script(&job_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"script vanished"))?;
    let view = installation(&record)?;
    let agrees = match report.state {
        JobState::Done => view.state == InstallationState::Installed,
        _ => view.state == InstallationState::Failed,
    };
    if !agrees {
        return Err(ApiError::new(
            Code::ReportConflict,
            format!("the job is already recorded as {}", view.state.as_str()),
        ));
    }
    tracing::info!(%job_id, token_ref_id = %view.token_ref_id, state = view.state.as_str(), "TSM reported the secure-element job");
    Ok(Json(view))
}

//! Completing installation scripts, after which a token can pay ("converted into a payment
//! device"): the device reports an HCE script it ran (`POST /v1/provisionings/{id}/script-report`);
//! the issuer's TSM reports a secure-element job (`POST /v1/tsm/jobs/{id}/report`, with the
//! token made for that job); the wallet asks where it stands
//! (`GET /v1/provisionings/{id}/installation`). Each: authenticate, load the facts in one store
//! call, run the core once ([`ScriptReport::process`], [`TsmReport::process`],
//! [`installation_of`]), commit at most once, answer (docs/architecture.md §4).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use provisio_store::{Conflict, Role, ScriptFactsQuery, ScriptRecord, StoreError};
use provisio_tsp::wire::{Installation, ScriptReportRequest, ScriptReportResponse};
use provisio_tsp::{ScriptFacts, ScriptReport, SentScript, TsmReport, installation_of};

use super::parse_json;
use super::push::hosted_account;
use crate::auth::{bearer, require};
use crate::error::Problem;
use crate::{ApiError, AppState};

/// How often a TSM report is computed: once more after a concurrent report ended the job
/// first (an ended job does not change again, so the second pass writes nothing).
const REPORT_PASSES: usize = 2;

/// Completes the installation script of an approved provisioning.
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/script-report", tag = "scripts",
    request_body = ScriptReportRequest,
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 200, body = ScriptReportResponse, description = "Installed: the token can pay (a repeated report gets the same answer)"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; account_not_active"),
        (status = 404, body = Problem, description = "not_found: no script was sent for it, or it is another wallet user's or device's"),
        (status = 409, body = Problem, description = "reported_by_tsm: a secure-element script is completed by the issuer's TSM, not the device"),
        (status = 422, body = Problem, description = "script_mismatch, script_incomplete"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn report(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let req: ScriptReportRequest = parse_json(&body)?;
    let report = ScriptReport::new(&provisioning_id, &principal.id, req);
    let query = ScriptFactsQuery {
        provisioning_id: report.provisioning_id.clone(),
        hosted_account: principal
            .hosted_accounts
            .then(|| report.caller.hosted_user())
            .flatten()
            .map(|uid| (principal.id.clone(), uid.as_str().to_owned())),
    };
    let loaded = state.store.load_script_facts(&query).await?;
    let facts = ScriptFacts {
        script: loaded.script.map(sent_script),
        account: principal
            .hosted_accounts
            .then(|| loaded.account.map(hosted_account).transpose())
            .transpose()?,
    };
    let reported = report.process(&facts, state.clock.now())?;
    if let Some(end) = &reported.end {
        match state.store.end_script(end).await {
            // A concurrent identical report completed it first: same answer.
            Ok(()) | Err(StoreError::Conflict(Conflict::ScriptCompleted)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(%provisioning_id, token_ref_id = %reported.answer.token_ref_id, "script complete; token payment-ready");
    }
    Ok(Json(reported.answer).into_response())
}

/// A stored script as the core reads it.
fn sent_script(r: ScriptRecord) -> SentScript {
    SentScript {
        token_requestor_id: r.token_requestor_id,
        wallet_user_id: r.wallet_user_id,
        device_id: r.device_id,
        token_ref_id: r.token_ref_id,
        body: r.body,
        completed_at: r.completed_at,
        report_token_hash: r.report_token_hash,
        failure: r.failure,
    }
}

/// Where the installation of a provisioning's credential stands: the wallet of a
/// secure-element phone waits here for the issuer's TSM.
#[utoipa::path(get, path = "/v1/provisionings/{provisioning_id}/installation", tag = "scripts",
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 200, body = Installation, description = "PENDING, INSTALLED (payment-ready) or FAILED"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key"),
        (status = 404, body = Problem, description = "not_found: no script was sent for it, or not to this wallet provider"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn get_installation(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Installation>, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let sent = state.store.script(&provisioning_id).await?.map(sent_script);
    Ok(Json(installation_of(sent.as_ref(), &principal.id)?))
}

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
    security(("api_key" = ["report_token"])))]
pub(crate) async fn tsm_report(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Installation>, ApiError> {
    let report_token = bearer(&headers)?;
    let report = TsmReport {
        job_id: &job_id,
        report_token,
        body: &body,
    };
    let now = state.clock.now();
    for _ in 0..REPORT_PASSES {
        let sent = state.store.script(&job_id).await?.map(sent_script);
        let reported = report.process(
            state.crypto.as_ref(),
            state.keys.vault(),
            sent.as_ref(),
            now,
        )?;
        if let Some(end) = &reported.end {
            match state.store.end_script(end).await {
                Ok(()) => {}
                // A concurrent report ended it first: what stands decides the answer.
                Err(StoreError::Conflict(Conflict::ScriptCompleted)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let view = reported.answer;
        tracing::info!(%job_id, token_ref_id = %view.token_ref_id, state = view.state.as_str(), "TSM reported the secure-element job");
        return Ok(Json(view));
    }
    Err(ApiError::internal(
        &"a job's script kept ending under concurrent reports",
    ))
}

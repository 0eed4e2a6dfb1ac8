//! Step-up by one-time code: `POST /v1/provisionings/{id}/step-up/otp` sends a code,
//! `POST /v1/provisionings/{id}/step-up/verify` checks it and, when right, activates the token
//! and releases the access data and the installation script.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_store::{Conflict, Role, StoreError};
use provisio_tsp::records::TokenStatus;
use provisio_tsp::wire::{OtpSendRequest, OtpSent, OtpVerifyRequest, StepUpPassed, TokenInfo};
use provisio_tsp::{
    PushError, SeTarget, StepUpCaller, StepUpError, StepUpState, StoredToken, TsmHandoff,
    Verification, release_access_data,
};
use provisio_types::Refusal;

use super::parse_json;
use crate::account_gate::require_active_account;
use crate::auth::require;
use crate::error::Problem;
use crate::sp_tsm_link::sp_tsm_target;
use crate::{ApiError, AppState};

/// How often a change that lost a concurrent race is recomputed from fresh state.
const RACE_RETRIES: usize = 3;

/// Who signs the code messages.
const SENDER: &str = "Card verification";

async fn load(
    state: &AppState,
    provisioning_id: &str,
    caller: &StepUpCaller<'_>,
) -> Result<StepUpState, ApiError> {
    let step = state
        .store
        .step_up(provisioning_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no step-up exists for this provisioning"))?;
    step.check_caller(caller)?;
    Ok(step)
}

/// Sends a one-time code by one of the offered methods (through the notification outbox).
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/step-up/otp", tag = "step-up",
    request_body = OtpSendRequest,
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 201, body = OtpSent, description = "A code is on its way"),
        (status = 400, body = Problem, description = "malformed_request, unknown_method"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden (another user's or device's provisioning), step_up_locked, account_not_active"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "step_up_not_pending, step_up_conflict"),
        (status = 429, body = Problem, description = "otp_resend_limit"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn send_otp(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let req: OtpSendRequest = parse_json(&body)?;
    let caller = StepUpCaller {
        token_requestor_id: &principal.id,
        wallet_user_id: &req.wallet_user_id,
        device_id: &req.device_id,
    };
    require_active_account(
        &state,
        &principal,
        &req.wallet_user_id,
        &req.device_id,
        None,
    )
    .await?;
    for _ in 0..RACE_RETRIES {
        let step = load(&state, &provisioning_id, &caller).await?;
        let now = state.clock.now();
        let issued = step.issue(
            state.crypto.as_ref(),
            state.keys.vault(),
            &req.method_id,
            SENDER,
            now,
            &state.config.step_up,
        )?;
        match state.store.commit_otp_issue(&issued).await {
            Ok(()) => {
                state.outbox_wake.notify_one();
                tracing::info!(%provisioning_id, otp_id = %issued.otp.otp_id, "step-up code queued");
                let sent = OtpSent {
                    otp_id: issued.otp.otp_id,
                    destination: issued.destination,
                    expires_at: issued.otp.expires_at,
                    resends_left: issued.resends_left,
                };
                return Ok((StatusCode::CREATED, Json(sent)).into_response());
            }
            Err(StoreError::Conflict(Conflict::StepUpVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StepUpError::Conflict.into())
}

/// Checks a one-time code. Right: the token becomes `ACTIVE` and the answer carries the access
/// data and the installation script. Wrong: the try is counted before the refusal.
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/step-up/verify", tag = "step-up",
    request_body = OtpVerifyRequest,
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 200, body = StepUpPassed, description = "Verified: token active, access data released"),
        (status = 400, body = Problem, description = "malformed_request, otp_invalid, otp_expired, otp_tries_exhausted"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden (another user's or device's provisioning), step_up_locked, account_not_active"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "otp_used (a replayed code), step_up_not_pending, step_up_conflict"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn verify_otp(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let req: OtpVerifyRequest = parse_json(&body)?;
    let caller = StepUpCaller {
        token_requestor_id: &principal.id,
        wallet_user_id: &req.wallet_user_id,
        device_id: &req.device_id,
    };
    require_active_account(
        &state,
        &principal,
        &req.wallet_user_id,
        &req.device_id,
        None,
    )
    .await?;
    let crypto = state.crypto.as_ref();
    for _ in 0..RACE_RETRIES {
        let step = load(&state, &provisioning_id, &caller).await?;
        let otp = state
            .store
            .otp(&req.otp_id)
            .await?
            .ok_or(StepUpError::UnknownOtp)?;
        let now = state.clock.now();
        let verification = step.verify(
            crypto,
            state.keys.vault(),
            &otp,
            &req.code,
            now,
            &state.config.step_up,
        );
        let (change, outcome) = match verification {
            Verification::Refused(e) => return Err(e.into()),
            Verification::Failed(change, e) => (change, Err(e)),
            Verification::Passed(change) => {
                let passed = release(&state, &step.token_ref_id, &provisioning_id).await?;
                (change, Ok(passed))
            }
        };
        let (script, handoff) = match &outcome {
            Ok((passed, handoff)) => (Some(&passed.script), handoff.as_ref()),
            Err(_) => (None, None),
        };
        match state
            .store
            .commit_step_up_change(&change, &step.token_ref_id, script, handoff, now)
            .await
        {
            Ok(()) if handoff.is_some() => state.outbox_wake.notify_one(),
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::StepUpVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
        return match outcome {
            Err(e) => {
                tracing::info!(%provisioning_id, code = %e.code(), "step-up code refused");
                Err(e.into())
            }
            Ok((passed, _)) => {
                tracing::info!(%provisioning_id, token_ref_id = %passed.token.token_ref_id, "step-up passed; token active");
                Ok(Json(passed).into_response())
            }
        };
    }
    Err(StepUpError::Conflict.into())
}

/// The answer to a right code: the token as it will be once the change commits, its access
/// data and a fresh installation script; and, for a secure element, the job for the issuer's
/// TSM.
async fn release(
    state: &AppState,
    token_ref_id: &str,
    provisioning_id: &str,
) -> Result<(StepUpPassed, Option<TsmHandoff>), ApiError> {
    let token = state
        .store
        .token(token_ref_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"step-up without its token"))?;
    let sp_tsm =
        match token.secure_element_id {
            Some(_) => Some(sp_tsm_target(state, &token.issuer_id).await?.ok_or(
                PushError::Config("the issuer's TSM is no longer registered"),
            )?),
            None => None,
        };
    let secure_element = token
        .secure_element_id
        .as_deref()
        .zip(sp_tsm.as_ref())
        .map(|(se_id, sp_tsm)| SeTarget { se_id, sp_tsm });
    let released = release_access_data(
        state.crypto.as_ref(),
        &state.keys,
        &StoredToken {
            token_ref_id: &token.token_ref_id,
            token_pan: &token.token_pan,
            cryptogram_key: &token.cryptogram_key,
            binding_jwk: &token.binding_jwk,
            exp_month: token.exp_month,
            exp_year: token.exp_year,
            provisioning_id,
            secure_element,
        },
    )?;
    let passed = StepUpPassed {
        provisioning_id: provisioning_id.to_owned(),
        token: TokenInfo {
            token_ref_id: token.token_ref_id,
            last4: token.token_last4,
            exp_month: token.exp_month,
            exp_year: token.exp_year,
            status: TokenStatus::Active.as_str().into(),
        },
        access_data: released.access_data,
        script: released.script,
    };
    Ok((passed, released.handoff))
}

//! Step-up by one-time code (docs/protocol.md §6): `POST /v1/provisionings/{id}/step-up/otp`
//! sends a code, `POST /v1/provisionings/{id}/step-up/verify` checks it and, when right,
//! activates the token and releases the access data and the installation script. Each:
//! authenticate, parse, load the facts in one store call, run the core once
//! ([`OtpSend::process`], [`OtpVerify::process`]), commit once, answer
//! (docs/architecture.md §4); a commit that lost a race is computed again from fresh facts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_store::{Conflict, Principal, Role, StepUpFactsQuery, StoreError, TokenRecord};
use provisio_tsp::wire::{
    CallCenterActivated, CallCenterActivationRequest, CallCenterCollectRequest,
    IssuerAppActivationRequest, OtpSendRequest, OtpSent, OtpVerifyRequest, StepUpPassed,
};
use provisio_tsp::{
    AppActivation, CallCenterActivation, CallCenterCollect, OtpSend, OtpVerify, StepUpContext,
    StepUpError, StepUpFacts, StoredToken, WalletCaller,
};
use provisio_types::Refusal;

use super::parse_json;
use super::push::hosted_account;
use crate::auth::require;
use crate::error::Problem;
use crate::sp_tsm_link::target_of;
use crate::{ApiError, AppState};

/// How often a change that lost a concurrent race is recomputed from fresh state.
const RACE_RETRIES: usize = 3;

/// Sends a one-time code by one of the offered methods (through the notification outbox).
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/step-up/otp", tag = "step-up",
    request_body = OtpSendRequest,
    params(("provisioning_id" = String, Path, description = "From the push provisioning answer")),
    responses(
        (status = 201, body = OtpSent, description = "A code is on its way"),
        (status = 400, body = Problem, description = "malformed_request, unknown_method"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; step_up_locked, account_not_active"),
        (status = 404, body = Problem, description = "not_found: no step-up for this provisioning, or it is another wallet user's or device's"),
        (status = 409, body = Problem, description = "step_up_not_pending, step_up_conflict"),
        (status = 429, body = Problem, description = "otp_resend_limit"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn send_otp(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let send = OtpSend::new(&provisioning_id, &principal.id, parse_json(&body)?);
    let query = facts_query(&principal, &send.provisioning_id, &send.caller, None);
    let ctx = context(&state);
    for _ in 0..RACE_RETRIES {
        let loaded = state.store.load_step_up_facts(&query).await?;
        let sent = send.process(&ctx, &facts(&state, &principal, loaded)?)?;
        match state.store.commit_otp_issue(&sent.record).await {
            Ok(()) => {
                state.outbox_wake.notify_one();
                tracing::info!(%provisioning_id, otp_id = %sent.answer.otp_id, "step-up code queued");
                return Ok((StatusCode::CREATED, Json(sent.answer)).into_response());
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
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; step_up_locked, account_not_active"),
        (status = 404, body = Problem, description = "not_found: no step-up for this provisioning, or it is another wallet user's or device's"),
        (status = 409, body = Problem, description = "otp_used (a replayed code), step_up_not_pending, step_up_conflict"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn verify_otp(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let verify = OtpVerify::new(&provisioning_id, &principal.id, parse_json(&body)?);
    let query = facts_query(
        &principal,
        &verify.provisioning_id,
        &verify.caller,
        Some(&verify.otp_id),
    );
    let ctx = context(&state);
    for _ in 0..RACE_RETRIES {
        let loaded = state.store.load_step_up_facts(&query).await?;
        let checked = verify.process(&ctx, &facts(&state, &principal, loaded)?)?;
        match state.store.commit_step_up_change(&checked.change).await {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::StepUpVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
        let activation = checked.change.activation.as_ref();
        let handoff = activation.and_then(|a| a.handoff.as_ref());
        // The activation's TOKEN_ACTIVATED events wait in the outbox too.
        if handoff.is_some() || activation.is_some_and(|a| !a.change.events.is_empty()) {
            state.outbox_wake.notify_one();
        }
        return match checked.answer {
            Err(e) => {
                tracing::info!(%provisioning_id, code = %e.code(), "step-up code refused");
                Err(e.into())
            }
            Ok(passed) => {
                tracing::info!(%provisioning_id, token_ref_id = %passed.token.token_ref_id, "step-up passed; token active");
                Ok(Json(passed).into_response())
            }
        };
    }
    Err(StepUpError::Conflict.into())
}

/// Activates the token with the issuer app's signed activation data (docs/protocol.md §17.4):
/// answered as a right code is.
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/step-up/issuer-app", tag = "step-up",
    request_body = IssuerAppActivationRequest,
    params(("provisioning_id" = String, Path, description = "From the provisioning answer")),
    responses(
        (status = 200, body = StepUpPassed, description = "Activated: token active, access data released"),
        (status = 400, body = Problem, description = "malformed_request, unknown_method (not an ISSUER_APP method of this step-up), signature_invalid (not the token's issuer's key), binding_mismatch (another token or device), stale_timestamp"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; step_up_locked, account_not_active"),
        (status = 404, body = Problem, description = "not_found: no step-up for this provisioning, or it is another wallet user's or device's"),
        (status = 409, body = Problem, description = "replayed_request (the nonce was used before), step_up_not_pending, step_up_conflict"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn issuer_app(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let activation = AppActivation::new(&provisioning_id, &principal.id, parse_json(&body)?);
    let query = facts_query_with_token(
        &principal,
        &activation.provisioning_id,
        &activation.caller,
        None,
        true,
    );
    let ctx = context(&state);
    for _ in 0..RACE_RETRIES {
        let loaded = state.store.load_step_up_facts(&query).await?;
        let facts = facts(&state, &principal, loaded)?;
        let issuer = match &facts.token {
            Some(t) => {
                let cached = state.issuer_keys.get(&t.issuer_id);
                let key = match cached {
                    Some(k) => Some(k),
                    None => {
                        super::push::issuer_key(&state, state.store.issuer(&t.issuer_id).await?)?
                    }
                };
                key.map(|k| (t.issuer_id.clone(), k))
            }
            None => None,
        };
        let checked = activation.process(
            &ctx,
            &facts,
            issuer.as_ref(),
            state.config.freshness_window_s,
        )?;
        match state.store.commit_step_up_change(&checked.change).await {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::StepUpVersion)) => continue,
            Err(StoreError::Conflict(Conflict::ActivationNonce)) => {
                return Err(provisio_tsp::PushError::Replayed("activation data (nonce)").into());
            }
            Err(e) => return Err(e.into()),
        }
        if checked.change.activation.is_some() {
            state.outbox_wake.notify_one();
        }
        let passed = checked.answer?;
        tracing::info!(%provisioning_id, token_ref_id = %passed.token.token_ref_id, "issuer app activated the token");
        return Ok(Json(passed).into_response());
    }
    Err(StepUpError::Conflict.into())
}

/// The issuer's call centre activates a token whose step-up offers `CALL_CENTER`
/// (docs/protocol.md §17.5): the agent authenticated the cardholder on the phone.
#[utoipa::path(post, path = "/v1/tokens/{token_ref_id}/activate", tag = "step-up",
    request_body = CallCenterActivationRequest,
    params(("token_ref_id" = String, Path, description = "The INACTIVE token")),
    responses(
        (status = 200, body = CallCenterActivated, description = "Activated; the wallet collects the access data"),
        (status = 400, body = Problem, description = "malformed_request (agent_id), unknown_method (its step-up does not offer CALL_CENTER)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an issuer key; step_up_locked"),
        (status = 404, body = Problem, description = "unknown_token: no such token of this issuer"),
        (status = 409, body = Problem, description = "step_up_not_pending (active already, or no step-up), step_up_conflict"),
    ),
    security(("api_key" = ["issuer"])))]
pub(crate) async fn call_center_activate(
    State(state): State<AppState>,
    Path(token_ref_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::Issuer).await?;
    let activation = CallCenterActivation::new(&token_ref_id, &principal.id, parse_json(&body)?)?;
    let token = state
        .store
        .token(&token_ref_id)
        .await?
        .filter(|t| t.issuer_id == principal.id)
        .ok_or(StepUpError::UnknownToken)?;
    let query = StepUpFactsQuery {
        provisioning_id: token.provisioning_id,
        otp_id: None,
        hosted_account: None,
        token: true,
    };
    let ctx = context(&state);
    for _ in 0..RACE_RETRIES {
        let loaded = state.store.load_step_up_facts(&query).await?;
        let checked = activation.process(&ctx, &facts(&state, &principal, loaded)?)?;
        match state.store.commit_step_up_change(&checked.change).await {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::StepUpVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
        state.outbox_wake.notify_one();
        tracing::info!(%token_ref_id, agent_id = %activation.agent_id, "the issuer's call centre activated the token");
        return Ok(Json(CallCenterActivated {
            token_ref_id,
            status: "ACTIVE".into(),
            agent_id: activation.agent_id,
        })
        .into_response());
    }
    Err(StepUpError::Conflict.into())
}

/// The wallet collects what a call-centre activation released: answered as a right code is,
/// 409 `activation_pending` until the agent has activated the token.
#[utoipa::path(post, path = "/v1/provisionings/{provisioning_id}/step-up/call-center", tag = "step-up",
    request_body = CallCenterCollectRequest,
    params(("provisioning_id" = String, Path, description = "From the provisioning answer")),
    responses(
        (status = 200, body = StepUpPassed, description = "Activated by the call centre: token active, access data released"),
        (status = 400, body = Problem, description = "malformed_request, unknown_method (not a CALL_CENTER method of this step-up)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; step_up_locked, account_not_active"),
        (status = 404, body = Problem, description = "not_found: no step-up for this provisioning, or it is another wallet user's or device's"),
        (status = 409, body = Problem, description = "activation_pending: the call centre has not activated it yet"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn call_center_collect(
    State(state): State<AppState>,
    Path(provisioning_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = require(&state, &headers, Role::TokenRequestor).await?;
    let collect = CallCenterCollect::new(&provisioning_id, &principal.id, parse_json(&body)?);
    let query = facts_query(&principal, &collect.provisioning_id, &collect.caller, None);
    let loaded = state.store.load_step_up_facts(&query).await?;
    let released = collect.process(&context(&state), &facts(&state, &principal, loaded)?)?;
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        released,
    )
        .into_response())
}

fn context(state: &AppState) -> StepUpContext<'_> {
    StepUpContext {
        crypto: state.crypto.as_ref(),
        keys: &state.keys,
        config: &state.config.step_up,
        now: state.clock.now(),
    }
}

/// What a step-up request reads: the step-up, the code a verification names (with the token
/// and its issuer's TSM), and a hosted wallet's account.
fn facts_query(
    principal: &Principal,
    provisioning_id: &str,
    caller: &WalletCaller,
    otp_id: Option<&str>,
) -> StepUpFactsQuery {
    facts_query_with_token(principal, provisioning_id, caller, otp_id, otp_id.is_some())
}

/// [`facts_query`], with the token (and its issuer's TSM) when `token`.
fn facts_query_with_token(
    principal: &Principal,
    provisioning_id: &str,
    caller: &WalletCaller,
    otp_id: Option<&str>,
    token: bool,
) -> StepUpFactsQuery {
    StepUpFactsQuery {
        provisioning_id: provisioning_id.to_owned(),
        otp_id: otp_id.map(str::to_owned),
        hosted_account: principal
            .hosted_accounts
            .then(|| caller.hosted_user())
            .flatten()
            .map(|uid| (principal.id.clone(), uid.as_str().to_owned())),
        token,
    }
}

/// The loaded records as the core reads them: the account's and the TSM's keys parsed.
fn facts(
    state: &AppState,
    principal: &Principal,
    loaded: provisio_store::StepUpFacts,
) -> Result<StepUpFacts, ApiError> {
    Ok(StepUpFacts {
        account: principal
            .hosted_accounts
            .then(|| loaded.account.map(hosted_account).transpose())
            .transpose()?,
        step_up: loaded.step_up,
        otp: loaded.otp,
        token: loaded.token.map(stored_token),
        sp_tsm: loaded.sp_tsm.map(|r| target_of(state, r)).transpose()?,
    })
}

fn stored_token(t: TokenRecord) -> StoredToken {
    StoredToken {
        token_ref_id: t.token_ref_id,
        token_pan: t.token_pan,
        cryptogram_key: t.cryptogram_key,
        binding_jwk: t.binding_jwk,
        token_last4: t.token_last4,
        exp_month: t.exp_month,
        exp_year: t.exp_year,
        secure_element_id: t.secure_element_id,
        status: t.status,
        event_seq: t.event_seq,
        account_ref: t.account_ref,
        issuer_id: t.issuer_id,
        token_requestor_id: t.token_requestor_id,
        issuer_notified: t.issuer_notified,
        token_requestor_notified: t.token_requestor_notified,
    }
}

//! `POST /v1/push-provisioning` (docs/protocol.md §3.3).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_risk::evaluate;
use provisio_store::{Conflict, Role, SignalQuery, StoreError};
use provisio_tsp::wire::{PushProvisioningRequest, PushProvisioningResponse, WalletRiskInfo};
use provisio_tsp::{AcceptContext, MintInput, PushError, SeTarget};
use provisio_types::{DeviceId, SessionId, WalletUserId};

use super::admin::replay_after_race;
use super::parse_json;
use crate::account_gate::require_active_account;
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency;
use crate::sp_tsm_link::sp_tsm_target;
use crate::{ApiError, AppState};

/// How often a token PAN collision is retried with a fresh number before giving up.
const MINT_ATTEMPTS: usize = 4;

/// Accepts the issuer app's request data, forwarded by the wallet, and answers with a token
/// bound to the device.
#[utoipa::path(post, path = "/v1/push-provisioning", tag = "push provisioning",
    request_body = PushProvisioningRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 200, body = PushProvisioningResponse, description = "Processed: approved, step-up required, or declined"),
        (status = 400, body = Problem, description = "malformed_request, payload_undecryptable, signature_invalid, unknown_issuer, audience_mismatch, binding_mismatch, stale_timestamp, invalid_account"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; account_not_active: a hosted wallet's user has no ACTIVE account on this device"),
        (status = 409, body = Problem, description = "replayed_request: the session id or jti was used before"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn push_provisioning(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(&state, &headers, Role::TokenRequestor).await?;
    let (idem, replay) =
        idempotency::begin(&state, &headers, &caller.id, "/v1/push-provisioning", &body).await?;
    if let Some(replayed) = replay {
        return Ok(replayed);
    }
    let now = state.clock.now();
    let req: PushProvisioningRequest = parse_json(&body)?;
    SessionId::parse(&req.session_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    WalletUserId::parse(&req.wallet_user_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    DeviceId::parse(&req.device_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    let device_key = req
        .device
        .binding_jwk
        .public_key()
        .map_err(|e| ApiError::malformed(format!("device.binding_jwk: {e}")))?;
    require_active_account(
        &state,
        &caller,
        &req.wallet_user_id,
        &req.device_id,
        Some(&device_key),
    )
    .await?;
    let wallet = WalletRiskInfo::to_input(req.wallet_risk.as_ref()).map_err(ApiError::malformed)?;

    let crypto = state.crypto.as_ref();
    let opened = provisio_tsp::open(crypto, &state.keys, &req.encrypted_payload)?;
    let (signing_kid, issuer_key) = issuer_key(&state, opened.claimed_issuer()).await?;
    let accepted = opened
        .verify(crypto, &signing_kid, &issuer_key)?
        .accept(&AcceptContext {
            tsp_id: &state.config.tsp_id,
            caller_trid: &caller.id,
            session_id: &req.session_id,
            wallet_user_id: &req.wallet_user_id,
            device_id: &req.device_id,
            now,
            window_s: state.config.freshness_window_s,
        })?;

    let vault = state.keys.vault();
    let pan = accepted.pan.expose();
    let pan_hash = vault.lookup_hash(crypto, "pan", pan);
    let mut signals = state
        .store
        .risk_signals(&SignalQuery {
            pan_hash,
            bin8: pan.chars().take(8).collect(),
            device_id: req.device_id.clone(),
            token_requestor_id: caller.id.clone(),
            wallet_user_id: req.wallet_user_id.clone(),
            now,
        })
        .await?;
    // Only the issuer-app path reaches this handler: the request data is signed by the
    // issuer's registered key after it authenticated the cardholder.
    signals.trusted_push = true;
    let risk = evaluate(
        &state.config.risk_policy,
        &accepted.issuer_id,
        &wallet,
        &signals,
    );
    // A secure element is provisioned through the issuer's TSM; an issuer without one gets
    // the HCE script on every device.
    let sp_tsm = match req.device.secure_element_id {
        Some(_) => sp_tsm_target(&state, &accepted.issuer_id).await?,
        None => None,
    };
    let secure_element = req
        .device
        .secure_element_id
        .as_deref()
        .zip(sp_tsm.as_ref())
        .map(|(se_id, sp_tsm)| SeTarget { se_id, sp_tsm });
    let input = MintInput {
        accepted: &accepted,
        device_key: &device_key,
        secure_element,
        risk: &risk,
        pan_hash,
        now,
    };
    for _ in 0..MINT_ATTEMPTS {
        let minted = provisio_tsp::mint(crypto, &state.keys, &state.config, &input)?;
        let body = serde_json::to_string(&minted.response).map_err(|e| ApiError::internal(&e))?;
        let idem_record = idem.as_ref().map(|k| k.record(StatusCode::OK, &body, now));
        match state
            .store
            .commit_provisioning(&minted.record, idem_record.as_ref())
            .await
        {
            Ok(()) => {
                tracing::info!(
                    provisioning_id = %minted.response.provisioning_id,
                    decision = ?minted.response.decision,
                    token_ref_id = minted.response.token.as_ref().map(|t| t.token_ref_id.as_str()).unwrap_or(""),
                    final_level = risk.final_level,
                    "push provisioning committed"
                );
                if minted.record.handoff.is_some() {
                    state.outbox_wake.notify_one();
                }
                return Ok((
                    StatusCode::OK,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response());
            }
            Err(StoreError::Conflict(Conflict::TokenPan)) => continue,
            Err(StoreError::Conflict(Conflict::IdempotencyKey)) => {
                return replay_after_race(&state, idem.as_ref()).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        &"token BIN range exhausted: no free token PAN after retries",
    ))
}

/// The registered issuer's signing `kid` and key, parsed and validated once per
/// [`crate::read_cache::TTL`].
async fn issuer_key(
    state: &AppState,
    issuer_id: &str,
) -> Result<(String, provisio_crypto::EcPublicKey), ApiError> {
    if let Some(found) = state.issuer_keys.get(&issuer_id.to_owned()) {
        return Ok(found);
    }
    let issuer = state
        .store
        .issuer(issuer_id)
        .await?
        .ok_or(PushError::UnknownIssuer)?;
    let jwk: provisio_jose::Jwk =
        serde_json::from_str(&issuer.signing_jwk).map_err(|e| ApiError::internal(&e))?;
    let key = jwk.public_key().map_err(|e| ApiError::internal(&e))?;
    let found = (issuer.signing_kid, key);
    state.issuer_keys.put(issuer.issuer_id, found.clone());
    Ok(found)
}

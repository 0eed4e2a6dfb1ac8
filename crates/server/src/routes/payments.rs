//! Paying with the token (docs/protocol.md §16): payment networks register through the admin
//! API, and `POST /v1/network/authorizations` de-tokenises with cryptogram validation:
//! authenticate, parse, then one store call that loads the token, runs the core on it and
//! records the outcome in one transaction, answer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_store::{Conflict, Decide, NetworkRecord, Role, StoreError};
use provisio_tsp::payment_wire::{AuthorizationAnswer, AuthorizationRequest};
use provisio_tsp::{Authorization, AuthorizeInput, Recorded, authorize, ordered_id};
use provisio_types::{Code, NetworkId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin::replay_after_race;
use super::parse_json;
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency;
use crate::{ApiError, AppState, hash_api_key, new_api_key};

/// `POST /v1/admin/networks` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNetwork {
    /// The network's id (1-64 printable characters).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    pub network_id: String,
    /// Display name: plain text (no control or bidirectional formatting characters).
    #[schema(value_type = crate::doc_schemas::PlainName)]
    pub name: String,
}

/// `POST /v1/admin/networks` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedNetwork {
    /// The id.
    pub network_id: String,
    /// The network's API key, shown only now.
    pub api_key: String,
}

/// Registers a payment network (or a processor's authorisation switch).
#[utoipa::path(post, path = "/v1/admin/networks", tag = "admin",
    request_body = CreateNetwork,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 201, body = CreatedNetwork),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 409, body = Problem, description = "network_exists"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn create_network(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admin = require(&state, &headers, Role::Admin).await?;
    let (idem, replay) =
        idempotency::begin(&state, &headers, &admin.id, "/v1/admin/networks", &body).await?;
    if let Some(replayed) = replay {
        return Ok(replayed);
    }
    let req: CreateNetwork = parse_json(&body)?;
    super::admin::checked_name(&req.name)?;
    let id = NetworkId::parse(&req.network_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    let crypto = state.crypto.as_ref();
    let api_key = new_api_key(crypto).map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    let record = NetworkRecord {
        network_id: id.to_string(),
        name: req.name,
        created_at: now,
    };
    let key_hash = hash_api_key(crypto, &api_key);
    let body = serde_json::to_string(&CreatedNetwork {
        network_id: record.network_id.clone(),
        api_key,
    })
    .map_err(|e| ApiError::internal(&e))?;
    let idem_record = idem
        .as_ref()
        .map(|k| k.record(&state, StatusCode::CREATED, &body, now))
        .transpose()?;
    match state
        .store
        .create_network(&record, &key_hash, idem_record.as_ref())
        .await
    {
        Ok(()) => Ok((
            StatusCode::CREATED,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()),
        Err(StoreError::Conflict(Conflict::NetworkId)) => Err(ApiError::new(
            Code::NetworkExists,
            "a network with this network_id is registered",
        )),
        Err(StoreError::Conflict(Conflict::IdempotencyKey)) => {
            replay_after_race(&state, idem.as_ref()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Authorises a payment made with a token: checks the token, its status and expiry, the
/// channel, the cryptogram and the ATC, and on approval answers with the funding card.
#[utoipa::path(post, path = "/v1/network/authorizations", tag = "payments",
    request_body = AuthorizationRequest,
    responses(
        (status = 200, body = AuthorizationAnswer, description = "Decided: APPROVED with the funding PAN, or DECLINED with its reason (unknown_token, token_not_active, token_expired, cryptogram_invalid, atc_replayed, channel_not_allowed). Recorded before the answer."),
        (status = 400, body = Problem, description = "malformed_request: a field is not the documented form (the detail names it, never its value)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a network key"),
    ),
    security(("api_key" = ["network"])))]
pub(crate) async fn authorize_payment(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let network = require(&state, &headers, Role::Network).await?;
    let req: AuthorizationRequest = parse_json(&body)?;
    let request = Authorization::parse(&req)?;
    let crypto = state.crypto.as_ref();
    let token_pan_hash = request.token_pan_hash(crypto, state.keys.vault());
    let now = state.clock.now();
    let authorization_id = ordered_id(crypto, "au_", now).map_err(|e| ApiError::internal(&e))?;
    // The core runs in the store's transaction, on the token it reads there (one crossing).
    let (crypto, keys, config) = (
        state.crypto.clone(),
        state.keys.clone(),
        state.config.clone(),
    );
    let decide: Decide = Box::new(move |token| {
        authorize(
            crypto.as_ref(),
            keys.vault(),
            &config.payments,
            &AuthorizeInput {
                request: &request,
                token: token.as_ref(),
                network_id: &network.id,
                authorization_id: &authorization_id,
                now,
            },
        )
    });
    let (decided, recorded) = state.store.authorize(&token_pan_hash, decide).await??;
    let decided = match recorded {
        Recorded::Replayed => decided.replayed(),
        Recorded::AsDecided => decided,
    };
    state.metrics.authorization(decided.answer.reason);
    tracing::debug!(
        authorization_id = %decided.record.authorization_id,
        decision = decided.record.decision.as_str(),
        reason = decided.record.reason.map(|r| r.as_str()),
        token_ref_id = decided.record.token_ref_id.as_deref(),
        atc = decided.record.atc,
        "authorisation recorded"
    );
    Ok(axum::Json(decided.answer).into_response())
}

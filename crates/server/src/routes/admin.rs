//! Registration of participants (docs/protocol.md §2). Admin key required.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_jose::Jwk;
use provisio_store::{Conflict, IssuerRecord, Role, StoreError, TokenRequestorRecord};
use provisio_types::{Code, IssuerId, TokenRequestorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::parse_json;
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency::{self, IdempotencyKey};
use crate::{ApiError, AppState, hash_api_key, new_api_key};

/// `POST /v1/admin/issuers` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssuer {
    /// The issuer's id, used as `iss` in its request data (1-64 printable characters).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    pub issuer_id: String,
    /// Display name: plain text (no control or bidirectional formatting characters).
    #[schema(value_type = crate::doc_schemas::PlainName)]
    pub name: String,
    /// The EC P-256 public key its app signs with, with `kid`.
    #[schema(value_type = provisio_tsp::wire::EcPublicJwkWithKid)]
    pub signing_jwk: Jwk,
    /// Where its token events are posted (docs/protocol.md §15.5): https, or http to a
    /// loopback address; at most 2,048 bytes.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub notification_url: Option<String>,
    /// Its card ranges: prefixes of 6 to 11 digits (docs/protocol.md §17.1), at most 1,000.
    #[serde(default)]
    #[schema(value_type = Vec<crate::doc_schemas::BinRange>, max_items = 1000)]
    pub bin_ranges: Vec<String>,
    /// Its pushes still step up in the step-up band, instead of being approved as
    /// authenticated by its app (docs/protocol.md §17.6). Default `false`.
    #[serde(default)]
    pub push_step_up: bool,
}

/// `POST /v1/admin/issuers` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedIssuer {
    /// The id.
    pub issuer_id: String,
    /// The issuer's API key, shown only now.
    pub api_key: String,
}

/// Who manages the wallet's user accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WalletAccounts {
    /// The wallet provider (default).
    #[default]
    External,
    /// Provisio hosts them.
    Hosted,
}

/// `POST /v1/admin/token-requestors` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequestor {
    /// EMVCo token requestor id, 11 digits.
    #[schema(pattern = "^[0-9]{11}$")]
    pub token_requestor_id: String,
    /// Display name: plain text (no control or bidirectional formatting characters).
    #[schema(value_type = crate::doc_schemas::PlainName)]
    pub name: String,
    /// `external` (default) or `hosted`.
    #[serde(default)]
    pub wallet_accounts: WalletAccounts,
    /// Where its token events are posted (docs/protocol.md §15.5): https, or http to a
    /// loopback address; at most 2,048 bytes.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub notification_url: Option<String>,
}

/// `POST /v1/admin/token-requestors` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTokenRequestor {
    /// The id.
    pub token_requestor_id: String,
    /// The wallet provider's API key, shown only now.
    pub api_key: String,
}

/// Registers a card issuer and the key its app signs with.
#[utoipa::path(post, path = "/v1/admin/issuers", tag = "admin",
    request_body = CreateIssuer,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 201, body = CreatedIssuer),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 409, body = Problem, description = "issuer_exists; bin_range_taken: a card range is another issuer's"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn create_issuer(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admin = require(&state, &headers, Role::Admin).await?;
    let (idem, replay) =
        idempotency::begin(&state, &headers, &admin.id, "/v1/admin/issuers", &body).await?;
    if let Some(replayed) = replay {
        return Ok(replayed);
    }
    let req: CreateIssuer = parse_json(&body)?;
    checked_name(&req.name)?;
    let issuer_id =
        IssuerId::parse(&req.issuer_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    req.signing_jwk
        .public_key()
        .map_err(|e| ApiError::malformed(format!("signing_jwk: {e}")))?;
    let kid = req
        .signing_jwk
        .kid
        .clone()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::malformed("signing_jwk must have a kid"))?;
    let crypto = state.crypto.as_ref();
    let api_key = new_api_key(crypto).map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    let record = IssuerRecord {
        issuer_id: issuer_id.to_string(),
        name: req.name,
        signing_kid: kid,
        signing_jwk: serde_json::to_string(&req.signing_jwk).map_err(|e| ApiError::internal(&e))?,
        created_at: now,
        notification_url: super::token_admin::checked_url(req.notification_url)?,
        push_step_up: req.push_step_up,
        bin_ranges: super::issuer_settings::checked_ranges(req.bin_ranges)?,
        decisioning: None,
    };
    let key_hash = hash_api_key(crypto, &api_key);
    let body = serde_json::to_string(&CreatedIssuer {
        issuer_id: record.issuer_id.clone(),
        api_key,
    })
    .map_err(|e| ApiError::internal(&e))?;
    let idem_record = idem
        .as_ref()
        .map(|k| k.record(&state, StatusCode::CREATED, &body, now))
        .transpose()?;
    let committed = state
        .store
        .create_issuer(&record, &key_hash, idem_record.as_ref())
        .await;
    registration_answer(
        &state,
        committed,
        body,
        idem.as_ref(),
        (
            Conflict::IssuerId,
            Code::IssuerExists,
            "an issuer with this issuer_id is registered",
        ),
    )
    .await
}

/// Registers a wallet provider (token requestor).
#[utoipa::path(post, path = "/v1/admin/token-requestors", tag = "admin",
    request_body = CreateTokenRequestor,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 201, body = CreatedTokenRequestor),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 409, body = Problem, description = "token_requestor_exists"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn create_token_requestor(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admin = require(&state, &headers, Role::Admin).await?;
    let (idem, replay) = idempotency::begin(
        &state,
        &headers,
        &admin.id,
        "/v1/admin/token-requestors",
        &body,
    )
    .await?;
    if let Some(replayed) = replay {
        return Ok(replayed);
    }
    let req: CreateTokenRequestor = parse_json(&body)?;
    checked_name(&req.name)?;
    let id = TokenRequestorId::parse(&req.token_requestor_id)
        .map_err(|e| ApiError::malformed(e.to_string()))?;
    let crypto = state.crypto.as_ref();
    let api_key = new_api_key(crypto).map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    let record = TokenRequestorRecord {
        token_requestor_id: id.to_string(),
        name: req.name,
        wallet_accounts: match req.wallet_accounts {
            WalletAccounts::External => "external".into(),
            WalletAccounts::Hosted => "hosted".into(),
        },
        created_at: now,
        notification_url: super::token_admin::checked_url(req.notification_url)?,
    };
    let key_hash = hash_api_key(crypto, &api_key);
    let body = serde_json::to_string(&CreatedTokenRequestor {
        token_requestor_id: record.token_requestor_id.clone(),
        api_key,
    })
    .map_err(|e| ApiError::internal(&e))?;
    let idem_record = idem
        .as_ref()
        .map(|k| k.record(&state, StatusCode::CREATED, &body, now))
        .transpose()?;
    let committed = state
        .store
        .create_token_requestor(&record, &key_hash, idem_record.as_ref())
        .await;
    registration_answer(
        &state,
        committed,
        body,
        idem.as_ref(),
        (
            Conflict::TokenRequestorId,
            Code::TokenRequestorExists,
            "a token requestor with this id is registered",
        ),
    )
    .await
}

/// The answer to a registration once the store has tried to commit it: 201, 409 when the id
/// is taken (`exists` names the conflict, its code and detail), or the first answer when a
/// concurrent request with the same idempotency key won.
async fn registration_answer(
    state: &AppState,
    committed: Result<(), StoreError>,
    body: String,
    idem: Option<&IdempotencyKey>,
    exists: (Conflict, Code, &'static str),
) -> Result<Response, ApiError> {
    match committed {
        Ok(()) => Ok(created(body)),
        Err(StoreError::Conflict(c)) if c == exists.0 => Err(ApiError::new(exists.1, exists.2)),
        Err(StoreError::Conflict(Conflict::IdempotencyKey)) => replay_after_race(state, idem).await,
        Err(e) => Err(super::issuer_settings::range_conflict(e)),
    }
}

/// A participant's display name: 1 to 100 characters of plain text (400 `malformed_request`
/// otherwise: no control or bidirectional formatting characters).
pub(crate) fn checked_name(name: &str) -> Result<(), ApiError> {
    if provisio_types::is_plain_text(name, 100) {
        Ok(())
    } else {
        Err(ApiError::malformed(
            "name must be 1 to 100 characters of plain text (no control or bidirectional formatting characters)",
        ))
    }
}

fn created(body: String) -> Response {
    (
        StatusCode::CREATED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A concurrent request with the same idempotency key committed first: answer with its answer.
pub(crate) async fn replay_after_race(
    state: &AppState,
    idem: Option<&IdempotencyKey>,
) -> Result<Response, ApiError> {
    match idem {
        Some(k) => k
            .replay(state)
            .await?
            .ok_or_else(|| ApiError::internal(&"idempotency record vanished")),
        None => Err(ApiError::internal(&"idempotency conflict without a key")),
    }
}

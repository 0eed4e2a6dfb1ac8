//! What an issuer sets beside its keys (docs/protocol.md §17.1, §17.3): its card ranges and
//! its decisioning endpoint. Admin key required.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_jose::Jwk;
use provisio_store::{Conflict, Decisioning, Role, StoreError};
use provisio_types::Code;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{parse_json, tls_or_loopback};
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// The most card ranges one issuer names.
const MAX_RANGES: usize = 1_000;

/// `PUT /v1/admin/issuers/{issuer_id}/bin-ranges` body and answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BinRanges {
    /// Card number prefixes of 6 to 11 digits, at most 1,000; the longest matching prefix
    /// picks the issuer.
    #[schema(example = json!(["489537"]), value_type = Vec<crate::doc_schemas::BinRange>, max_items = 1000)]
    pub(crate) bin_ranges: Vec<String>,
}

/// `PUT /v1/admin/issuers/{issuer_id}/decisioning` body and answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisioningSettings {
    /// Where the token service asks about a card entered in a wallet: https, or http to a
    /// loopback address; at most 2,048 bytes.
    #[schema(max_length = 2048)]
    pub(crate) url: String,
    /// The EC P-256 public key (with `kid`) the card data is encrypted to.
    #[schema(value_type = provisio_tsp::wire::EcPublicJwkWithKid)]
    pub(crate) encryption_jwk: Jwk,
}

/// `PUT /v1/admin/issuers/{issuer_id}/push-step-up` body and answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PushStepUp {
    /// `true`: the issuer's pushes in the step-up band step up; `false` (the default at
    /// registration): they are approved as authenticated by its app.
    pub(crate) push_step_up: bool,
}

/// The card ranges as they may be stored: 6 to 11 digits each, no prefix twice, sorted
/// (400 `malformed_request` otherwise).
pub(crate) fn checked_ranges(ranges: Vec<String>) -> Result<Vec<String>, ApiError> {
    if ranges.len() > MAX_RANGES {
        return Err(ApiError::malformed(format!(
            "bin_ranges: at most {MAX_RANGES} prefixes"
        )));
    }
    let mut ranges = ranges;
    if let Some(bad) = ranges
        .iter()
        .position(|r| !(6..=11).contains(&r.len()) || !r.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::malformed(format!(
            "bin_ranges[{bad}]: a card range is a prefix of 6 to 11 digits"
        )));
    }
    ranges.sort();
    ranges.dedup();
    Ok(ranges)
}

/// Replaces the card ranges an issuer's cards are recognised by.
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/bin-ranges", tag = "admin",
    params(("issuer_id" = String, Path, description = "The issuer")),
    request_body = BinRanges,
    responses(
        (status = 200, body = BinRanges, description = "Stored, sorted, each prefix once"),
        (status = 400, body = Problem, description = "malformed_request: a prefix is not 6 to 11 digits"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found: no such issuer"),
        (status = 409, body = Problem, description = "bin_range_taken: a prefix is another issuer's"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_bin_ranges(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(issuer_id): Path<String>,
    body: Bytes,
) -> Result<Json<BinRanges>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: BinRanges = parse_json(&body)?;
    let ranges = checked_ranges(req.bin_ranges)?;
    match state.store.set_bin_ranges(&issuer_id, &ranges).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::not_found("no such issuer")),
        Err(e) => return Err(range_conflict(e)),
    }
    tracing::info!(issuer_id, ranges = ranges.len(), "card ranges replaced");
    Ok(Json(BinRanges { bin_ranges: ranges }))
}

/// Sets where the issuer decides on cards entered in a wallet.
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/decisioning", tag = "admin",
    params(("issuer_id" = String, Path, description = "The issuer")),
    request_body = DecisioningSettings,
    responses(
        (status = 200, body = DecisioningSettings, description = "Stored; wallet-initiated requests for its cards are asked there"),
        (status = 400, body = Problem, description = "malformed_request: not https (or http to a loopback address), or not an EC P-256 key with a kid"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found: no such issuer"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_decisioning(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(issuer_id): Path<String>,
    body: Bytes,
) -> Result<Json<DecisioningSettings>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: DecisioningSettings = parse_json(&body)?;
    if req.url.len() > 2048 || !tls_or_loopback(&req.url) {
        return Err(ApiError::malformed(
            "url: card data goes over https (plain http only to a loopback address)",
        ));
    }
    req.encryption_jwk
        .public_key()
        .map_err(|e| ApiError::malformed(format!("encryption_jwk: {e}")))?;
    if req.encryption_jwk.kid.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::malformed("encryption_jwk must have a kid"));
    }
    // A public JWK never serialises a private part.
    let decisioning = Decisioning {
        url: req.url.clone(),
        encryption_jwk: serde_json::to_string(&req.encryption_jwk)
            .map_err(|e| ApiError::internal(&e))?,
    };
    if !state
        .store
        .set_decisioning(&issuer_id, &decisioning)
        .await?
    {
        return Err(ApiError::not_found("no such issuer"));
    }
    tracing::info!(issuer_id, "decisioning endpoint set");
    Ok(Json(req))
}

/// Sets whether the issuer's pushes still step up in the step-up band (docs/protocol.md
/// §17.6). Every instance applies it within the read cache's time (60 s).
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/push-step-up", tag = "admin",
    params(("issuer_id" = String, Path, description = "The issuer")),
    request_body = PushStepUp,
    responses(
        (status = 200, body = PushStepUp, description = "Stored"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found: no such issuer"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_push_step_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(issuer_id): Path<String>,
    body: Bytes,
) -> Result<Json<PushStepUp>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: PushStepUp = parse_json(&body)?;
    if !state
        .store
        .set_push_step_up(&issuer_id, req.push_step_up)
        .await?
    {
        return Err(ApiError::not_found("no such issuer"));
    }
    state.issuer_keys.forget(&issuer_id);
    tracing::info!(
        issuer_id,
        push_step_up = req.push_step_up,
        "push step-up set"
    );
    Ok(Json(req))
}

/// A store refusal of card ranges: 409 `bin_range_taken` when a prefix is another issuer's.
pub(crate) fn range_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(Conflict::BinRange) => ApiError::new(
            Code::BinRangeTaken,
            "a card range prefix is registered to another issuer",
        ),
        other => other.into(),
    }
}

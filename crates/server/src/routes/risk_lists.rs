//! `POST /v1/admin/risk-lists`: allow and block list entries the risk policy's list rules test.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_store::{ListKind, ListName, Role};
use provisio_types::{DeviceId, Pan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::parse_json;
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// `POST /v1/admin/risk-lists` body; the answer echoes it with a PAN masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskListEntry {
    /// `allow` or `block`.
    #[schema(pattern = "^(allow|block)$")]
    pub list: String,
    /// `device` (a device id), `pan` (stored only as its keyed hash) or `bin` (6 to 8 digits).
    #[schema(pattern = "^(device|pan|bin)$")]
    pub kind: String,
    /// The device id (1 to 128 printable ASCII characters), PAN (12 to 19 digits,
    /// Luhn-valid) or BIN (6 to 8 digits): printable ASCII in every case. The answer shows a
    /// PAN masked.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub value: String,
}

/// Adds an allow or block list entry (adding it again changes nothing).
#[utoipa::path(post, path = "/v1/admin/risk-lists", tag = "admin",
    request_body = RiskListEntry,
    responses(
        (status = 201, body = RiskListEntry, description = "Listed"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not the admin key"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn add_risk_list_entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: RiskListEntry = parse_json(&body)?;
    let list = match req.list.as_str() {
        "allow" => ListName::Allow,
        "block" => ListName::Block,
        _ => return Err(ApiError::malformed("list must be allow or block")),
    };
    let (kind, stored, shown) = match req.kind.as_str() {
        "device" => {
            DeviceId::parse(&req.value).map_err(|e| ApiError::malformed(e.to_string()))?;
            (ListKind::Device, req.value.clone(), req.value.clone())
        }
        "pan" => {
            let pan = Pan::parse(&req.value)
                .map_err(|_| ApiError::malformed("value is not a Luhn-valid PAN"))?;
            let hash = state
                .keys
                .vault()
                .lookup_hash(state.crypto.as_ref(), "pan", pan.expose());
            (ListKind::Pan, hex::encode(hash), format!("{pan:?}"))
        }
        "bin" => {
            let ok =
                (6..=8).contains(&req.value.len()) && req.value.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                return Err(ApiError::malformed("a BIN is 6 to 8 digits"));
            }
            (ListKind::Bin, req.value.clone(), req.value.clone())
        }
        _ => return Err(ApiError::malformed("kind must be device, pan or bin")),
    };
    state
        .store
        .add_list_entry(list, kind, &stored, state.clock.now())
        .await?;
    tracing::info!(
        list = list.as_str(),
        kind = kind.as_str(),
        "risk list entry added"
    );
    let answer = RiskListEntry {
        list: req.list,
        kind: req.kind,
        value: shown,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

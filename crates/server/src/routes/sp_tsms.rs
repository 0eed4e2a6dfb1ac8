//! `PUT /v1/admin/issuers/{issuer_id}/sp-tsm`: the issuer's TSM, to which the token service
//! hands every approved provisioning for a phone with a secure element.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_store::{Role, SpTsmRecord};
use provisio_tsp::MAX_AID_PREFIX;
use provisio_tsp::wire::SpTsmConfig;
use provisio_types::Code;

use super::{parse_json, tls_or_loopback};
use crate::auth::require;
use crate::error::Problem;
use crate::sp_tsm_link::api_key_aad;
use crate::{ApiError, AppState};

/// Registers (or replaces) an issuer's SP-TSM. From then on, an approval for a device that
/// names a `secure_element_id` is installed by that TSM: the job is committed with the token
/// and delivered from the outbox, and the token becomes payment-ready on the TSM's report.
/// Without an SP-TSM, such a device gets the HCE script like any other.
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/sp-tsm", tag = "admin",
    request_body = SpTsmConfig,
    params(("issuer_id" = String, Path, description = "A registered issuer")),
    responses(
        (status = 200, body = SpTsmConfig, description = "Set (the API key is not echoed)"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "no_public_url: this service does not know the URL the TSM reports to"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_sp_tsm(
    State(state): State<AppState>,
    Path(issuer_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SpTsmConfig>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: SpTsmConfig = parse_json(&body)?;
    if state.store.issuer(&issuer_id).await?.is_none() {
        return Err(ApiError::not_found("no such issuer"));
    }
    if !tls_or_loopback(&req.url) {
        return Err(ApiError::malformed(
            "url must be https (http only to this host)",
        ));
    }
    let api_key = req
        .api_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::malformed("api_key is required"))?;
    req.encryption_jwk
        .public_key()
        .map_err(|e| ApiError::malformed(format!("encryption_jwk: {e}")))?;
    let prefix = hex::decode(&req.aid_prefix)
        .ok()
        .filter(|p| (5..=MAX_AID_PREFIX).contains(&p.len()))
        .ok_or_else(|| {
            ApiError::malformed(format!(
                "aid_prefix must be 5 to {MAX_AID_PREFIX} bytes of hex"
            ))
        })?;
    if state.public_base.is_empty() {
        return Err(ApiError::new(
            Code::NoPublicUrl,
            "start the service with --public-url so the TSM can report back",
        ));
    }
    let sealed = state
        .keys
        .vault()
        .seal(
            state.crypto.as_ref(),
            api_key.as_bytes(),
            &api_key_aad(&issuer_id),
        )
        .map_err(|e| ApiError::internal(&e))?;
    let record = SpTsmRecord {
        issuer_id: issuer_id.clone(),
        url: req.url.trim_end_matches('/').to_owned(),
        api_key: sealed,
        encryption_jwk: serde_json::to_string(&req.encryption_jwk)
            .map_err(|e| ApiError::internal(&e))?,
        aid_prefix: hex::encode_upper(prefix),
    };
    state.store.set_sp_tsm(&record, state.clock.now()).await?;
    tracing::info!(%issuer_id, url = %record.url, "issuer TSM registered");
    Ok(Json(SpTsmConfig {
        url: record.url,
        api_key: None,
        encryption_jwk: req.encryption_jwk,
        aid_prefix: record.aid_prefix,
    }))
}

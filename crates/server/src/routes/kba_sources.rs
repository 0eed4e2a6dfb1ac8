//! `PUT /v1/admin/issuers/{issuer_id}/kba-source`: where an issuer's knowledge-based
//! questions come from.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_accounts::wire::{KbaSourceConfig, SourceKind};
use provisio_store::{KbaSourceRecord, Role};

use super::{parse_json, tls_or_loopback};
use crate::auth::require;
use crate::error::Problem;
use crate::kba_source::credential_aad;
use crate::{ApiError, AppState};

/// Sets an issuer's question source: `BANK` (the service's own, from loaded enrolments; the
/// default), `ISSUER` (the issuer's system, by customer reference) or `THIRD_PARTY` (an
/// identity provider, by name, phone and e-mail). HTTP sources take `url` and optionally a
/// bearer `credential`, which is stored sealed and never shown again.
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/kba-source", tag = "admin",
    request_body = KbaSourceConfig,
    params(("issuer_id" = String, Path, description = "A registered issuer")),
    responses(
        (status = 200, body = KbaSourceConfig, description = "Set (the credential is not echoed)"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn set_kba_source(
    State(state): State<AppState>,
    Path(issuer_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<KbaSourceConfig>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let req: KbaSourceConfig = parse_json(&body)?;
    if state.store.issuer(&issuer_id).await?.is_none() {
        return Err(ApiError::not_found("no such issuer"));
    }
    let http = req.kind != SourceKind::Bank;
    // Subjects carry personal data: TLS, except to a source on this host.
    let url_ok = req.url.as_deref().is_some_and(tls_or_loopback);
    if http != url_ok || (!http && req.credential.is_some()) {
        return Err(ApiError::malformed(
            "ISSUER and THIRD_PARTY need an https url (http only to this host); BANK takes neither url nor credential",
        ));
    }
    let credential = req
        .credential
        .as_deref()
        .map(|c| {
            state
                .keys
                .vault()
                .seal(
                    state.crypto.as_ref(),
                    c.as_bytes(),
                    &credential_aad(&issuer_id),
                )
                .map_err(|e| ApiError::internal(&e))
        })
        .transpose()?;
    let record = KbaSourceRecord {
        kind: req.kind,
        url: req.url.clone(),
        credential,
    };
    state
        .store
        .set_kba_source(&issuer_id, &record, state.clock.now())
        .await?;
    Ok(Json(KbaSourceConfig {
        kind: req.kind,
        url: req.url,
        credential: None,
    }))
}

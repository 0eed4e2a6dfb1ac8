//! The operator's side of token events (docs/protocol.md §15.5): where each participant's
//! events go, and the events that could not be delivered.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use provisio_store::Role;
use provisio_tsp::token_wire::{DeadEventAnswer, DeadEventList, NotificationSettings};
use provisio_types::Code;

use super::{parse_json, tls_or_loopback};
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// A notification URL as it may be stored: https, or http to a loopback address, at most
/// 2,048 characters (400 `malformed_request` otherwise).
pub(crate) fn checked_url(url: Option<String>) -> Result<Option<String>, ApiError> {
    match url {
        Some(u) if u.len() > 2048 || !tls_or_loopback(&u) => Err(ApiError::malformed(
            "notification_url: events go over https (plain http only to a loopback address)",
        )),
        other => Ok(other),
    }
}

/// The most dead-lettered events one answer lists.
const DEAD_LIMIT: u32 = 500;

/// Sets where an issuer's token events are posted.
#[utoipa::path(put, path = "/v1/admin/issuers/{issuer_id}/notifications", tag = "admin",
    params(("issuer_id" = String, Path, description = "The issuer")),
    request_body = NotificationSettings,
    responses(
        (status = 200, body = NotificationSettings, description = "Stored; changes from now on are posted there"),
        (status = 400, body = Problem, description = "malformed_request: not https (or http to a loopback address)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found: no such issuer"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_issuer_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(issuer_id): Path<String>,
    body: Bytes,
) -> Result<Json<NotificationSettings>, ApiError> {
    set(&state, &headers, Role::Issuer, &issuer_id, &body).await
}

/// Sets where a token requestor's token events are posted.
#[utoipa::path(put, path = "/v1/admin/token-requestors/{token_requestor_id}/notifications", tag = "admin",
    params(("token_requestor_id" = String, Path, description = "The token requestor")),
    request_body = NotificationSettings,
    responses(
        (status = 200, body = NotificationSettings, description = "Stored; changes from now on are posted there"),
        (status = 400, body = Problem, description = "malformed_request: not https (or http to a loopback address)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "not_found: no such token requestor"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn set_token_requestor_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token_requestor_id): Path<String>,
    body: Bytes,
) -> Result<Json<NotificationSettings>, ApiError> {
    set(
        &state,
        &headers,
        Role::TokenRequestor,
        &token_requestor_id,
        &body,
    )
    .await
}

async fn set(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
    participant_id: &str,
    body: &[u8],
) -> Result<Json<NotificationSettings>, ApiError> {
    require(state, headers, Role::Admin).await?;
    let settings: NotificationSettings = parse_json(body)?;
    let settings = NotificationSettings {
        url: checked_url(settings.url)?,
    };
    if !state
        .store
        .set_notification_url(role, participant_id, settings.url.as_deref())
        .await?
    {
        return Err(ApiError::not_found(format!("no such {}", role.as_str())));
    }
    tracing::info!(
        role = role.as_str(),
        participant_id,
        set = settings.url.is_some(),
        "notification url changed"
    );
    Ok(Json(settings))
}

/// The token events that exhausted their attempts, oldest first (at most 500).
#[utoipa::path(get, path = "/v1/admin/events/dead", tag = "admin",
    responses(
        (status = 200, body = DeadEventList),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn dead_events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<DeadEventList>, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    let events = state.store.dead_events(DEAD_LIMIT).await?;
    Ok(Json(DeadEventList {
        events: events
            .into_iter()
            .map(|e| DeadEventAnswer {
                message_id: e.message_id,
                ordering_key: e.ordering_key,
                sequence: e.sequence,
                attempts: e.attempts,
                last_error: e.last_error,
                dead_at: e.dead_at,
            })
            .collect(),
    }))
}

/// Gives a dead-lettered event a fresh set of attempts, due now.
#[utoipa::path(post, path = "/v1/admin/events/{message_id}/redrive", tag = "admin",
    params(("message_id" = String, Path, description = "The dead-lettered event's message id")),
    responses(
        (status = 204, description = "Queued again"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an admin key"),
        (status = 404, body = Problem, description = "unknown_event: no dead-lettered event has this id"),
    ),
    security(("api_key" = ["admin"])))]
pub(crate) async fn redrive(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(message_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require(&state, &headers, Role::Admin).await?;
    if !state
        .store
        .redrive_event(&message_id, state.clock.now())
        .await?
    {
        return Err(ApiError::new(
            Code::UnknownEvent,
            "no dead-lettered event has this id",
        ));
    }
    tracing::info!(%message_id, "dead-lettered event re-driven");
    state.outbox_wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

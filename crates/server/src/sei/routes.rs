//! The SEI-TSM's handlers (docs/protocol.md §11). Each authenticates, asks the store once for
//! the facts, calls the `provisio-tsm` core once ([`provisio_tsm::sei`]), commits what it
//! returned in one transaction and answers (docs/architecture.md §3). What is left here is
//! the store's rows to the core's records and back.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use provisio_store::{
    ApduLogRow, OtaMessageRow, ProviderRecord, StoreError, TsmPrincipal, TsmRequestRow,
};
use provisio_tsm::relay::{Answer, Logged};
use provisio_tsm::sei::{
    IntakeFacts, NewRequest, RequestUpdate, SessionFacts, StoredRequest, Taken,
    open_session as open_core, take_request,
};
use provisio_tsm::wire::{
    AddElement, AddProvider, ElementAdded, Message, Messages, OpenSession, ProviderAdded, Relayed,
    RequestStatus, SessionStep,
};
use provisio_tsm::{NewElement, NewProvider, ServiceProvider, ServiceRecord, ServiceRequest};
use provisio_types::Code;
use serde::Deserialize;

use super::state::SeiState;
use crate::auth::bearer;
use crate::error::Problem;
use crate::routes::parse_json;
use crate::{ApiError, hash_api_key, new_api_key};

/// The longest long-poll.
const MAX_WAIT_S: u64 = 30;

fn require_admin(s: &SeiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    if provisio_crypto::ct_eq(&hash, &s.admin_hash) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// The holder of the bearer key: one store call.
async fn principal(s: &SeiState, headers: &HeaderMap) -> Result<TsmPrincipal, ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    s.store
        .tsm_principal(&hash)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

async fn provider(s: &SeiState, headers: &HeaderMap) -> Result<ProviderRecord, ApiError> {
    match principal(s, headers).await? {
        TsmPrincipal::ServiceProvider(provider) => Ok(provider),
        TsmPrincipal::OtaClient(_) => Err(ApiError::forbidden(
            "this operation needs a service provider's API key",
        )),
    }
}

async fn ota_client(s: &SeiState, headers: &HeaderMap) -> Result<String, ApiError> {
    match principal(s, headers).await? {
        TsmPrincipal::OtaClient(se_id) => Ok(se_id),
        TsmPrincipal::ServiceProvider(_) => Err(ApiError::forbidden(
            "this operation needs an OTA client's API key",
        )),
    }
}

fn conflict_or(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::new(Code::AlreadyExists, "already registered"),
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/v1/sei/admin/elements", tag = "sei-tsm", request_body = AddElement,
    responses((status = 201, body = ElementAdded, description = "Registered; the OTA client's key is shown once"),
        (status = 400, body = Problem, description = "malformed_request"), (status = 401, body = Problem, description = "unauthorized"),
        (status = 409, body = Problem, description = "already_exists")),
    security(("api_key" = ["operator"])))]
pub(crate) async fn add_element(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ElementAdded>), ApiError> {
    require_admin(&s, &headers)?;
    let req: AddElement = parse_json(&body)?;
    let element = NewElement::accept(&s.tsm(), &req)?;
    let ota_key = new_api_key(s.crypto.as_ref()).map_err(|e| ApiError::internal(&e))?;
    let hash = hash_api_key(s.crypto.as_ref(), &ota_key);
    s.store
        .tsm_add_element(&element.se_id, &element.isd_keys, &hash, s.clock.now())
        .await
        .map_err(conflict_or)?;
    Ok((
        StatusCode::CREATED,
        Json(ElementAdded {
            se_id: element.se_id,
            ota_key,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/sei/admin/service-providers", tag = "sei-tsm", request_body = AddProvider,
    responses((status = 201, body = ProviderAdded, description = "Registered; its key is shown once"),
        (status = 400, body = Problem, description = "malformed_request"), (status = 401, body = Problem, description = "unauthorized"),
        (status = 409, body = Problem, description = "already_exists")),
    security(("api_key" = ["operator"])))]
pub(crate) async fn add_provider(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ProviderAdded>), ApiError> {
    require_admin(&s, &headers)?;
    let req: AddProvider = parse_json(&body)?;
    let new = NewProvider::accept(&req)?;
    let record = ProviderRecord {
        sp_id: new.sp_id,
        aid_prefix: new.aid_prefix,
        encryption_jwk: new.encryption_jwk,
    };
    let api_key = new_api_key(s.crypto.as_ref()).map_err(|e| ApiError::internal(&e))?;
    let hash = hash_api_key(s.crypto.as_ref(), &api_key);
    s.store
        .tsm_add_provider(&record, &hash, s.clock.now())
        .await
        .map_err(conflict_or)?;
    Ok((
        StatusCode::CREATED,
        Json(ProviderAdded {
            sp_id: record.sp_id,
            api_key,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/sei/service-requests", tag = "sei-tsm", request_body = ServiceRequest,
    responses((status = 201, body = RequestStatus, description = "Accepted; the element's OTA client is woken"),
        (status = 200, body = RequestStatus, description = "The same request again: its current state, nothing done"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 403, body = Problem, description = "forbidden: not a service provider key; outside_own_domain"),
        (status = 404, body = Problem, description = "unknown_element"), (status = 409, body = Problem, description = "request_conflict, domain_not_ready")),
    security(("api_key" = ["service_provider"])))]
pub(crate) async fn create_request(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestStatus>), ApiError> {
    let sp = provider(&s, &headers).await?;
    let req: ServiceRequest = parse_json(&body)?;
    let loaded = s
        .store
        .tsm_intake_facts(
            &sp.sp_id,
            &req.request_id,
            &req.se_id,
            req.needs_created_domain(),
        )
        .await?;
    let facts = IntakeFacts {
        element_known: loaded.element_known,
        existing: loaded.existing.map(stored).transpose()?,
        // A stored request that does not decode is no created domain.
        on_element: loaded
            .on_element
            .into_iter()
            .filter_map(|row| record_of(&row).ok())
            .collect(),
    };
    let who = ServiceProvider {
        sp_id: sp.sp_id,
        aid_prefix: sp.aid_prefix,
    };
    let new = match take_request(&s.tsm(), &who, req, facts)? {
        Taken::Duplicate(status) => return Ok((StatusCode::OK, Json(status))),
        Taken::New(new) => new,
    };
    let (row, message) = new_rows(&new)?;
    match s
        .store
        .tsm_insert_request(&row, &message, s.clock.now())
        .await?
    {
        None => {
            s.wake.notify_waiters();
            Ok((StatusCode::CREATED, Json(new.status())))
        }
        // A concurrent twin was stored first: answer as for a duplicate.
        Some(twin) => Ok((StatusCode::OK, Json(new.after_twin(&stored(twin)?)?))),
    }
}

#[utoipa::path(get, path = "/v1/sei/service-requests/{request_id}", tag = "sei-tsm",
    params(("request_id" = String, Path, description = "The provider's request id")),
    responses((status = 200, body = RequestStatus, description = "State; the handover package once a CREATE_DOMAIN is DONE"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a service provider key"), (status = 404, body = Problem, description = "not_found")),
    security(("api_key" = ["service_provider"])))]
pub(crate) async fn request_status(
    State(s): State<SeiState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
) -> Result<Json<RequestStatus>, ApiError> {
    let sp = provider(&s, &headers).await?;
    let row = s
        .store
        .tsm_request(&sp.sp_id, &request_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such service request"))?;
    Ok(Json(stored(row)?.status()))
}

/// `?wait=` seconds for the long-poll.
#[derive(Debug, Deserialize)]
pub(crate) struct Wait {
    #[serde(default)]
    wait: u64,
}

#[utoipa::path(get, path = "/v1/sei/ota/messages", tag = "sei-tsm",
    params(("wait" = Option<u64>, Query, description = "Seconds to wait for a message (long-poll, at most 30)")),
    responses((status = 200, body = Messages, description = "Unacknowledged messages for the caller's element"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 403, body = Problem, description = "forbidden: not an OTA client key")),
    security(("api_key" = ["ota_client"])))]
pub(crate) async fn messages(
    State(s): State<SeiState>,
    headers: HeaderMap,
    Query(q): Query<Wait>,
) -> Result<Json<Messages>, ApiError> {
    let se_id = ota_client(&s, &headers).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.min(MAX_WAIT_S));
    loop {
        // Register for a wake-up before looking, so a message committed in between is seen.
        let notified = s.wake.notified();
        let rows = s.store.ota_pending(&se_id).await?;
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            let messages = rows
                .into_iter()
                .filter_map(|r| {
                    serde_json::from_str(&r.body).ok().map(|wake| Message {
                        message_id: r.message_id,
                        wake,
                    })
                })
                .collect();
            return Ok(Json(Messages { messages }));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

#[utoipa::path(post, path = "/v1/sei/ota/messages/{message_id}/ack", tag = "sei-tsm",
    params(("message_id" = String, Path, description = "The message")),
    responses((status = 204, description = "Acknowledged"), (status = 401, body = Problem, description = "unauthorized"), (status = 403, body = Problem, description = "forbidden: not an OTA client key"),
        (status = 404, body = Problem, description = "not_found")),
    security(("api_key" = ["ota_client"])))]
pub(crate) async fn ack(
    State(s): State<SeiState>,
    headers: HeaderMap,
    Path(message_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let se_id = ota_client(&s, &headers).await?;
    if s.store.ota_ack(&se_id, &message_id, s.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no such pending message for this element",
        ))
    }
}

#[utoipa::path(post, path = "/v1/sei/ota/sessions", tag = "sei-tsm", request_body = OpenSession,
    responses((status = 201, body = SessionStep, description = "The session's first command for the element"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an OTA client key"), (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "nothing_to_do, wrong_tsm, request_failed, request_busy")),
    security(("api_key" = ["ota_client"])))]
pub(crate) async fn open_session(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<SessionStep>), ApiError> {
    let se_id = ota_client(&s, &headers).await?;
    let req: OpenSession = parse_json(&body)?;
    let loaded = s
        .store
        .tsm_session_facts(&req.sp_id, &req.request_id, &se_id)
        .await?;
    let (row, facts) = session_facts(loaded.request, loaded.isd_keys, loaded.provider)?;
    let out = open_core(&s.tsm(), &se_id, facts)?;
    let session_id = out
        .answer
        .as_ref()
        .map(|o| o.session_id.clone())
        .unwrap_or_default();
    let update = out.update.as_ref().zip(row.as_ref()).map(changed);
    s.store
        .tsm_commit_session(
            update.as_ref(),
            &log_rows(&session_id, &req.sp_id, &req.request_id, &out.log),
            s.clock.now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::new(Code::RequestBusy, "the request changed; retry")
            }
            other => other.into(),
        })?;
    let opened = out.answer?;
    s.sessions.put(opened.session_id.clone(), opened.session)?;
    Ok((
        StatusCode::CREATED,
        Json(SessionStep::command(opened.session_id, &opened.first)),
    ))
}

#[utoipa::path(post, path = "/v1/sei/ota/sessions/{session_id}", tag = "sei-tsm", request_body = Relayed,
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, body = SessionStep, description = "The next command, or done"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an OTA client key"), (status = 404, body = Problem, description = "session_gone: open a new session"),
        (status = 422, body = Problem, description = "element_refused, secure_channel_error, no_session")),
    security(("api_key" = ["ota_client"])))]
pub(crate) async fn session_step(
    State(s): State<SeiState>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    body: Bytes,
) -> Result<Json<SessionStep>, ApiError> {
    let se_id = ota_client(&s, &headers).await?;
    let response = parse_json::<Relayed>(&body)?.response()?;
    let mut live = s.sessions.take(&session_id, |l| l.se_id() == se_id)?;
    let loaded = s
        .store
        .tsm_session_facts(live.sp_id(), live.request_id(), &se_id)
        .await?;
    let (row, facts) = session_facts(loaded.request, loaded.isd_keys, loaded.provider)?;
    let out = live.step(&s.tsm(), &response, facts);
    let log = log_rows(&session_id, live.sp_id(), live.request_id(), &out.log);
    let update = out.update.as_ref().zip(row.as_ref()).map(changed);
    let now = s.clock.now();
    if let Err(e) = s.store.tsm_commit_session(update.as_ref(), &log, now).await {
        // The request changed under the completing session: what crossed the relay is
        // logged all the same, and the next session finds the plan complete.
        if matches!(e, StoreError::Conflict(_)) {
            s.store.tsm_commit_session(None, &log, now).await?;
        }
        return Err(e.into());
    }
    // A refusal ends the session; the request stays IN_PROGRESS for the next one.
    let answer = out.answer?;
    if let Answer::Command(_) = &answer {
        s.sessions.put(session_id.clone(), live)?;
    }
    Ok(Json(answer.into_step(session_id)))
}

/// A stored request, decoded.
fn stored(row: TsmRequestRow) -> Result<StoredRequest, ApiError> {
    Ok(StoredRequest {
        record: record_of(&row)?,
        secret: row.secret,
        handover: row.handover,
        version: row.version,
    })
}

fn record_of(row: &TsmRequestRow) -> Result<ServiceRecord, ApiError> {
    Ok(ServiceRecord::decode(
        row.sp_id.clone(),
        &row.body,
        &row.fingerprint,
        &row.state,
    )?)
}

/// The session facts for the core, and the request's row as read (what its update changes).
fn session_facts(
    request: Option<TsmRequestRow>,
    isd_keys: Option<Vec<u8>>,
    provider: Option<ProviderRecord>,
) -> Result<(Option<TsmRequestRow>, SessionFacts), ApiError> {
    let facts = SessionFacts {
        request: request.clone().map(stored).transpose()?,
        isd_keys,
        provider_jwk: provider.map(|p| p.encryption_jwk),
    };
    Ok((request, facts))
}

/// The row of `(update, row)`: the request as read, with the update's state and handover.
fn changed((update, row): (&RequestUpdate, &TsmRequestRow)) -> TsmRequestRow {
    TsmRequestRow {
        state: update.state.encode(),
        handover: update.handover.clone(),
        version: update.version,
        ..row.clone()
    }
}

/// A new request's row and its wake-up message's.
fn new_rows(new: &NewRequest) -> Result<(TsmRequestRow, OtaMessageRow), ApiError> {
    let request = &new.record.request;
    let row = TsmRequestRow {
        sp_id: new.record.sp_id.clone(),
        request_id: request.request_id.clone(),
        se_id: request.se_id.clone(),
        body: request.encode(),
        fingerprint: new.record.fingerprint.to_vec(),
        state: new.record.state.encode(),
        secret: new.secret.clone(),
        handover: None,
        version: 0,
    };
    let message = OtaMessageRow {
        message_id: new.message.message_id.clone(),
        se_id: request.se_id.clone(),
        body: serde_json::to_string(&new.message.wake).map_err(|e| ApiError::internal(&e))?,
    };
    Ok((row, message))
}

/// The audit log's rows of a session's APDUs.
fn log_rows(session_id: &str, sp_id: &str, request_id: &str, log: &[Logged]) -> Vec<ApduLogRow> {
    log.iter()
        .map(|apdu| ApduLogRow {
            session_id: session_id.to_owned(),
            sp_id: sp_id.to_owned(),
            request_id: request_id.to_owned(),
            direction: apdu.direction(),
            apdu: apdu.bytes().to_vec(),
        })
        .collect()
}

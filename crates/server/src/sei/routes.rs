//! The SEI-TSM's handlers: authenticate, load, call the `provisio-tsm` core, commit, answer.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use provisio_gp::Aid;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_jose::Jwk;
use provisio_store::{
    ApduLogRow, OtaMessageRow, ProviderRecord, StoreError, TsmPrincipal, TsmRequestRow,
};
use provisio_tsm::wire::{
    AddElement, AddProvider, ElementAdded, Message, Messages, OpenSession, ProviderAdded, Relayed,
    RequestStatus, SessionStep, WakeUp,
};
use provisio_tsm::{
    AdminSession, CreateDomain, Intake, Next, RequestEvent, RequestKind, RequestState,
    ServiceProvider, ServiceRecord, ServiceRequest, intake, seal_initial_keys,
};
use provisio_types::Code;
use serde::Deserialize;

use super::state::{LiveSession, SeiState};
use crate::auth::bearer;
use crate::error::Problem;
use crate::routes::parse_json;
use crate::tsm_sessions::random_id;
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

async fn principal(s: &SeiState, headers: &HeaderMap) -> Result<TsmPrincipal, ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    s.store
        .tsm_principal(&hash)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

async fn provider(s: &SeiState, headers: &HeaderMap) -> Result<ProviderRecord, ApiError> {
    match principal(s, headers).await? {
        TsmPrincipal::ServiceProvider(sp_id) => s
            .store
            .tsm_provider(&sp_id)
            .await?
            .ok_or_else(ApiError::unauthorized),
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
    security(("api_key" = [])))]
pub(crate) async fn add_element(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ElementAdded>), ApiError> {
    require_admin(&s, &headers)?;
    let req: AddElement = parse_json(&body)?;
    let h = |v: &str| hex::decode(v).map_err(|_| ApiError::malformed("keys must be hex"));
    let kvn = *h(&req.isd_keys.kvn)?
        .first()
        .ok_or_else(|| ApiError::malformed("kvn"))?;
    let keys = StaticKeys::from_bytes(
        kvn,
        &h(&req.isd_keys.enc)?,
        &h(&req.isd_keys.mac)?,
        &h(&req.isd_keys.dek)?,
    )
    .map_err(|e| ApiError::malformed(e.to_string()))?;
    if req.se_id.is_empty() || req.se_id.len() > 64 {
        return Err(ApiError::malformed("se_id must be 1 to 64 characters"));
    }
    let sealed = s.seal_keys(&keys, &format!("isd:{}", req.se_id))?;
    let ota_key = new_api_key(s.crypto.as_ref()).map_err(|e| ApiError::internal(&e))?;
    let hash = hash_api_key(s.crypto.as_ref(), &ota_key);
    s.store
        .tsm_add_element(&req.se_id, &sealed, &hash, s.clock.now())
        .await
        .map_err(conflict_or)?;
    Ok((
        StatusCode::CREATED,
        Json(ElementAdded {
            se_id: req.se_id,
            ota_key,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/sei/admin/service-providers", tag = "sei-tsm", request_body = AddProvider,
    responses((status = 201, body = ProviderAdded, description = "Registered; its key is shown once"),
        (status = 400, body = Problem, description = "malformed_request"), (status = 401, body = Problem, description = "unauthorized"),
        (status = 409, body = Problem, description = "already_exists")),
    security(("api_key" = [])))]
pub(crate) async fn add_provider(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ProviderAdded>), ApiError> {
    require_admin(&s, &headers)?;
    let req: AddProvider = parse_json(&body)?;
    let aid_prefix =
        hex::decode(&req.aid_prefix).map_err(|_| ApiError::malformed("aid_prefix must be hex"))?;
    if !(5..=16).contains(&aid_prefix.len()) {
        return Err(ApiError::malformed("aid_prefix must be 5 to 16 bytes"));
    }
    req.encryption_jwk
        .public_key()
        .map_err(|_| ApiError::malformed("encryption_jwk is not an EC P-256 public key"))?;
    let record = ProviderRecord {
        sp_id: req.sp_id.clone(),
        aid_prefix,
        encryption_jwk: serde_json::to_string(&req.encryption_jwk)
            .map_err(|e| ApiError::internal(&e))?,
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
            sp_id: req.sp_id,
            api_key,
        }),
    ))
}

fn record_of(row: &TsmRequestRow) -> Result<ServiceRecord, ApiError> {
    let request: ServiceRequest =
        serde_json::from_str(&row.body).map_err(|e| ApiError::internal(&e))?;
    let state: RequestState =
        serde_json::from_str(&row.state).map_err(|e| ApiError::internal(&e))?;
    let fingerprint = row
        .fingerprint
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal(&"fingerprint"))?;
    Ok(ServiceRecord {
        sp_id: row.sp_id.clone(),
        request,
        fingerprint,
        state,
    })
}

fn status_of(row: &TsmRequestRow) -> Result<RequestStatus, ApiError> {
    Ok(RequestStatus {
        request_id: row.request_id.clone(),
        state: record_of(row)?.state,
        handover: row.handover.clone(),
    })
}

#[utoipa::path(post, path = "/v1/sei/service-requests", tag = "sei-tsm", request_body = ServiceRequest,
    responses((status = 201, body = RequestStatus, description = "Accepted; the element's OTA client is woken"),
        (status = 200, body = RequestStatus, description = "The same request again: its current state, nothing done"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 403, body = Problem, description = "outside_own_domain, forbidden"),
        (status = 404, body = Problem, description = "unknown_element"), (status = 409, body = Problem, description = "request_conflict, domain_not_ready")),
    security(("api_key" = [])))]
pub(crate) async fn create_request(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestStatus>), ApiError> {
    let sp = provider(&s, &headers).await?;
    let req: ServiceRequest = parse_json(&body)?;
    if s.store.tsm_element(&req.se_id).await?.is_none() {
        return Err(ApiError::new(
            Code::UnknownElement,
            "this carrier manages no such secure element",
        ));
    }
    let existing = match s.store.tsm_request(&sp.sp_id, &req.request_id).await? {
        Some(row) => Some(record_of(&row)?),
        None => None,
    };
    let domain_created = match &req.kind {
        RequestKind::DelegatePersonalization { ssd, .. } => s
            .store
            .tsm_requests_for(&sp.sp_id, &req.se_id)
            .await?
            .iter()
            .filter_map(|row| record_of(row).ok())
            .any(|r| r.state == RequestState::Done && matches!(&r.request.kind, RequestKind::CreateDomain { ssd: d, .. } if d == ssd)),
        RequestKind::CreateDomain { .. } => false,
    };
    let who = ServiceProvider {
        sp_id: sp.sp_id.clone(),
        aid_prefix: sp.aid_prefix.clone(),
    };
    let record = match intake(s.crypto.as_ref(), &who, req, existing, domain_created)? {
        Intake::Duplicate(record) => {
            let row = s
                .store
                .tsm_request(&sp.sp_id, &record.request.request_id)
                .await?
                .ok_or_else(|| ApiError::internal(&"vanished"))?;
            return Ok((StatusCode::OK, Json(status_of(&row)?)));
        }
        Intake::New(record) => record,
    };
    let rid = record.request.request_id.clone();
    let (secret, connect) = match &record.request.kind {
        RequestKind::CreateDomain { .. } => {
            let mut k = zeroize::Zeroizing::new([0u8; 48]);
            provisio_crypto::CryptoProvider::fill_random(s.crypto.as_ref(), k.as_mut())
                .map_err(|e| ApiError::internal(&e))?;
            let (enc, rest) = k.split_at(16);
            let (mac, dek) = rest.split_at(16);
            let initial =
                StaticKeys::from_bytes(0x30, enc, mac, dek).map_err(|e| ApiError::internal(&e))?;
            (
                Some(s.seal_keys(&initial, &format!("initial:{}:{rid}", sp.sp_id))?),
                "SEI".to_owned(),
            )
        }
        RequestKind::DelegatePersonalization { sp_endpoint, .. } => (None, sp_endpoint.clone()),
    };
    let wake = WakeUp {
        sp_id: sp.sp_id.clone(),
        request_id: rid.clone(),
        connect,
    };
    let message = OtaMessageRow {
        message_id: random_id(s.crypto.as_ref(), "msg_")?,
        se_id: record.request.se_id.clone(),
        body: serde_json::to_string(&wake).map_err(|e| ApiError::internal(&e))?,
    };
    let row = TsmRequestRow {
        sp_id: sp.sp_id.clone(),
        request_id: rid.clone(),
        se_id: record.request.se_id.clone(),
        body: serde_json::to_string(&record.request).map_err(|e| ApiError::internal(&e))?,
        fingerprint: record.fingerprint.to_vec(),
        state: serde_json::to_string(&record.state).map_err(|e| ApiError::internal(&e))?,
        secret,
        handover: None,
        version: 0,
    };
    match s
        .store
        .tsm_insert_request(&row, &message, s.clock.now())
        .await
    {
        Ok(()) => {}
        // A concurrent twin won: answer as for a duplicate.
        Err(StoreError::Conflict(_)) => {
            let row = s
                .store
                .tsm_request(&sp.sp_id, &rid)
                .await?
                .ok_or_else(|| ApiError::internal(&"vanished"))?;
            if row.fingerprint != record.fingerprint {
                return Err(provisio_tsm::TsmError::RequestConflict.into());
            }
            return Ok((StatusCode::OK, Json(status_of(&row)?)));
        }
        Err(e) => return Err(e.into()),
    }
    s.wake.notify_waiters();
    Ok((StatusCode::CREATED, Json(status_of(&row)?)))
}

#[utoipa::path(get, path = "/v1/sei/service-requests/{request_id}", tag = "sei-tsm",
    params(("request_id" = String, Path, description = "The provider's request id")),
    responses((status = 200, body = RequestStatus, description = "State; the handover package once a CREATE_DOMAIN is DONE"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "not_found")),
    security(("api_key" = [])))]
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
    Ok(Json(status_of(&row)?))
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
        (status = 401, body = Problem, description = "unauthorized"), (status = 403, body = Problem, description = "forbidden")),
    security(("api_key" = [])))]
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
    responses((status = 204, description = "Acknowledged"), (status = 401, body = Problem, description = "unauthorized"),
        (status = 404, body = Problem, description = "not_found")),
    security(("api_key" = [])))]
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
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "nothing_to_do, wrong_tsm, request_failed, request_busy")),
    security(("api_key" = [])))]
pub(crate) async fn open_session(
    State(s): State<SeiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<SessionStep>), ApiError> {
    let se_id = ota_client(&s, &headers).await?;
    let req: OpenSession = parse_json(&body)?;
    let row = s
        .store
        .tsm_request(&req.sp_id, &req.request_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such service request"))?;
    if row.se_id != se_id {
        return Err(ApiError::not_found("no such service request"));
    }
    let record = record_of(&row)?;
    let RequestKind::CreateDomain { ssd, applet } = &record.request.kind else {
        return Err(ApiError::new(
            Code::WrongTsm,
            "this request's session is with the service provider's TSM",
        ));
    };
    if record.state.is_final() {
        return Err(ApiError::new(Code::NothingToDo, "this request is finished"));
    }
    let state = record.state.clone().apply(RequestEvent::SessionOpened)?;
    let state_json = serde_json::to_string(&state).map_err(|e| ApiError::internal(&e))?;
    s.store
        .tsm_update_request(
            &row.sp_id,
            &row.request_id,
            row.version,
            &state_json,
            None,
            s.clock.now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::new(Code::RequestBusy, "the request changed; retry")
            }
            other => other.into(),
        })?;
    if let RequestState::Failed { reason } = &state {
        return Err(ApiError::new(
            Code::RequestFailed,
            format!("the request failed: {reason}"),
        ));
    }
    let isd = s.open_keys(
        &s.store
            .tsm_element(&se_id)
            .await?
            .ok_or_else(|| ApiError::internal(&"element vanished"))?,
        &format!("isd:{se_id}"),
    )?;
    let initial = s.open_keys(
        row.secret
            .as_deref()
            .ok_or_else(|| ApiError::internal(&"no initial keys"))?,
        &format!("initial:{}:{}", row.sp_id, row.request_id),
    )?;
    let plan = CreateDomain {
        ssd: ssd.clone(),
        applet: applet.clone(),
        min_level: SecurityLevel::FULL.byte(),
        initial,
        isd_dek: isd.dek.clone(),
    };
    let mut challenge = [0u8; 8];
    provisio_crypto::CryptoProvider::fill_random(s.crypto.as_ref(), &mut challenge)
        .map_err(|e| ApiError::internal(&e))?;
    let (session, apdu) = AdminSession::start(
        &Aid::isd(),
        vec![(isd, challenge)],
        SecurityLevel::FULL,
        Box::new(plan),
    );
    let session_id = random_id(s.crypto.as_ref(), "ses_")?;
    log(&s, &session_id, &row.sp_id, &row.request_id, 'C', &apdu).await?;
    let live = LiveSession {
        sp_id: row.sp_id.clone(),
        request_id: row.request_id.clone(),
        se_id,
        session,
    };
    s.sessions.put(session_id.clone(), live)?;
    Ok((
        StatusCode::CREATED,
        Json(SessionStep::command(session_id, &apdu)),
    ))
}

async fn log(
    s: &SeiState,
    session_id: &str,
    sp_id: &str,
    request_id: &str,
    direction: char,
    apdu: &[u8],
) -> Result<(), ApiError> {
    let row = ApduLogRow {
        session_id: session_id.into(),
        sp_id: sp_id.into(),
        request_id: request_id.into(),
        direction,
        apdu: apdu.to_vec(),
    };
    Ok(s.store.tsm_log_apdus(&[row], s.clock.now()).await?)
}

#[utoipa::path(post, path = "/v1/sei/ota/sessions/{session_id}", tag = "sei-tsm", request_body = Relayed,
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, body = SessionStep, description = "The next command, or done"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "session_gone: open a new session"),
        (status = 422, body = Problem, description = "element_refused, secure_channel_error, no_session")),
    security(("api_key" = [])))]
pub(crate) async fn session_step(
    State(s): State<SeiState>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    body: Bytes,
) -> Result<Json<SessionStep>, ApiError> {
    let se_id = ota_client(&s, &headers).await?;
    let req: Relayed = parse_json(&body)?;
    let response = hex::decode(&req.apdu).map_err(|_| ApiError::malformed("apdu must be hex"))?;
    let mut live = s.sessions.take(&session_id, |l| l.se_id == se_id)?;
    log(
        &s,
        &session_id,
        &live.sp_id,
        &live.request_id,
        'R',
        &response,
    )
    .await?;
    match live.session.on_response(&response) {
        Ok(Next::Send(apdu)) => {
            log(&s, &session_id, &live.sp_id, &live.request_id, 'C', &apdu).await?;
            s.sessions.put(session_id.clone(), live)?;
            Ok(Json(SessionStep::command(session_id, &apdu)))
        }
        Ok(Next::Done(_report)) => {
            complete(&s, &live.sp_id, &live.request_id).await?;
            Ok(Json(SessionStep::done(session_id, false)))
        }
        // The session is over; the request stays IN_PROGRESS for the next one.
        Err(e) => Err(e.into()),
    }
}

/// Marks a CREATE_DOMAIN done and stores the handover package for its provider.
async fn complete(s: &SeiState, sp_id: &str, request_id: &str) -> Result<(), ApiError> {
    let row = s
        .store
        .tsm_request(sp_id, request_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"request vanished"))?;
    let record = record_of(&row)?;
    let RequestKind::CreateDomain { ssd, .. } = &record.request.kind else {
        return Err(ApiError::internal(&"not a CREATE_DOMAIN"));
    };
    let provider = s
        .store
        .tsm_provider(sp_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"provider vanished"))?;
    let jwk: Jwk =
        serde_json::from_str(&provider.encryption_jwk).map_err(|e| ApiError::internal(&e))?;
    let recipient = jwk.public_key().map_err(|e| ApiError::internal(&e))?;
    let initial = s.open_keys(
        row.secret
            .as_deref()
            .ok_or_else(|| ApiError::internal(&"no initial keys"))?,
        &format!("initial:{sp_id}:{request_id}"),
    )?;
    let package = seal_initial_keys(
        s.crypto.as_ref(),
        &recipient,
        &row.se_id,
        ssd,
        request_id,
        &initial,
    )?;
    let state = record.state.apply(RequestEvent::Completed)?;
    let state_json = serde_json::to_string(&state).map_err(|e| ApiError::internal(&e))?;
    s.store
        .tsm_update_request(
            sp_id,
            request_id,
            row.version,
            &state_json,
            Some(&package),
            s.clock.now(),
        )
        .await?;
    Ok(())
}

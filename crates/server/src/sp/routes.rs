//! The SP-TSM's handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use provisio_gp::Aid;
use provisio_gp::scp03::SecurityLevel;
use provisio_jose::Jwk;
use provisio_se::payment::personalization_data;
use provisio_store::{ApduLogRow, SpJobChange, SpJobRow, StoreError};
use provisio_tsm::wire::{AddCaller, CallerAdded, JobStatus, Relayed, SessionStep, SpJob};
use provisio_tsm::{
    AdminSession, JobEvent, JobState, Next, Personalize, Plan, SessionKind, TakeOverKeys, TsmError,
    open_credential,
};
use provisio_types::Code;

use super::state::{LiveSpSession, SpState};
use crate::auth::bearer;
use crate::error::Problem;
use crate::routes::parse_json;
use crate::tsm_sessions::random_id;
use crate::{ApiError, hash_api_key, new_api_key};

async fn caller(s: &SpState, headers: &HeaderMap) -> Result<String, ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    s.store
        .sp_caller(&hash)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// The job whose OTA ticket the caller presents.
async fn ticket_job(s: &SpState, headers: &HeaderMap) -> Result<SpJobRow, ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    s.store
        .sp_job_by_ticket(&hash)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// The associated data a job's report token is sealed with.
pub(crate) fn report_aad(job_id: &str) -> String {
    format!("report:{job_id}")
}

pub(crate) fn state_of(row: &SpJobRow) -> Result<JobState, ApiError> {
    serde_json::from_str(&row.state).map_err(|e| ApiError::internal(&e))
}

#[utoipa::path(get, path = "/v1/sp/keys/handover", tag = "sp-tsm",
    responses((status = 200, body = Object, description = "The SP-TSM's EC P-256 public JWK: for the carrier's registration and for credentials")))]
pub(crate) async fn handover_key(State(s): State<SpState>) -> Json<Jwk> {
    Json(Jwk::from_public_key(s.key.public_key()))
}

#[utoipa::path(post, path = "/v1/sp/admin/callers", tag = "sp-tsm", request_body = AddCaller,
    responses((status = 201, body = CallerAdded, description = "Registered; the key is shown once"),
        (status = 401, body = Problem, description = "unauthorized")),
    security(("api_key" = [])))]
pub(crate) async fn add_caller(
    State(s): State<SpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CallerAdded>), ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(&headers)?);
    if !provisio_crypto::ct_eq(&hash, &s.admin_hash) {
        return Err(ApiError::unauthorized());
    }
    let req: AddCaller = parse_json(&body)?;
    let api_key = new_api_key(s.crypto.as_ref()).map_err(|e| ApiError::internal(&e))?;
    s.store
        .sp_add_caller(
            &req.name,
            &hash_api_key(s.crypto.as_ref(), &api_key),
            s.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CallerAdded {
            name: req.name,
            api_key,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/sp/jobs", tag = "sp-tsm", request_body = SpJob,
    responses((status = 201, body = JobStatus, description = "Accepted"),
        (status = 200, body = JobStatus, description = "The same job again: its current state"),
        (status = 400, body = Problem, description = "credential_unreadable, malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 403, body = Problem, description = "outside_own_domain"),
        (status = 409, body = Problem, description = "request_conflict")),
    security(("api_key" = [])))]
pub(crate) async fn create_job(
    State(s): State<SpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let who = caller(&s, &headers).await?;
    let job: SpJob = parse_json(&body)?;
    let fingerprint = provisio_crypto::CryptoProvider::sha256(
        s.crypto.as_ref(),
        &[&serde_json::to_vec(&job).map_err(|e| ApiError::internal(&e))?],
    );
    if let Some(row) = s.store.sp_job(&job.job_id).await? {
        if row.fingerprint != fingerprint || row.caller != who {
            return Err(TsmError::RequestConflict.into());
        }
        return Ok((
            StatusCode::OK,
            Json(JobStatus {
                job_id: row.job_id.clone(),
                state: state_of(&row)?,
            }),
        ));
    }
    for aid in [&job.ssd, &job.applet] {
        if !aid.starts_with(&s.aid_prefix) {
            return Err(TsmError::OutsideOwnDomain(aid.to_string()).into());
        }
    }
    let report_ok = match (&job.report_url, &job.report_token) {
        (None, None) => true,
        (Some(url), Some(token)) => crate::routes::tls_or_loopback(url) && !token.is_empty(),
        _ => false,
    };
    if !report_ok {
        return Err(ApiError::malformed(
            "report_url (https, or http to this host) and report_token come together",
        ));
    }
    // Refuse now what could never be personalised.
    open_credential(s.crypto.as_ref(), &s.key, &job.credential).map_err(|_| {
        ApiError::new(
            Code::CredentialUnreadable,
            "the credential does not open with this TSM's key",
        )
    })?;
    let row = SpJobRow {
        job_id: job.job_id.clone(),
        caller: who,
        se_id: job.se_id.clone(),
        ssd: job.ssd.to_string(),
        applet: job.applet.to_string(),
        credential: job.credential.into_bytes(),
        fingerprint: fingerprint.to_vec(),
        state: serde_json::to_string(&JobState::Received).map_err(|e| ApiError::internal(&e))?,
        initial_keys: None,
        own_keys: None,
        report_url: job.report_url.clone(),
        report_token: job
            .report_token
            .as_deref()
            .map(|t| {
                crate::key_seal::seal(
                    s.crypto.as_ref(),
                    &s.master,
                    t.as_bytes(),
                    &report_aad(&job.job_id),
                )
            })
            .transpose()?,
        reported_at: None,
        version: 0,
    };
    match s.store.sp_insert_job(&row, s.clock.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(TsmError::RequestConflict.into()),
        Err(e) => return Err(e.into()),
    }
    s.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(JobStatus {
            job_id: row.job_id,
            state: JobState::Received,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/sp/jobs/{job_id}", tag = "sp-tsm",
    params(("job_id" = String, Path, description = "The job")),
    responses((status = 200, body = JobStatus, description = "State"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "not_found")),
    security(("api_key" = [])))]
pub(crate) async fn job_status(
    State(s): State<SpState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    let who = caller(&s, &headers).await?;
    let row = s
        .store
        .sp_job(&job_id)
        .await?
        .filter(|r| r.caller == who)
        .ok_or_else(|| ApiError::not_found("no such job"))?;
    Ok(Json(JobStatus {
        job_id,
        state: state_of(&row)?,
    }))
}

/// Appends one APDU, as it crossed the relay, to the audit log.
async fn log(
    s: &SpState,
    session_id: &str,
    job_id: &str,
    direction: char,
    apdu: &[u8],
) -> Result<(), ApiError> {
    let row = ApduLogRow {
        session_id: session_id.into(),
        sp_id: "self".into(),
        request_id: job_id.into(),
        direction,
        apdu: apdu.to_vec(),
    };
    Ok(s.store.sp_log_apdus(&[row], s.clock.now()).await?)
}

#[utoipa::path(post, path = "/v1/sp/ota/sessions", tag = "sp-tsm",
    responses((status = 201, body = SessionStep, description = "The session's first command for the element"),
        (status = 401, body = Problem, description = "unauthorized: the bearer must be the delegation's ticket"),
        (status = 409, body = Problem, description = "not_ready (try later), nothing_to_do (finished)")),
    security(("api_key" = [])))]
pub(crate) async fn open_session(
    State(s): State<SpState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<SessionStep>), ApiError> {
    let row = ticket_job(&s, &headers).await?;
    let state = state_of(&row)?;
    let kind = match state.next_session() {
        Some(kind) => kind,
        None if matches!(state, JobState::Done | JobState::Failed { .. }) => {
            return Err(ApiError::new(Code::NothingToDo, "this job is finished"));
        }
        None => {
            return Err(ApiError::new(
                Code::NotReady,
                "this job is not ready for a session yet; try again",
            ));
        }
    };
    let aad = |what: &str| format!("{what}:{}", row.job_id);
    let own = crate::key_seal::open_keys(
        s.crypto.as_ref(),
        &s.master,
        row.own_keys
            .as_deref()
            .ok_or_else(|| ApiError::internal(&"no own keys"))?,
        &aad("own"),
    )?;
    let ssd: Aid = row.ssd.parse().map_err(|e| ApiError::internal(&e))?;
    let mut challenges = [[0u8; 8]; 2];
    for c in &mut challenges {
        provisio_crypto::CryptoProvider::fill_random(s.crypto.as_ref(), c)
            .map_err(|e| ApiError::internal(&e))?;
    }
    let (key_sets, plan): (_, Box<dyn Plan>) = match kind {
        SessionKind::TakeOverKeys => {
            let initial = crate::key_seal::open_keys(
                s.crypto.as_ref(),
                &s.master,
                row.initial_keys
                    .as_deref()
                    .ok_or_else(|| ApiError::internal(&"no initial keys"))?,
                &aad("initial"),
            )?;
            // Own keys first: a handover that went through before the answer was lost.
            (
                vec![
                    (own.clone(), challenges[0]),
                    (initial.clone(), challenges[1]),
                ],
                Box::new(TakeOverKeys { initial, own }),
            )
        }
        SessionKind::Personalize => {
            let jwe =
                String::from_utf8(row.credential.clone()).map_err(|e| ApiError::internal(&e))?;
            let c = open_credential(s.crypto.as_ref(), &s.key, &jwe)?;
            let key =
                provisio_jose::b64_decode(&c.cryptogram_key).map_err(|e| ApiError::internal(&e))?;
            let key =
                provisio_crypto::AesKey::from_bytes(&key).map_err(|e| ApiError::internal(&e))?;
            let mut digits = c.token_pan.clone();
            if digits.len() % 2 == 1 {
                digits.push('F');
            }
            let bcd = hex::decode(&digits).map_err(|e| ApiError::internal(&e))?;
            let expiry = hex::decode(format!("{:02}{:02}31", c.exp_year % 100, c.exp_month))
                .map_err(|e| ApiError::internal(&e))?;
            let expiry: [u8; 3] = expiry
                .try_into()
                .map_err(|_| ApiError::internal(&"expiry"))?;
            let applet: Aid = row.applet.parse().map_err(|e| ApiError::internal(&e))?;
            let data = personalization_data(&bcd, &expiry, &key, &own.dek);
            (
                vec![(own, challenges[0])],
                Box::new(Personalize { applet, data }),
            )
        }
    };
    let (session, apdu) = AdminSession::start(&ssd, key_sets, SecurityLevel::FULL, plan);
    let session_id = random_id(s.crypto.as_ref(), "ses_")?;
    log(&s, &session_id, &row.job_id, 'C', &apdu).await?;
    let live = LiveSpSession {
        job_id: row.job_id,
        kind,
        session,
    };
    s.sessions.put(session_id.clone(), live)?;
    Ok((
        StatusCode::CREATED,
        Json(SessionStep::command(session_id, &apdu)),
    ))
}

#[utoipa::path(post, path = "/v1/sp/ota/sessions/{session_id}", tag = "sp-tsm", request_body = Relayed,
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, body = SessionStep, description = "The next command, or done (and whether another session follows)"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "session_gone: open a new session"),
        (status = 422, body = Problem, description = "element_refused, secure_channel_error, no_session")),
    security(("api_key" = [])))]
pub(crate) async fn session_step(
    State(s): State<SpState>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    body: Bytes,
) -> Result<Json<SessionStep>, ApiError> {
    let row = ticket_job(&s, &headers).await?;
    let req: Relayed = parse_json(&body)?;
    let response = hex::decode(&req.apdu).map_err(|_| ApiError::malformed("apdu must be hex"))?;
    let mut live = s.sessions.take(&session_id, |l| l.job_id == row.job_id)?;
    log(&s, &session_id, &row.job_id, 'R', &response).await?;
    match live.session.on_response(&response)? {
        Next::Send(apdu) => {
            log(&s, &session_id, &row.job_id, 'C', &apdu).await?;
            s.sessions.put(session_id.clone(), live)?;
            Ok(Json(SessionStep::command(session_id, &apdu)))
        }
        Next::Done(_) => {
            let event = match live.kind {
                SessionKind::TakeOverKeys => JobEvent::KeysTaken,
                SessionKind::Personalize => JobEvent::Personalized,
            };
            let next = state_of(&row)?.apply(event)?;
            let change = SpJobChange {
                state: serde_json::to_string(&next).map_err(|e| ApiError::internal(&e))?,
                ..SpJobChange::default()
            };
            s.store
                .sp_update_job(&row.job_id, row.version, &change, s.clock.now())
                .await?;
            if next == JobState::Done {
                // The driver reports it to the caller.
                s.wake.notify_one();
            }
            Ok(Json(SessionStep::done(
                session_id,
                next.next_session().is_some(),
            )))
        }
    }
}

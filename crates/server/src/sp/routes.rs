//! The SP-TSM's handlers (docs/protocol.md §12). Each authenticates (for the OTA sessions the
//! ticket finds the job, which is then the facts), asks the store once for the facts, calls
//! the `provisio-tsm` core once ([`provisio_tsm::sp`]), commits what it returned in one
//! transaction and answers (docs/architecture.md §3). What is left here is the store's rows
//! to the core's records and back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use provisio_jose::Jwk;
use provisio_store::{ApduLogRow, SpJobChange, SpJobRow, StoreError};
use provisio_tsm::job::{Job, JobUpdate};
use provisio_tsm::relay::{Answer, Logged};
use provisio_tsm::sp::{JobIntake, accept_job, open_session as open_core};
use provisio_tsm::wire::{AddCaller, CallerAdded, JobStatus, Relayed, SessionStep, SpJob};
use provisio_tsm::{JobState, TsmError};

use super::state::SpState;
use crate::auth::bearer;
use crate::error::Problem;
use crate::routes::{parse_json, tls_or_loopback};
use crate::{ApiError, hash_api_key, new_api_key};

/// The audit log's provider id for the SP-TSM's own sessions (its requests are its jobs).
const OWN_SESSIONS: &str = "self";

async fn caller(s: &SpState, headers: &HeaderMap) -> Result<String, ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    s.store
        .sp_caller(&hash)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// The job whose OTA ticket the caller presents: one store call, the authentication and the
/// facts.
async fn ticket_job(s: &SpState, headers: &HeaderMap) -> Result<Job, ApiError> {
    let hash = hash_api_key(s.crypto.as_ref(), bearer(headers)?);
    job_of(
        s.store
            .sp_job_by_ticket(&hash)
            .await?
            .ok_or_else(ApiError::unauthorized)?,
    )
}

#[utoipa::path(get, path = "/v1/sp/keys/handover", tag = "sp-tsm",
    responses((status = 200, body = Object, description = "The SP-TSM's EC P-256 public JWK: for the carrier's registration and for credentials")))]
pub(crate) async fn handover_key(State(s): State<SpState>) -> Json<Jwk> {
    Json(s.public_jwk())
}

#[utoipa::path(post, path = "/v1/sp/admin/callers", tag = "sp-tsm", request_body = AddCaller,
    responses((status = 201, body = CallerAdded, description = "Registered; the key is shown once"),
        (status = 401, body = Problem, description = "unauthorized")),
    security(("api_key" = ["operator"])))]
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
    security(("api_key" = ["caller"])))]
pub(crate) async fn create_job(
    State(s): State<SpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let who = caller(&s, &headers).await?;
    let job: SpJob = parse_json(&body)?;
    let existing = s.store.sp_job(&job.job_id).await?.map(job_of).transpose()?;
    let job = match accept_job(&s.core(), &who, job, existing.as_ref(), &tls_or_loopback)? {
        JobIntake::Duplicate(status) => return Ok((StatusCode::OK, Json(status))),
        JobIntake::New(job) => job,
    };
    match s.store.sp_insert_job(&row_of(&job), s.clock.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(TsmError::RequestConflict.into()),
        Err(e) => return Err(e.into()),
    }
    s.wake.notify_one();
    Ok((StatusCode::CREATED, Json(job.status())))
}

#[utoipa::path(get, path = "/v1/sp/jobs/{job_id}", tag = "sp-tsm",
    params(("job_id" = String, Path, description = "The job")),
    responses((status = 200, body = JobStatus, description = "State"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "not_found")),
    security(("api_key" = ["caller"])))]
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
        state: JobState::decode(&row.state)?,
    }))
}

#[utoipa::path(post, path = "/v1/sp/ota/sessions", tag = "sp-tsm",
    responses((status = 201, body = SessionStep, description = "The session's first command for the element"),
        (status = 401, body = Problem, description = "unauthorized: the bearer must be the delegation's ticket"),
        (status = 409, body = Problem, description = "not_ready (try later), nothing_to_do (finished)")),
    security(("api_key" = ["ota_ticket"])))]
pub(crate) async fn open_session(
    State(s): State<SpState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<SessionStep>), ApiError> {
    let job = ticket_job(&s, &headers).await?;
    let out = open_core(&s.core(), &job)?;
    let session_id = out
        .answer
        .as_ref()
        .map(|o| o.session_id.clone())
        .unwrap_or_default();
    let change = out.update.as_ref().map(change_of);
    s.store
        .sp_commit_session(
            &job.job_id,
            job.version,
            change.as_ref(),
            &log_rows(&session_id, &job.job_id, &out.log),
            s.clock.now(),
        )
        .await?;
    let opened = out.answer?;
    s.sessions.put(opened.session_id.clone(), opened.session)?;
    Ok((
        StatusCode::CREATED,
        Json(SessionStep::command(opened.session_id, &opened.first)),
    ))
}

#[utoipa::path(post, path = "/v1/sp/ota/sessions/{session_id}", tag = "sp-tsm", request_body = Relayed,
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, body = SessionStep, description = "The next command, or done (and whether another session follows)"),
        (status = 401, body = Problem, description = "unauthorized"), (status = 404, body = Problem, description = "session_gone: open a new session"),
        (status = 422, body = Problem, description = "element_refused, secure_channel_error, no_session")),
    security(("api_key" = ["ota_ticket"])))]
pub(crate) async fn session_step(
    State(s): State<SpState>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    body: Bytes,
) -> Result<Json<SessionStep>, ApiError> {
    let job = ticket_job(&s, &headers).await?;
    let response = parse_json::<Relayed>(&body)?.response()?;
    let mut live = s.sessions.take(&session_id, |l| l.job_id() == job.job_id)?;
    let out = live.step(&job, &response);
    let log = log_rows(&session_id, &job.job_id, &out.log);
    let change = out.update.as_ref().map(change_of);
    let now = s.clock.now();
    if let Err(e) = s
        .store
        .sp_commit_session(&job.job_id, job.version, change.as_ref(), &log, now)
        .await
    {
        // The job changed under the session: what crossed the relay is logged all the same.
        if matches!(e, StoreError::Conflict(_)) {
            s.store
                .sp_commit_session(&job.job_id, job.version, None, &log, now)
                .await?;
        }
        return Err(e.into());
    }
    let answer = out.answer?;
    match &answer {
        Answer::Command(_) => s.sessions.put(session_id.clone(), live)?,
        // The driver reports a finished job to its caller.
        Answer::Done { .. } if out.update.is_some_and(|u| u.state == JobState::Done) => {
            s.wake.notify_one()
        }
        Answer::Done { .. } => {}
    }
    Ok(Json(answer.into_step(session_id)))
}

/// A stored job, decoded.
pub(crate) fn job_of(row: SpJobRow) -> Result<Job, ApiError> {
    let corrupt = |what: &str| ApiError::internal(&format!("stored job: {what}"));
    Ok(Job {
        ssd: row.ssd.parse().map_err(|_| corrupt("ssd"))?,
        applet: row.applet.parse().map_err(|_| corrupt("applet"))?,
        credential: String::from_utf8(row.credential).map_err(|_| corrupt("credential"))?,
        fingerprint: row
            .fingerprint
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("fingerprint"))?,
        state: JobState::decode(&row.state)?,
        job_id: row.job_id,
        caller: row.caller,
        se_id: row.se_id,
        initial_keys: row.initial_keys,
        own_keys: row.own_keys,
        report_url: row.report_url,
        report_token: row.report_token,
        reported_at: row.reported_at,
        version: row.version,
    })
}

/// A new job's row.
fn row_of(job: &Job) -> SpJobRow {
    SpJobRow {
        job_id: job.job_id.clone(),
        caller: job.caller.clone(),
        se_id: job.se_id.clone(),
        ssd: job.ssd.to_string(),
        applet: job.applet.to_string(),
        credential: job.credential.clone().into_bytes(),
        fingerprint: job.fingerprint.to_vec(),
        state: job.state.encode(),
        initial_keys: job.initial_keys.clone(),
        own_keys: job.own_keys.clone(),
        report_url: job.report_url.clone(),
        report_token: job.report_token.clone(),
        reported_at: job.reported_at,
        version: job.version,
    }
}

/// The store's change of a job's update.
pub(crate) fn change_of(update: &JobUpdate) -> SpJobChange {
    SpJobChange {
        state: update.state.encode(),
        initial_keys: update.initial_keys.clone(),
        own_keys: update.own_keys.clone(),
        ticket_hash: update.ticket_hash.map(|h| h.to_vec()),
    }
}

/// The audit log's rows of a session's APDUs.
fn log_rows(session_id: &str, job_id: &str, log: &[Logged]) -> Vec<ApduLogRow> {
    log.iter()
        .map(|apdu| ApduLogRow {
            session_id: session_id.to_owned(),
            sp_id: OWN_SESSIONS.to_owned(),
            request_id: job_id.to_owned(),
            direction: apdu.direction(),
            apdu: apdu.bytes().to_vec(),
        })
        .collect()
}

//! The SP-TSM's driver: moves jobs through the states that need the carrier's TSM, and reports
//! each finished job to its caller (docs/protocol.md §12.6). What to do next is the core's
//! ([`provisio_tsm::job::next_step`]); the driver only makes the calls and commits. Each step
//! is idempotent at the carrier (the request id is the job id plus the step) and at the
//! caller (one outcome per job), so a restart or a lost answer just repeats it.

use std::time::Duration;

use provisio_store::SpJobRow;
use provisio_tsm::ServiceRequest;
use provisio_tsm::job::{DriverStep, Job, JobUpdate, ReportToken, next_step, on_carrier_status};
use provisio_tsm::wire::{JobStatus, RequestStatus};

use super::routes::{change_of, job_of};
use super::state::SpState;
use crate::ApiError;

/// Runs the driver until the task is dropped: every open job on each wake-up, and at least
/// every `poll`.
pub fn spawn_sp_driver(state: SpState, poll: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let notified = state.wake.notified();
            match state.store.sp_open_jobs().await {
                Ok(jobs) => {
                    for job in jobs {
                        let job_id = job.job_id.clone();
                        if let Err(e) = advance(&state, job).await {
                            tracing::warn!(%job_id, code = %e.code(), "job step failed; will retry");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list SP-TSM jobs"),
            }
            let _ = tokio::time::timeout(poll, notified).await;
        }
    })
}

async fn sei_post(s: &SpState, req: &ServiceRequest) -> Result<RequestStatus, ApiError> {
    let r = s
        .http
        .post(format!("{}/v1/sei/service-requests", s.sei.base))
        .bearer_auth(&s.sei.api_key)
        .json(req)
        .send()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if !r.status().is_success() {
        let body = r.text().await.unwrap_or_default();
        return Err(ApiError::internal(&format!("carrier refused: {body}")));
    }
    r.json().await.map_err(|e| ApiError::internal(&e))
}

async fn sei_status(s: &SpState, request_id: &str) -> Result<RequestStatus, ApiError> {
    let r = s
        .http
        .get(format!(
            "{}/v1/sei/service-requests/{request_id}",
            s.sei.base
        ))
        .bearer_auth(&s.sei.api_key)
        .send()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    r.error_for_status()
        .map_err(|e| ApiError::internal(&e))?
        .json()
        .await
        .map_err(|e| ApiError::internal(&e))
}

/// One pass for one job: the core says what to do next ([`next_step`]); this does it (one
/// call to the carrier or the caller) and commits what the core made of it.
async fn advance(s: &SpState, row: SpJobRow) -> Result<(), ApiError> {
    let job = job_of(row)?;
    let ctx = s.core();
    match next_step(&ctx, &job)? {
        DriverStep::Send { request, then } => {
            sei_post(s, &request).await?;
            commit(s, &job, &then).await
        }
        DriverStep::Poll { request_id } => {
            let status = sei_status(s, &request_id).await?;
            match on_carrier_status(&ctx, &job, &status)? {
                Some(update) => commit(s, &job, &update).await,
                None => Ok(()),
            }
        }
        DriverStep::Report { url, token, status } => report(s, &url, &token, &status).await,
        DriverStep::Idle => Ok(()),
    }
}

async fn commit(s: &SpState, job: &Job, update: &JobUpdate) -> Result<(), ApiError> {
    Ok(s.store
        .sp_update_job(
            &job.job_id,
            update.version,
            &change_of(update),
            s.clock.now(),
        )
        .await?)
}

/// Tells the caller how the job ended; an answer of 2xx, or 409 (it already holds another
/// outcome, which repeating cannot change), is recorded as the acknowledgement.
async fn report(
    s: &SpState,
    url: &str,
    token: &ReportToken,
    body: &JobStatus,
) -> Result<(), ApiError> {
    let r = s
        .http
        .post(url)
        .bearer_auth(token.expose())
        .json(body)
        .send()
        .await
        .map_err(|e| ApiError::internal(&e.without_url()))?;
    let status = r.status();
    if status == reqwest::StatusCode::CONFLICT {
        tracing::warn!(job_id = %body.job_id, "the caller holds another outcome for this job");
    } else if !status.is_success() {
        return Err(ApiError::internal(&format!(
            "the caller answered the report with {status}"
        )));
    }
    s.store.sp_job_reported(&body.job_id, s.clock.now()).await?;
    tracing::info!(job_id = %body.job_id, state = body.state.name(), "job reported to the caller");
    Ok(())
}

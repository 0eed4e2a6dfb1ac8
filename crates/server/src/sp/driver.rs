//! The SP-TSM's driver: moves jobs through the states that need the carrier's TSM, and reports
//! each finished job to its caller. Each step is idempotent at the carrier (the request id is
//! the job id plus the step) and at the caller (one outcome per job), so a restart or a lost
//! answer just repeats it.

use std::time::Duration;

use provisio_gp::Aid;
use provisio_gp::scp03::StaticKeys;
use provisio_store::{SpJobChange, SpJobRow};
use provisio_tsm::wire::{JobStatus, RequestStatus};
use provisio_tsm::{
    JobEvent, JobState, RequestKind, RequestState, ServiceRequest, open_initial_keys,
};

use super::routes::{report_aad, state_of};
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
                        if let Err(e) = advance(&state, &job).await {
                            tracing::warn!(job_id = %job.job_id, code = %e.code(), "job step failed; will retry");
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

/// The OTA client's ticket for a job: an HMAC of the job id under the master key, so a
/// repeated delegation request carries the same ticket (and is the same request at the
/// carrier).
fn ota_ticket(s: &SpState, job_id: &str) -> String {
    let mac = provisio_crypto::CryptoProvider::hmac_sha256(
        s.crypto.as_ref(),
        s.master.expose(),
        format!("ota-ticket:{job_id}").as_bytes(),
    );
    provisio_jose::b64_encode(&mac)
}

async fn commit(
    s: &SpState,
    job: &SpJobRow,
    event: JobEvent,
    mut change: SpJobChange,
) -> Result<(), ApiError> {
    let next = state_of(job)?.apply(event)?;
    change.state = serde_json::to_string(&next).map_err(|e| ApiError::internal(&e))?;
    Ok(s.store
        .sp_update_job(&job.job_id, job.version, &change, s.clock.now())
        .await?)
}

async fn advance(s: &SpState, job: &SpJobRow) -> Result<(), ApiError> {
    let ssd: Aid = job.ssd.parse().map_err(|e| ApiError::internal(&e))?;
    let create_id = format!("{}.create", job.job_id);
    match state_of(job)? {
        JobState::Received => {
            let applet: Aid = job.applet.parse().map_err(|e| ApiError::internal(&e))?;
            let req = ServiceRequest {
                request_id: create_id,
                se_id: job.se_id.clone(),
                kind: RequestKind::CreateDomain { ssd, applet },
            };
            sei_post(s, &req).await?;
            commit(s, job, JobEvent::DomainRequested, SpJobChange::default()).await
        }
        JobState::DomainRequested => {
            let status = sei_status(s, &create_id).await?;
            match (&status.state, &status.handover) {
                (RequestState::Done, Some(package)) => {
                    let initial = open_initial_keys(
                        s.crypto.as_ref(),
                        &s.key,
                        package,
                        &job.se_id,
                        &ssd,
                        &create_id,
                    )?;
                    let mut k = zeroize::Zeroizing::new([0u8; 96]);
                    provisio_crypto::CryptoProvider::fill_random(s.crypto.as_ref(), k.as_mut())
                        .map_err(|e| ApiError::internal(&e))?;
                    let (enc, rest) = k.split_at(32);
                    let (mac, dek) = rest.split_at(32);
                    let own = StaticKeys::from_bytes(0x31, enc, mac, dek)
                        .map_err(|e| ApiError::internal(&e))?;
                    let aad = |what: &str| format!("{what}:{}", job.job_id);
                    // The OTA ticket is committed before the delegation goes out, so the phone
                    // can never arrive before it.
                    let ticket = ota_ticket(s, &job.job_id);
                    let change = SpJobChange {
                        ticket_hash: Some(crate::hash_api_key(s.crypto.as_ref(), &ticket).to_vec()),
                        initial_keys: Some(crate::key_seal::seal_keys(
                            s.crypto.as_ref(),
                            &s.master,
                            &initial,
                            &aad("initial"),
                        )?),
                        own_keys: Some(crate::key_seal::seal_keys(
                            s.crypto.as_ref(),
                            &s.master,
                            &own,
                            &aad("own"),
                        )?),
                        ..SpJobChange::default()
                    };
                    commit(s, job, JobEvent::HandoverOpened, change).await
                }
                (RequestState::Failed { reason }, _) => {
                    commit(
                        s,
                        job,
                        JobEvent::Failed(format!("carrier: {reason}")),
                        SpJobChange::default(),
                    )
                    .await
                }
                _ => Ok(()),
            }
        }
        JobState::DomainReady => {
            let ticket = ota_ticket(s, &job.job_id);
            let req = ServiceRequest {
                request_id: format!("{}.perso", job.job_id),
                se_id: job.se_id.clone(),
                kind: RequestKind::DelegatePersonalization {
                    ssd,
                    sp_endpoint: format!("{}/v1/sp/ota#{ticket}", s.public_base),
                },
            };
            sei_post(s, &req).await?;
            commit(s, job, JobEvent::Delegated, SpJobChange::default()).await
        }
        JobState::Delegated | JobState::KeysTaken => Ok(()),
        done @ (JobState::Done | JobState::Failed { .. }) => report(s, job, done).await,
    }
}

/// Tells the caller how the job ended, until it acknowledges (2xx, or 409: it already holds
/// another outcome, which repeating cannot change).
async fn report(s: &SpState, job: &SpJobRow, state: JobState) -> Result<(), ApiError> {
    let (Some(url), Some(sealed), None) = (&job.report_url, &job.report_token, job.reported_at)
    else {
        return Ok(());
    };
    let token = crate::key_seal::open(
        s.crypto.as_ref(),
        &s.master,
        sealed,
        &report_aad(&job.job_id),
    )?;
    let token = std::str::from_utf8(token.expose()).map_err(|e| ApiError::internal(&e))?;
    let body = JobStatus {
        job_id: job.job_id.clone(),
        state,
    };
    let r = s
        .http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| ApiError::internal(&e.without_url()))?;
    let status = r.status();
    if status == reqwest::StatusCode::CONFLICT {
        tracing::warn!(job_id = %job.job_id, "the caller holds another outcome for this job");
    } else if !status.is_success() {
        return Err(ApiError::internal(&format!(
            "the caller answered the report with {status}"
        )));
    }
    s.store.sp_job_reported(&job.job_id, s.clock.now()).await?;
    tracing::info!(job_id = %job.job_id, state = body.state.name(), "job reported to the caller");
    Ok(())
}

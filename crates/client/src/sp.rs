//! Calls to an issuer's TSM (SP-TSM): its operator's caller registration and the token
//! service's provisioning jobs.

use provisio_jose::Jwk;
use provisio_tsm::wire::{AddCaller, CallerAdded, JobStatus, SpJob};

use crate::{ClientError, ProvisioClient};

impl ProvisioClient {
    /// `GET /v1/sp/keys/handover`: the SP-TSM's public key.
    pub async fn sp_key(&self) -> Result<Jwk, ClientError> {
        self.get("/v1/sp/keys/handover").await
    }

    /// `POST /v1/sp/admin/callers` (operator).
    pub async fn sp_add_caller(&self, name: &str) -> Result<CallerAdded, ClientError> {
        self.post(
            "/v1/sp/admin/callers",
            &AddCaller {
                name: name.to_owned(),
            },
            None,
        )
        .await
    }

    /// `POST /v1/sp/jobs` (token service).
    pub async fn sp_job(&self, job: &SpJob) -> Result<JobStatus, ClientError> {
        self.post("/v1/sp/jobs", job, None).await
    }

    /// `GET /v1/sp/jobs/{id}` (token service).
    pub async fn sp_job_status(&self, job_id: &str) -> Result<JobStatus, ClientError> {
        self.get(&format!("/v1/sp/jobs/{job_id}")).await
    }
}

//! The token service's side of the hand-off to an issuer's TSM (US 8,060,449 step 1): the
//! target a secure-element approval is minted for, and the delivery of the committed job from
//! the outbox. The SP-TSM takes a job id once (a repeat answers 200 with its state), so a
//! delivery repeated after a crash is harmless.

use provisio_jose::Jwk;
use provisio_store::SpTsmRecord;
use provisio_tsp::{OutboxMessage, SpTsmTarget, open_sp_tsm_delivery};
use reqwest::StatusCode;

use crate::{ApiError, AppState};

/// The associated data the token service's key at an SP-TSM is sealed with.
pub(crate) fn api_key_aad(issuer_id: &str) -> Vec<u8> {
    format!("sp_tsm:{issuer_id}:api_key").into_bytes()
}

/// A registered TSM as the core mints for it.
pub(crate) fn target_of(state: &AppState, record: SpTsmRecord) -> Result<SpTsmTarget, ApiError> {
    let jwk: Jwk =
        serde_json::from_str(&record.encryption_jwk).map_err(|e| ApiError::internal(&e))?;
    Ok(SpTsmTarget {
        issuer_id: record.issuer_id,
        key: jwk.public_key().map_err(|e| ApiError::internal(&e))?,
        aid_prefix: hex::decode(&record.aid_prefix).map_err(|e| ApiError::internal(&e))?,
        report_base: state.public_base.clone(),
    })
}

/// How a delivery ended when it did not succeed.
pub(crate) enum Undelivered {
    /// Worth trying again (the SP-TSM unreachable, or failing on its side).
    Retry(String),
    /// The SP-TSM refused the job itself; trying again cannot help, an operator must look.
    Refused(String),
}

/// POSTs one committed job to its issuer's SP-TSM.
pub(crate) async fn deliver_job(state: &AppState, m: &OutboxMessage) -> Result<(), Undelivered> {
    let crypto = state.crypto.as_ref();
    let vault = state.keys.vault();
    let delivery = open_sp_tsm_delivery(crypto, vault, &m.message_id, &m.payload)
        .map_err(|e| Undelivered::Refused(format!("cannot open the job: {e}")))?;
    let record: SpTsmRecord = state
        .store
        .sp_tsm(&delivery.issuer_id)
        .await
        .map_err(|e| Undelivered::Retry(e.to_string()))?
        .ok_or_else(|| Undelivered::Retry("the issuer's TSM is not registered".into()))?;
    let api_key = vault
        .open(crypto, &record.api_key, &api_key_aad(&record.issuer_id))
        .map_err(|e| Undelivered::Refused(format!("cannot open the TSM key: {e}")))?;
    let api_key = std::str::from_utf8(api_key.expose())
        .map_err(|_| Undelivered::Refused("the TSM key is not text".into()))?;
    let r = state
        .http
        .post(format!("{}/v1/sp/jobs", record.url.trim_end_matches('/')))
        .bearer_auth(api_key)
        .json(&delivery.job)
        .send()
        .await
        .map_err(|e| Undelivered::Retry(format!("SP-TSM: {}", e.without_url())))?;
    let status = r.status();
    if status.is_success() {
        return Ok(());
    }
    let body = r.text().await.unwrap_or_default();
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let why = format!("SP-TSM answered {status} {code}");
    if status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        )
    {
        // A key not registered yet, or a busy or failing TSM: it may work later.
        Err(Undelivered::Retry(why))
    } else {
        Err(Undelivered::Refused(why))
    }
}

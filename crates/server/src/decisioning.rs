//! The call to an issuer's decisioning endpoint (docs/protocol.md §17.3): the core builds the
//! signed request and reads what came back ([`provisio_tsp::read_answer`]); this only carries
//! it, within the configured budget, with no retry. Whatever happens (a timeout, a refused
//! connection, a wrong status, garbage, a body too large) ends in an answer or the fallback,
//! never in an error of the wallet's request.

use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use provisio_jose::Jwk;
use provisio_risk::RiskDecision;
use provisio_store::Decisioning;
use provisio_tsp::{
    Asked, EnteredCard, IssuerAnswer, PushContext, decision_request, random_id, read_answer,
};

use crate::{ApiError, AppState};

/// The largest answer read; a longer one is malformed.
const MAX_ANSWER: usize = 64 * 1024;

/// Asks the issuer about `card`, with the service's own decision `tsp`, and answers what
/// counts: the issuer's answer or the fallback.
pub(crate) async fn ask(
    state: &AppState,
    ctx: &PushContext<'_>,
    issuer_id: &str,
    decisioning: &Decisioning,
    card: &EnteredCard,
    tsp: &RiskDecision,
) -> Result<IssuerAnswer, ApiError> {
    let crypto = state.crypto.as_ref();
    let jwk: Jwk =
        serde_json::from_str(&decisioning.encryption_jwk).map_err(|e| ApiError::internal(&e))?;
    let key = jwk.public_key().map_err(|e| ApiError::internal(&e))?;
    let request_id = random_id(crypto, "dq_").map_err(|e| ApiError::internal(&e))?;
    let jws = decision_request(
        ctx,
        card,
        tsp,
        &request_id,
        &key,
        jwk.kid.as_deref().unwrap_or_default(),
    )?;
    let config = state.config.decisioning;
    let budget = Duration::from_millis(config.budget_ms);
    let started = Instant::now();
    let call = async {
        let mut response = state
            .http
            .post(&decisioning.url)
            .header(CONTENT_TYPE, "application/jose")
            .body(jws)
            .send()
            .await?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER {
                // Not the documented JSON, whatever follows.
                body.clear();
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, body))
    };
    let elapsed = || u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let asked = match tokio::time::timeout(budget, call).await {
        Err(_) => Asked::TimedOut {
            latency_ms: u32::try_from(config.budget_ms).unwrap_or(u32::MAX),
        },
        Ok(Err(e)) => {
            tracing::warn!(issuer_id, error = %e.without_url(), "issuer decisioning unreachable");
            Asked::Unreachable {
                latency_ms: elapsed(),
            }
        }
        Ok(Ok((status, body))) => Asked::Answered {
            status,
            body,
            latency_ms: elapsed(),
        },
    };
    let answer = read_answer(&asked, &config);
    state.metrics.issuer_decision(&answer.verdict);
    tracing::info!(
        issuer_id,
        request_id,
        decision = answer.verdict.decision.as_str(),
        fallback = answer.verdict.fallback.as_deref().unwrap_or(""),
        latency_ms = answer.verdict.latency_ms,
        "issuer decisioning"
    );
    Ok(answer)
}

//! The HTTP call to an issuer's or a third party's question source (docs/protocol.md §9.4 to
//! §9.7): the accounts core decides what to ask ([`SourceCall`]) and checks the reply; this
//! only carries it, with the client's 5-second time-out and no retry. Unreachable or a
//! non-2xx status is 502 `kba_source_error` here; a 2xx body goes back to the core.

use axum::http::header::CONTENT_TYPE;
use provisio_accounts::{KbaError, SourceCall};

use crate::{ApiError, AppState};

/// Makes `call` and returns the body of its 2xx answer.
pub(crate) async fn ask(state: &AppState, call: &SourceCall) -> Result<Vec<u8>, ApiError> {
    let mut request = state
        .http
        .post(&call.url)
        .header(CONTENT_TYPE, "application/json")
        .body(call.body.clone());
    if let Some(c) = &call.credential {
        request = request.bearer_auth(c.expose());
    }
    let response = request.send().await.map_err(|e| {
        tracing::warn!(error = %e.without_url(), "question source unreachable");
        source_error("the question source is unreachable")
    })?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, path = call.path, "question source refused");
        return Err(source_error(&format!(
            "the question source answered {status}"
        )));
    }
    let body = response.bytes().await.map_err(|_| {
        source_error("the question source sent a body that is not the documented JSON")
    })?;
    Ok(body.to_vec())
}

fn source_error(detail: &str) -> ApiError {
    KbaError::Source(detail.to_owned()).into()
}

//! `Idempotency-Key` (docs/protocol.md §1.4): the same key with the same body returns the
//! first answer; with another body, 422 `idempotency_conflict`. The first answer is committed
//! in the same transaction as the records it describes, so it exists exactly when they do.
//!
//! The stored answer is sealed under the vault (its AAD names the principal and the key): a
//! registration's answer holds the new participant's API key, and a backup of the database
//! must not hand it out.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_store::IdempotencyRecord;
use provisio_types::Code;

use crate::{ApiError, AppState};

/// The idempotency key of a request and the fingerprint of its body.
pub(crate) struct IdempotencyKey {
    principal: String,
    key: String,
    request_hash: [u8; 32],
}

/// Reads the request's idempotency key; if it was used before, also the answer to replay.
pub(crate) async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    principal: &str,
    path: &str,
    body: &[u8],
) -> Result<(Option<IdempotencyKey>, Option<Response>), ApiError> {
    let Some(key) = IdempotencyKey::from_request(state, headers, principal, path, body)? else {
        return Ok((None, None));
    };
    let replay = key.replay(state).await?;
    Ok((Some(key), replay))
}

impl IdempotencyKey {
    /// Reads the header; `None` without one. Keys are 1 to 255 visible ASCII characters.
    pub(crate) fn from_request(
        state: &AppState,
        headers: &HeaderMap,
        principal: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Option<Self>, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::malformed("Idempotency-Key must be 1 to 255 visible ASCII characters")
            })?;
        let request_hash = provisio_crypto::CryptoProvider::sha256(
            state.crypto.as_ref(),
            &[b"POST ", path.as_bytes(), b"\n", body],
        );
        Ok(Some(Self {
            principal: principal.to_owned(),
            key: key.to_owned(),
            request_hash,
        }))
    }

    /// The stored answer to replay, if this key was used before; 422 if it was used for
    /// another request.
    pub(crate) async fn replay(&self, state: &AppState) -> Result<Option<Response>, ApiError> {
        self.replay_of(
            state,
            state
                .store
                .idempotency(&self.principal, &self.key)
                .await?
                .as_ref(),
        )
    }

    /// What to answer given the answer stored under this key (loaded with a request's other
    /// facts): a replay, a conflict, or nothing yet.
    pub(crate) fn replay_of(
        &self,
        state: &AppState,
        stored: Option<&IdempotencyRecord>,
    ) -> Result<Option<Response>, ApiError> {
        match stored {
            None => Ok(None),
            Some(r) if r.request_hash == self.request_hash => {
                Ok(Some(stored_response(r, &self.open(state, &r.body)?)))
            }
            Some(_) => Err(ApiError::new(
                Code::IdempotencyConflict,
                "this Idempotency-Key was used with a different request",
            )),
        }
    }

    /// The principal and key to look the stored answer up by.
    pub(crate) fn lookup(&self) -> (String, String) {
        (self.principal.clone(), self.key.clone())
    }

    /// The record of the answer about to be committed, its body sealed.
    pub(crate) fn record(
        &self,
        state: &AppState,
        status: StatusCode,
        body: &str,
        now: i64,
    ) -> Result<IdempotencyRecord, ApiError> {
        let sealed = state
            .keys
            .vault()
            .seal(state.crypto.as_ref(), body.as_bytes(), &self.aad())
            .map_err(|e| ApiError::internal(&e))?;
        Ok(IdempotencyRecord {
            principal: self.principal.clone(),
            key: self.key.clone(),
            request_hash: self.request_hash,
            status: status.as_u16(),
            body: format!("{SEALED}{}", provisio_jose::b64_encode(&sealed.to_bytes())),
            created_at: now,
        })
    }

    /// The stored body in the clear. A body stored before answers were sealed (without the
    /// prefix) is as it was.
    fn open(&self, state: &AppState, stored: &str) -> Result<String, ApiError> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_owned());
        };
        let bytes = provisio_jose::b64_decode(sealed).map_err(|e| ApiError::internal(&e))?;
        let sealed = provisio_tsp::Sealed::from_bytes(&bytes)
            .ok_or_else(|| ApiError::internal(&"a stored idempotent answer is damaged"))?;
        let plain = state
            .keys
            .vault()
            .open(state.crypto.as_ref(), &sealed, &self.aad())
            .map_err(|e| ApiError::internal(&e))?;
        String::from_utf8(plain.expose().to_vec()).map_err(|e| ApiError::internal(&e))
    }

    fn aad(&self) -> Vec<u8> {
        format!("idempotency:{}:{}", self.principal, self.key).into_bytes()
    }
}

/// The prefix of a sealed stored answer (base64url of the sealed bytes follows).
const SEALED: &str = "sealed:";

fn stored_response(r: &IdempotencyRecord, body: &str) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}

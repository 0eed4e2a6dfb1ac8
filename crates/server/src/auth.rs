//! API-key authentication (docs/protocol.md §1.2): `Authorization: Bearer <api_key>`, looked
//! up by its SHA-256 hash. Keys carry at least 256 random bits, so a plain hash is enough.

use axum::http::HeaderMap;
use provisio_store::{Principal, Role};

use crate::{ApiError, AppState, hash_api_key};

/// The bearer credential of a request, or 401. The scheme is case-insensitive (RFC 9110
/// section 11.1): `Bearer`, `bearer` and `BEARER` all name it.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|k| !k.is_empty())
        .ok_or_else(ApiError::unauthorized)
}

/// The caller, or 401.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let key = bearer(headers)?;
    let hash = hash_api_key(state.crypto.as_ref(), key);
    if let Some(p) = state.principals.get(&hash) {
        return Ok(p);
    }
    let principal = state
        .store
        .principal(&hash)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    state.principals.put(hash, principal.clone());
    Ok(principal)
}

/// The caller, who must hold `role`; otherwise 401 or 403.
pub(crate) async fn require(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
) -> Result<Principal, ApiError> {
    let principal = authenticate(state, headers).await?;
    if principal.role != role {
        return Err(ApiError::forbidden(format!(
            "this operation needs a {} API key",
            role.as_str()
        )));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_key_required() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::header::AUTHORIZATION,
                axum::http::HeaderValue::from_str(value)
                    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("x")),
            );
            bearer(&h).ok().map(str::to_owned)
        };
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(with(&format!("{scheme} pvk_k")).as_deref(), Some("pvk_k"));
        }
        assert_eq!(with("Basic pvk_k"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("Bearerpvk_k"), None);
        assert_eq!(bearer(&HeaderMap::new()).ok(), None);
    }
}

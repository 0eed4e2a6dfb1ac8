//! Route handlers, one file per area.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod health;
pub(crate) mod issuer_accounts;
pub(crate) mod kba_sources;
pub(crate) mod keys;
pub(crate) mod push;
pub(crate) mod risk_lists;
pub(crate) mod scripts;
pub(crate) mod step_up;
pub(crate) mod wallet_module;

use serde::de::DeserializeOwned;

use crate::ApiError;

/// Parses a JSON body into its documented type, or 400 `malformed_request` saying where.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("the body is not the documented JSON: {e}")))
}

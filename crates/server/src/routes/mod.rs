//! Route handlers, one file per area.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod health;
pub(crate) mod issuer_accounts;
pub(crate) mod issuer_settings;
pub(crate) mod kba_sources;
pub(crate) mod keys;
pub(crate) mod payments;
pub(crate) mod provisionings;
pub(crate) mod push;
pub(crate) mod risk_lists;
pub(crate) mod scripts;
pub(crate) mod sp_tsms;
pub(crate) mod step_up;
pub(crate) mod token_admin;
pub(crate) mod tokens;
pub(crate) mod wallet_module;

use serde::de::DeserializeOwned;

use crate::ApiError;

/// Parses a JSON body into its documented type, or 400 `malformed_request` saying where and
/// what was expected, never quoting a value (some bodies carry a PAN or a code).
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(provisio_tsp::wire::json_error_detail(&e)))
}

/// Whether a partner URL is acceptable: https, or http only to this host (data for partners
/// travels over TLS).
pub(crate) fn tls_or_loopback(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| match u.scheme() {
        "https" => true,
        "http" => matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    })
}

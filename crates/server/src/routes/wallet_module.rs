//! `GET /v1/wallet-module` (docs/protocol.md §8.1): the signed wallet module manifest
//! ("pre-install"), made by the accounts core.

use axum::Json;
use axum::extract::State;
use provisio_accounts::wallet_module as manifest;
use provisio_accounts::wire::WalletModule;

use crate::{ApiError, AppState};

/// The manifest a fresh wallet SDK verifies before installing the module: module version,
/// the oldest SDK it runs on, endpoint paths and the service's public keys, signed (ES256,
/// `typ` `provisio-wallet-module+jws`) with the current signing key of the JWKS. No API key
/// is needed: nothing in it is secret, and its signature is what the SDK trusts.
#[utoipa::path(get, path = "/v1/wallet-module", tag = "wallet accounts",
    responses((status = 200, body = WalletModule)))]
pub(crate) async fn wallet_module(
    State(state): State<AppState>,
) -> Result<Json<WalletModule>, ApiError> {
    let key = state.keys.current_sig();
    Ok(Json(manifest(
        state.crypto.as_ref(),
        &key.key,
        &key.kid,
        &state.config.tsp_id,
        state.clock.now(),
        &state.accounts,
        state.keys.jwks(),
    )?))
}

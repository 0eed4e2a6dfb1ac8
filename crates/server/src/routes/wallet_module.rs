//! `GET /v1/wallet-module`: the signed wallet module manifest ("pre-install").

use axum::Json;
use axum::extract::State;
use provisio_accounts::wire::WalletModule;
use provisio_accounts::{Manifest, ModuleEndpoints, sign_manifest};

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
    let manifest = Manifest {
        iss: state.config.tsp_id.clone(),
        iat: state.clock.now(),
        module_version: state.accounts.module_version.clone(),
        min_sdk_version: state.accounts.min_sdk_version.clone(),
        endpoints: ModuleEndpoints {
            wallet_accounts: "/v1/wallet-accounts".into(),
            push_provisioning: "/v1/push-provisioning".into(),
            jwks: "/v1/keys/jwks.json".into(),
        },
        keys: state.keys.jwks(),
    };
    let key = state.keys.current_sig();
    let manifest = sign_manifest(state.crypto.as_ref(), &key.key, &key.kid, &manifest)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(WalletModule { manifest }))
}

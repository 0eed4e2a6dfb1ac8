//! The join of activation and provisioning (docs/protocol.md §8.10): for a wallet registered
//! with `wallet_accounts: "hosted"`, push provisioning and every token operation for a wallet
//! user need that user's account ACTIVE and on the same device; otherwise 403
//! `account_not_active`. A push also names the device's binding key, and it must be the key
//! registered with the account's device; otherwise 403 `device_key_mismatch` (US 10,243,958:
//! the device identifier binds the access data to the device). Wallets that manage their own
//! accounts (`external`) pass.

use provisio_crypto::EcPublicKey;
use provisio_store::Principal;
use provisio_tsp::gate;
use provisio_types::DeviceId;

use crate::routes::push::hosted_account;
use crate::{ApiError, AppState};

/// Passes, or refuses with 403 `account_not_active` saying why, or `device_key_mismatch` when
/// `binding_key` (a push's `device.binding_jwk`) is not the account device's key. `caller` is
/// the token requestor acting for the user (its account mode came with its API key's lookup).
pub(crate) async fn require_active_account(
    state: &AppState,
    caller: &Principal,
    wallet_user_id: &str,
    device_id: &str,
    binding_key: Option<&EcPublicKey>,
) -> Result<(), ApiError> {
    if !caller.hosted_accounts {
        return Ok(());
    }
    let device_id = DeviceId::parse(device_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    let account = state
        .store
        .live_account(&caller.id, wallet_user_id)
        .await?
        .map(hosted_account)
        .transpose()?;
    Ok(gate(
        account.as_ref(),
        &device_id,
        state.clock.now(),
        binding_key,
    )?)
}

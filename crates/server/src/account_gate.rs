//! The join of activation and provisioning (docs/protocol.md §8.10): for a wallet registered
//! with `wallet_accounts: "hosted"`, push provisioning and every token operation for a wallet
//! user need that user's account ACTIVE and on the same device; otherwise 403
//! `account_not_active`. A push also names the device's binding key, and it must be the key
//! registered with the account's device; otherwise 403 `device_key_mismatch` (US 10,243,958:
//! the device identifier binds the access data to the device). Wallets that manage their own
//! accounts (`external`) pass.

use provisio_accounts::AccountState;
use provisio_crypto::EcPublicKey;
use provisio_store::Principal;
use provisio_types::Code;

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
    let refuse = |why: String| {
        ApiError::new(
            Code::AccountNotActive,
            format!("the wallet user's account {why}; activate it before provisioning"),
        )
    };
    let Some(account) = state.store.live_account(&caller.id, wallet_user_id).await? else {
        return Err(refuse("does not exist".into()));
    };
    match account.state {
        AccountState::Active if account.device_id == device_id => match binding_key {
            Some(key) if registered_key(&account.binding_jwk)? != *key => Err(ApiError::new(
                Code::DeviceKeyMismatch,
                "device.binding_jwk is not the binding key registered with the wallet account's device",
            )),
            _ => Ok(()),
        },
        AccountState::Active => Err(refuse("is on another device".into())),
        AccountState::PendingActivation if state.clock.now() >= account.expires_at => {
            Err(refuse("has expired".into()))
        }
        other => Err(refuse(format!("is {other}"))),
    }
}

/// The account's stored binding key; it was parsed when the account was created.
fn registered_key(jwk: &str) -> Result<EcPublicKey, ApiError> {
    serde_json::from_str::<provisio_jose::Jwk>(jwk)
        .map_err(|e| ApiError::internal(&e))?
        .public_key()
        .map_err(|e| ApiError::internal(&e))
}

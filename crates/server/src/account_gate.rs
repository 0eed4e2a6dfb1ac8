//! The join of activation and provisioning (docs/protocol.md §8.10): for a wallet registered
//! with `wallet_accounts: "hosted"`, push provisioning and every token operation for a wallet
//! user need that user's account ACTIVE and on the same device; otherwise 403
//! `account_not_active`. Wallets that manage their own accounts (`external`) pass.

use provisio_accounts::AccountState;
use provisio_store::Principal;
use provisio_types::Code;

use crate::{ApiError, AppState};

/// Passes, or refuses with 403 `account_not_active` saying why. `caller` is the token
/// requestor acting for the user (its account mode came with its API key's lookup).
pub(crate) async fn require_active_account(
    state: &AppState,
    caller: &Principal,
    wallet_user_id: &str,
    device_id: &str,
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
        AccountState::Active if account.device_id == device_id => Ok(()),
        AccountState::Active => Err(refuse("is on another device".into())),
        AccountState::PendingActivation if state.clock.now() >= account.expires_at => {
            Err(refuse("has expired".into()))
        }
        other => Err(refuse(format!("is {other}"))),
    }
}

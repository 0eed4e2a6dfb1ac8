//! The token service's vault as the accounts core seals and hashes with
//! ([`provisio_accounts::Vault`]); what is sealed how is the core's
//! ([`provisio_accounts::AtRest`]), the keys are the service's.

use provisio_accounts::{AccountContext, AtRest, Vault};
use provisio_crypto::{CryptoError, CryptoProvider, SecretBytes};
use provisio_tsp::{Sealed, VaultKeys};

use crate::AppState;

/// The service's vault keys, lent to the accounts core for one request.
pub(crate) struct ServiceVault<'a>(&'a VaultKeys);

impl<'a> ServiceVault<'a> {
    /// The vault of `state`'s keys.
    pub(crate) fn of(state: &'a AppState) -> Self {
        Self(state.keys.vault())
    }
}

impl Vault for ServiceVault<'_> {
    fn seal(
        &self,
        crypto: &dyn CryptoProvider,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.0.seal(crypto, plaintext, aad).map(|s| s.to_bytes())
    }

    fn open(
        &self,
        crypto: &dyn CryptoProvider,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let sealed = Sealed::from_bytes(sealed).ok_or(CryptoError::InvalidLength)?;
        self.0.open(crypto, &sealed, aad)
    }

    fn lookup_hash(&self, crypto: &dyn CryptoProvider, domain: &str, value: &str) -> [u8; 32] {
        self.0.lookup_hash(crypto, domain, value)
    }
}

/// What an account request's core call is given: the vault, the crypto provider, the
/// `[accounts]` settings and the time, read once.
pub(crate) fn context<'a>(state: &'a AppState, vault: &'a ServiceVault<'a>) -> AccountContext<'a> {
    AccountContext {
        at_rest: AtRest {
            crypto: state.crypto.as_ref(),
            vault,
        },
        config: &state.accounts,
        now: state.clock.now(),
    }
}

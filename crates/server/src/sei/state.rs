//! What the SEI-TSM's handlers share.

use std::sync::Arc;

use provisio_crypto::{AwsLcProvider, SecretBytes};
use provisio_gp::scp03::StaticKeys;
use provisio_store::TsmStore;
use provisio_tsm::AdminSession;

use crate::{ApiError, Clock};

/// The SEI-TSM's state.
#[derive(Clone)]
pub struct SeiState {
    pub(crate) store: Arc<dyn TsmStore>,
    pub(crate) crypto: Arc<AwsLcProvider>,
    master: Arc<SecretBytes>,
    pub(crate) admin_hash: [u8; 32],
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sessions: Arc<crate::tsm_sessions::Sessions<LiveSession>>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

/// A running admin session and what it serves.
pub(crate) struct LiveSession {
    pub(crate) sp_id: String,
    pub(crate) request_id: String,
    pub(crate) se_id: String,
    pub(crate) session: AdminSession,
}

impl SeiState {
    /// State over `store`; `master` (32 bytes) seals the stored keys; `admin_key` is the
    /// operator's API key.
    pub fn new(
        store: Arc<dyn TsmStore>,
        master: SecretBytes,
        admin_key: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let crypto = Arc::new(AwsLcProvider::new());
        let admin_hash = crate::hash_api_key(crypto.as_ref(), admin_key);
        Self {
            store,
            crypto,
            master: Arc::new(master),
            admin_hash,
            clock,
            sessions: Arc::new(crate::tsm_sessions::Sessions::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Seals a key set under the master key, bound to `aad`.
    pub(crate) fn seal_keys(&self, keys: &StaticKeys, aad: &str) -> Result<Vec<u8>, ApiError> {
        crate::key_seal::seal_keys(self.crypto.as_ref(), &self.master, keys, aad)
    }

    /// Opens [`SeiState::seal_keys`].
    pub(crate) fn open_keys(&self, sealed: &[u8], aad: &str) -> Result<StaticKeys, ApiError> {
        crate::key_seal::open_keys(self.crypto.as_ref(), &self.master, sealed, aad)
    }
}

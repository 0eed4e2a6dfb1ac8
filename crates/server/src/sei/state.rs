//! What the SEI-TSM's handlers share.

use std::sync::Arc;

use provisio_crypto::{AwsLcProvider, SecretBytes};
use provisio_store::TsmStore;
use provisio_tsm::TsmContext;
use provisio_tsm::sei::CarrierSession;

use crate::Clock;

/// The SEI-TSM's state.
#[derive(Clone)]
pub struct SeiState {
    pub(crate) store: Arc<dyn TsmStore>,
    pub(crate) crypto: Arc<AwsLcProvider>,
    master: Arc<SecretBytes>,
    pub(crate) admin_hash: [u8; 32],
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sessions: Arc<crate::tsm_sessions::Sessions<CarrierSession>>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
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

    /// What the carrier's core calls take: the crypto provider and the master key.
    pub(crate) fn tsm(&self) -> TsmContext<'_> {
        TsmContext::new(self.crypto.as_ref(), &self.master)
    }
}

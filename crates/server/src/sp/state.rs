//! What the SP-TSM's handlers and driver share.

use std::sync::Arc;

use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, SecretBytes};
use provisio_store::SpStore;
use provisio_tsm::SpContext;
use provisio_tsm::TsmContext;
use provisio_tsm::sp::JobSession;

use crate::serving::Outgoing;
use crate::{ApiError, Clock};

/// How the SP-TSM reaches the carrier's TSM.
#[derive(Debug, Clone)]
pub struct SeiLink {
    /// The SEI-TSM's base URL.
    pub base: String,
    /// This provider's API key there.
    pub api_key: String,
}

/// The SP-TSM's state.
#[derive(Clone)]
pub struct SpState {
    pub(crate) store: Arc<dyn SpStore>,
    pub(crate) crypto: Arc<AwsLcProvider>,
    master: Arc<SecretBytes>,
    pub(crate) admin_hash: [u8; 32],
    pub(crate) clock: Arc<dyn Clock>,
    /// The handover and credential key pair.
    pub(crate) key: Arc<EcKeyPair>,
    /// The AID prefix of this provider's domains and applets.
    pub(crate) aid_prefix: Vec<u8>,
    /// This service's own base URL, where OTA clients reach it.
    pub(crate) public_base: String,
    pub(crate) sei: SeiLink,
    pub(crate) http: reqwest::Client,
    pub(crate) sessions: Arc<crate::tsm_sessions::Sessions<JobSession>>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

const KEY_NAME: &str = "handover_key";

impl SpState {
    /// Calls the carrier TSM and the token service trusting `outgoing`'s CAs and presenting
    /// its certificate.
    pub fn with_outgoing(mut self, outgoing: &Outgoing) -> Self {
        self.http = tsm_http(outgoing);
        self
    }

    /// The same state reaching the carrier through `sei` (registration there needs this
    /// TSM's public key first, [`SpState::public_jwk`]).
    pub fn with_sei(mut self, sei: SeiLink) -> Self {
        self.sei = sei;
        self
    }

    /// This TSM's public key: for the carrier's registration (key handover) and for the token
    /// service (credentials).
    pub fn public_jwk(&self) -> provisio_jose::Jwk {
        provisio_jose::Jwk::from_public_key(self.key.public_key())
    }

    /// What the SP-TSM's core calls take: its crypto provider, master key, key pair, AID
    /// prefix and public base URL.
    pub(crate) fn core(&self) -> SpContext<'_> {
        SpContext {
            tsm: TsmContext::new(self.crypto.as_ref(), &self.master),
            key: &self.key,
            aid_prefix: &self.aid_prefix,
            public_base: &self.public_base,
        }
    }
}

impl SpState {
    /// Opens the state: loads (or, on first start, makes) the SP-TSM's key pair, sealed under
    /// `master` in the store.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        store: Arc<dyn SpStore>,
        master: SecretBytes,
        admin_key: &str,
        clock: Arc<dyn Clock>,
        aid_prefix: Vec<u8>,
        public_base: String,
        sei: SeiLink,
    ) -> Result<Self, ApiError> {
        let crypto = Arc::new(AwsLcProvider::new());
        let sealed = match store.sp_secret(KEY_NAME).await? {
            Some(s) => s,
            None => {
                let fresh = crypto
                    .generate_ec_key()
                    .map_err(|e| ApiError::internal(&e))?;
                let sealed = fresh
                    .seal(master.expose())
                    .map_err(|e| ApiError::internal(&e))?;
                store.sp_init_secret(KEY_NAME, &sealed, clock.now()).await?
            }
        };
        let key =
            EcKeyPair::unseal(master.expose(), &sealed).map_err(|e| ApiError::internal(&e))?;
        let admin_hash = crate::hash_api_key(crypto.as_ref(), admin_key);
        Ok(Self {
            store,
            crypto,
            master: Arc::new(master),
            admin_hash,
            clock,
            key: Arc::new(key),
            aid_prefix,
            public_base: public_base.trim_end_matches('/').to_owned(),
            sei,
            http: tsm_http(&Outgoing::default()),
            sessions: Arc::new(crate::tsm_sessions::Sessions::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }
}

/// The client for calls to the carrier TSM and the token service.
fn tsm_http(outgoing: &Outgoing) -> reqwest::Client {
    outgoing
        .client()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

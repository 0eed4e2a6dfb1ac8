//! What every handler shares.

use std::sync::Arc;

use provisio_accounts::AccountsConfig;
use provisio_crypto::AwsLcProvider;
use provisio_store::{Principal, Store};
use provisio_tsp::{TspConfig, TspKeys};

use crate::Clock;
use crate::metrics::Metrics;
use crate::read_cache::ReadCache;
use crate::serving::Outgoing;

/// Shared, immutable server state. Everything mutable lives in the store, so any number of
/// instances can serve the same database.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The crypto provider.
    pub crypto: Arc<AwsLcProvider>,
    /// The token service's keys, unsealed.
    pub keys: Arc<TspKeys>,
    /// Configuration.
    pub config: Arc<TspConfig>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Hosted wallet accounts and their verification.
    pub accounts: Arc<AccountsConfig>,
    /// Calls to issuers' and third parties' question sources.
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: Arc<Metrics>,
    /// Wakes the outbox deliverer when a message is committed.
    pub(crate) outbox_wake: Arc<tokio::sync::Notify>,
    /// This service's base URL as other parties reach it (issuers' TSMs report there).
    pub(crate) public_base: String,
    /// Who holds an API key, by its hash.
    pub(crate) principals: Arc<ReadCache<[u8; 32], Principal>>,
    /// An issuer's signing `kid` and key, by issuer id.
    pub(crate) issuer_keys: Arc<ReadCache<String, provisio_tsp::IssuerKey>>,
}

impl AppState {
    /// Assembles the state.
    pub fn new(
        store: Arc<dyn Store>,
        keys: TspKeys,
        config: TspConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            crypto: Arc::new(AwsLcProvider::new()),
            keys: Arc::new(keys),
            config: Arc::new(config),
            clock,
            accounts: Arc::new(AccountsConfig::default()),
            http: partner_http(&Outgoing::default()),
            metrics: Arc::new(Metrics::default()),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            public_base: String::new(),
            principals: Arc::default(),
            issuer_keys: Arc::default(),
        }
    }

    /// Calls partners trusting `outgoing`'s CAs and presenting its certificate.
    pub fn with_outgoing(mut self, outgoing: &Outgoing) -> Self {
        self.http = partner_http(outgoing);
        self
    }

    /// Sets the base URL other parties reach this service at (needed before any issuer's TSM
    /// is registered: its reports come back there).
    pub fn with_public_url(mut self, url: &str) -> Self {
        url.trim_end_matches('/').clone_into(&mut self.public_base);
        self
    }

    /// Replaces the account settings (checked by the caller with
    /// [`AccountsConfig::check`]).
    pub fn with_accounts(mut self, accounts: AccountsConfig) -> Self {
        self.accounts = Arc::new(accounts);
        self
    }
}

/// The client for calls to partners. Their URLs are checked when registered (https, or http
/// to loopback); a redirect could lead a call elsewhere, so none is followed.
fn partner_http(outgoing: &Outgoing) -> reqwest::Client {
    outgoing
        .client()
        .timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

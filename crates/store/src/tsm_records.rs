//! What the two TSM roles store: the carrier's ([`TsmStore`]) and the issuer's ([`SpStore`]),
//! each on a database of its own. Secrets arrive sealed; the store never sees them in the
//! clear.
//!
//! A handler asks each store one question (the facts: [`TsmStore::tsm_intake_facts`],
//! [`TsmStore::tsm_session_facts`], a job by its ticket) and commits its outcome in one
//! transaction ([`TsmStore::tsm_insert_request`], [`TsmStore::tsm_commit_session`],
//! [`SpStore::sp_commit_session`]), docs/architecture.md §3.

use async_trait::async_trait;

use crate::StoreError;

/// Who holds a TSM API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsmPrincipal {
    /// A service provider's SP-TSM, as registered.
    ServiceProvider(ProviderRecord),
    /// The OTA client of a secure element (its id).
    OtaClient(String),
}

/// A registered service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    /// Its id.
    pub sp_id: String,
    /// The AID prefix of its domains and applets.
    pub aid_prefix: Vec<u8>,
    /// Its encryption key (public JWK, JSON) for key handover packages.
    pub encryption_jwk: String,
}

/// A stored service request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmRequestRow {
    /// The provider.
    pub sp_id: String,
    /// Its request id.
    pub request_id: String,
    /// The element.
    pub se_id: String,
    /// The request, JSON.
    pub body: String,
    /// SHA-256 of the canonical request.
    pub fingerprint: Vec<u8>,
    /// The state, JSON.
    pub state: String,
    /// What the request needs, sealed (the initial keys).
    pub secret: Option<Vec<u8>>,
    /// The key handover package, once done.
    pub handover: Option<String>,
    /// Bumped by every change.
    pub version: i64,
}

/// A wake-up message for an OTA client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaMessageRow {
    /// Its id.
    pub message_id: String,
    /// The element whose OTA client fetches it.
    pub se_id: String,
    /// The message, JSON.
    pub body: String,
}

/// One APDU of an admin session, as relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApduLogRow {
    /// The session.
    pub session_id: String,
    /// The provider whose request it served.
    pub sp_id: String,
    /// The request.
    pub request_id: String,
    /// `C` for a command, `R` for a response.
    pub direction: char,
    /// The bytes as they crossed the relay.
    pub apdu: Vec<u8>,
}

/// What the carrier's store knew when a service request arrived
/// ([`TsmStore::tsm_intake_facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmIntakeFacts {
    /// Whether the element is registered.
    pub element_known: bool,
    /// The provider's request with the same id, if any.
    pub existing: Option<TsmRequestRow>,
    /// The provider's requests for the element, oldest first (when asked for).
    pub on_element: Vec<TsmRequestRow>,
}

/// What the carrier's store knew when an OTA client opened a session or relayed a response
/// ([`TsmStore::tsm_session_facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmSessionFacts {
    /// The request, if the provider has one by that id.
    pub request: Option<TsmRequestRow>,
    /// The caller's element's sealed ISD keys.
    pub isd_keys: Option<Vec<u8>>,
    /// The provider.
    pub provider: Option<ProviderRecord>,
}

/// The carrier TSM's persistence. Each write is one transaction.
#[async_trait]
pub trait TsmStore: Send + Sync {
    /// The holder of an API key.
    async fn tsm_principal(&self, key_hash: &[u8; 32]) -> Result<Option<TsmPrincipal>, StoreError>;
    /// Registers an element with its sealed ISD keys and its OTA client's key.
    async fn tsm_add_element(
        &self,
        se_id: &str,
        isd_keys: &[u8],
        ota_key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Registers a service provider with its API key.
    async fn tsm_add_provider(
        &self,
        provider: &ProviderRecord,
        api_key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Everything intake of a provider's request needs: whether the element is registered,
    /// the provider's request with that id, and (when `on_element`) its requests for the
    /// element.
    async fn tsm_intake_facts(
        &self,
        sp_id: &str,
        request_id: &str,
        se_id: &str,
        on_element: bool,
    ) -> Result<TsmIntakeFacts, StoreError>;
    /// A request.
    async fn tsm_request(
        &self,
        sp_id: &str,
        request_id: &str,
    ) -> Result<Option<TsmRequestRow>, StoreError>;
    /// Stores a new request and its wake-up message together. When the provider already has
    /// a request with that id (a concurrent twin came first), nothing is written and that
    /// request is returned.
    async fn tsm_insert_request(
        &self,
        row: &TsmRequestRow,
        message: &OtaMessageRow,
        now: i64,
    ) -> Result<Option<TsmRequestRow>, StoreError>;
    /// Everything an admin session's call needs: the provider's request, the sealed ISD keys
    /// of the caller's element `se_id`, and the provider.
    async fn tsm_session_facts(
        &self,
        sp_id: &str,
        request_id: &str,
        se_id: &str,
    ) -> Result<TsmSessionFacts, StoreError>;
    /// Commits an admin session's call in one transaction: the request's change (`update`:
    /// the request as read with its new state, and its handover package when one is given;
    /// written only if the stored version is still `update.version`, else
    /// [`crate::Conflict::Other`] and nothing at all is written), and the APDUs to append to
    /// the audit log.
    async fn tsm_commit_session(
        &self,
        update: Option<&TsmRequestRow>,
        log: &[ApduLogRow],
        now: i64,
    ) -> Result<(), StoreError>;
    /// An element's unacknowledged messages, oldest first.
    async fn ota_pending(&self, se_id: &str) -> Result<Vec<OtaMessageRow>, StoreError>;
    /// Acknowledges a message of `se_id`; false if there is none such pending.
    async fn ota_ack(&self, se_id: &str, message_id: &str, now: i64) -> Result<bool, StoreError>;
    /// Appends APDUs to the audit log.
    async fn tsm_log_apdus(&self, rows: &[ApduLogRow], now: i64) -> Result<(), StoreError>;
    /// The audit log of a request, in order.
    async fn tsm_apdus(&self, sp_id: &str, request_id: &str)
    -> Result<Vec<ApduLogRow>, StoreError>;
}

/// An SP-TSM provisioning job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpJobRow {
    /// Its id (chosen by the token service).
    pub job_id: String,
    /// The caller that created it.
    pub caller: String,
    /// The element.
    pub se_id: String,
    /// The issuer's security domain AID (hex).
    pub ssd: String,
    /// The payment applet AID (hex).
    pub applet: String,
    /// The token credential, sealed.
    pub credential: Vec<u8>,
    /// SHA-256 of the request that created it.
    pub fingerprint: Vec<u8>,
    /// The state, JSON.
    pub state: String,
    /// The domain's initial keys from the handover, sealed.
    pub initial_keys: Option<Vec<u8>>,
    /// The SP-TSM's own keys for the domain, sealed.
    pub own_keys: Option<Vec<u8>>,
    /// Where the job's end is reported, if the caller asked for a report.
    pub report_url: Option<String>,
    /// The report's bearer token, sealed.
    pub report_token: Option<Vec<u8>>,
    /// When the report was acknowledged.
    pub reported_at: Option<i64>,
    /// Bumped by every change.
    pub version: i64,
}

/// A change to a job, applied only if its version is unchanged.
#[derive(Debug, Clone, Default)]
pub struct SpJobChange {
    /// The new state, JSON.
    pub state: String,
    /// Sets the initial keys.
    pub initial_keys: Option<Vec<u8>>,
    /// Sets the own keys.
    pub own_keys: Option<Vec<u8>>,
    /// Sets the OTA ticket's hash.
    pub ticket_hash: Option<Vec<u8>>,
}

/// The issuer TSM's persistence. Each write is one transaction.
#[async_trait]
pub trait SpStore: Send + Sync {
    /// A sealed secret by name.
    async fn sp_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores a secret if none has the name; returns the one stored (first writer wins).
    async fn sp_init_secret(
        &self,
        name: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, StoreError>;
    /// Registers a caller's API key.
    async fn sp_add_caller(
        &self,
        name: &str,
        key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError>;
    /// The caller holding an API key.
    async fn sp_caller(&self, key_hash: &[u8; 32]) -> Result<Option<String>, StoreError>;
    /// Stores a new job; a used id is [`crate::Conflict::Other`].
    async fn sp_insert_job(&self, job: &SpJobRow, now: i64) -> Result<(), StoreError>;
    /// A job.
    async fn sp_job(&self, job_id: &str) -> Result<Option<SpJobRow>, StoreError>;
    /// The job an OTA ticket belongs to.
    async fn sp_job_by_ticket(
        &self,
        ticket_hash: &[u8; 32],
    ) -> Result<Option<SpJobRow>, StoreError>;
    /// Jobs not DONE or FAILED, and finished jobs whose report is not acknowledged yet, oldest
    /// first.
    async fn sp_open_jobs(&self) -> Result<Vec<SpJobRow>, StoreError>;
    /// Records that a finished job's report was acknowledged.
    async fn sp_job_reported(&self, job_id: &str, now: i64) -> Result<(), StoreError>;
    /// Commits a session's call in one transaction: `change` to the job (if given, applied
    /// only if its version is still `version`, else [`crate::Conflict::Other`] and nothing is
    /// written), and the APDUs to append to the audit log (the same append-only table as the
    /// carrier's).
    async fn sp_commit_session(
        &self,
        job_id: &str,
        version: i64,
        change: Option<&SpJobChange>,
        log: &[ApduLogRow],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Applies `change` if the job's version is still `version`; otherwise
    /// [`crate::Conflict::Other`].
    async fn sp_update_job(
        &self,
        job_id: &str,
        version: i64,
        change: &SpJobChange,
        now: i64,
    ) -> Result<(), StoreError>;
}

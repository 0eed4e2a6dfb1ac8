//! What the token service asks of its store, one trait per role of the data. [`Store`] is all
//! of them, for the server's state; a handler names only the roles it uses. Each method that
//! writes is one transaction: it commits everything it was given or nothing. Each method is one
//! crossing to the store's threads and back, whatever it reads or writes there.

use async_trait::async_trait;
use provisio_accounts::{KbaChange, Transition};
use provisio_risk::Signals;
use provisio_tsp::records::NewProvisioning;
use provisio_tsp::{
    IssuedOtp, OtpRecord, OutboxMessage, Script, StepUpChange, StepUpState, StoredKey, TsmHandoff,
};

use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, EnrolmentRecord,
    IdempotencyRecord, IssuerRecord, KbaSourceRecord, ListKind, ListName, NewAccount, Principal,
    PushFacts, PushFactsQuery, QuestionRecord, ScriptRecord, SignalQuery, SpTsmRecord, StoreError,
    TokenRecord, TokenRequestorRecord,
};

/// The token service's own keys and the operator's key.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Succeeds once the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Every stored key of the token service.
    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Stores `keys` as the initial key set unless one exists (another instance may have
    /// made it first), and returns the key set that is stored.
    async fn init_keys(&self, keys: &[StoredKey]) -> Result<Vec<StoredKey>, StoreError>;

    /// Registers an admin API key (its hash) unless it is registered already.
    async fn ensure_admin_key(&self, key_hash: &[u8; 32], now: i64) -> Result<(), StoreError>;
}

/// Participants: who holds which API key, issuers, token requestors, their settings, and the
/// idempotent answers of their requests.
#[async_trait]
pub trait ParticipantStore: Send + Sync + 'static {
    /// Who holds the API key with this hash.
    async fn principal(&self, key_hash: &[u8; 32]) -> Result<Option<Principal>, StoreError>;

    /// Registers an issuer with its API key hash, and the idempotent answer if any.
    async fn create_issuer(
        &self,
        issuer: &IssuerRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// An issuer by id.
    async fn issuer(&self, issuer_id: &str) -> Result<Option<IssuerRecord>, StoreError>;

    /// Registers a token requestor with its API key hash, and the idempotent answer if any.
    async fn create_token_requestor(
        &self,
        requestor: &TokenRequestorRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// The stored answer for an idempotency key of a principal.
    async fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Adds an allow or block list entry (idempotent).
    async fn add_list_entry(
        &self,
        list: ListName,
        kind: ListKind,
        value: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Registers (or replaces) an issuer's TSM.
    async fn set_sp_tsm(&self, tsm: &SpTsmRecord, now: i64) -> Result<(), StoreError>;

    /// An issuer's TSM, if it has one.
    async fn sp_tsm(&self, issuer_id: &str) -> Result<Option<SpTsmRecord>, StoreError>;

    /// Sets where an issuer's questions come from.
    async fn set_kba_source(
        &self,
        issuer_id: &str,
        source: &KbaSourceRecord,
        now: i64,
    ) -> Result<(), StoreError>;

    /// An issuer's question source (none: the bank).
    async fn kba_source(&self, issuer_id: &str) -> Result<Option<KbaSourceRecord>, StoreError>;
}

/// Push provisionings and their tokens.
#[async_trait]
pub trait ProvisioningStore: Send + Sync + 'static {
    /// Everything the push core needs for one request, read in one go (docs/architecture.md
    /// §4): the idempotent answer, the issuer, the hosted account, the risk signals, the
    /// issuer's TSM.
    async fn load_push_facts(&self, q: &PushFactsQuery) -> Result<PushFacts, StoreError>;

    /// Commits a processed push request, its token and the idempotent answer, atomically.
    /// A reused session id, `jti`, token PAN or idempotency key is a
    /// [`StoreError::Conflict`] and nothing is written.
    async fn commit_provisioning(
        &self,
        provisioning: &NewProvisioning,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// Loads many already-processed provisionings at once (a vault moved from another system,
    /// or `provisio bench push --preload`): one transaction, so a conflict anywhere writes
    /// nothing and is returned as that [`StoreError::Conflict`].
    async fn import_provisionings(&self, batch: &[NewProvisioning]) -> Result<(), StoreError>;

    /// A token by reference id.
    async fn token(&self, token_ref_id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// How many tokens the vault holds.
    async fn count_tokens(&self) -> Result<u64, StoreError>;

    /// How many tokens exist for a funding PAN (by its lookup hash).
    async fn count_tokens_by_pan_hash(&self, pan_hash: &[u8; 32]) -> Result<u64, StoreError>;

    /// The service's risk signals for a request (everything but `trusted_push`).
    async fn risk_signals(&self, q: &SignalQuery) -> Result<Signals, StoreError>;
}

/// Step-up by one-time code.
#[async_trait]
pub trait StepUpStore: Send + Sync + 'static {
    /// The step-up of a provisioning, with its methods.
    async fn step_up(&self, provisioning_id: &str) -> Result<Option<StepUpState>, StoreError>;

    /// A sent code.
    async fn otp(&self, otp_id: &str) -> Result<Option<OtpRecord>, StoreError>;

    /// Stores a sent code and its outbox message, if the step-up is still at the version the
    /// code was issued from ([`crate::Conflict::StepUpVersion`] otherwise).
    async fn commit_otp_issue(&self, issued: &IssuedOtp) -> Result<(), StoreError>;

    /// Applies a verification's change if the step-up is still at its version. When it passed,
    /// the token becomes `ACTIVE` and `script` is recorded (with the issuer TSM's job in the
    /// outbox, for a secure element), in the same transaction.
    async fn commit_step_up_change(
        &self,
        change: &StepUpChange,
        token_ref_id: &str,
        script: Option<&Script>,
        handoff: Option<&TsmHandoff>,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// Installation scripts and their completion.
#[async_trait]
pub trait ScriptStore: Send + Sync + 'static {
    /// The script sent for a provisioning, with its owner.
    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError>;

    /// Marks a script complete and its token payment-ready, once.
    async fn complete_script(&self, provisioning_id: &str, now: i64) -> Result<(), StoreError>;

    /// Records that the TSM could not install a script's credential, once, and only if it was
    /// not completed ([`crate::Conflict::ScriptCompleted`] otherwise).
    async fn fail_script(
        &self,
        provisioning_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// The durable outbox of messages to deliver (codes, TSM jobs).
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Claims up to `limit` undelivered messages due at `now` for `lease_s` seconds.
    async fn claim_outbox(
        &self,
        now: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records a delivery.
    async fn outbox_delivered(&self, message_id: &str, now: i64) -> Result<(), StoreError>;

    /// Records a failed delivery; the message is tried again from `retry_at`.
    async fn outbox_failed(
        &self,
        message_id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;
}

/// Hosted wallet accounts and their knowledge-based verification.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// What the security level of a new account is decided from.
    async fn account_facts(&self, q: &AccountFactsQuery) -> Result<AccountFacts, StoreError>;

    /// Creates an account in `PENDING_ACTIVATION` with its first audit record and the
    /// idempotent answer. A wallet user with an account that is not expired is
    /// [`crate::Conflict::WalletAccount`].
    async fn create_account(
        &self,
        account: &NewAccount,
        created: &Transition,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// An account with its open attempt.
    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// The wallet user's account that is not expired, if any.
    async fn live_account(
        &self,
        token_requestor_id: &str,
        wallet_user_id: &str,
    ) -> Result<Option<AccountGate>, StoreError>;

    /// Applies a verification change and its audit record if the account is still at the
    /// change's version ([`crate::Conflict::AccountVersion`] otherwise). A question asked of
    /// the account before is [`crate::Conflict::QuestionRepeated`]; nothing is written then.
    async fn commit_kba(&self, change: &KbaChange) -> Result<(), StoreError>;

    /// Ids of every question drawn for an account.
    async fn asked_questions(&self, account_id: &str) -> Result<Vec<String>, StoreError>;

    /// A question drawn for an account.
    async fn served_question(
        &self,
        account_id: &str,
        question_id: &str,
    ) -> Result<Option<QuestionRecord>, StoreError>;

    /// The bank's questions for a customer that were never drawn for the account.
    async fn bank_questions(
        &self,
        issuer_id: &str,
        customer_ref: &str,
        account_id: &str,
    ) -> Result<Vec<QuestionRecord>, StoreError>;

    /// Stores a customer's enrolment and replaces their bank questions.
    async fn load_enrolment(
        &self,
        enrolment: &EnrolmentRecord,
        questions: &[QuestionRecord],
    ) -> Result<(), StoreError>;

    /// An account's audit trail, oldest first.
    async fn account_events(&self, account_id: &str) -> Result<Vec<Transition>, StoreError>;
}

/// Everything the token service stores: every role above.
pub trait Store:
    KeyStore
    + ParticipantStore
    + ProvisioningStore
    + StepUpStore
    + ScriptStore
    + OutboxStore
    + AccountStore
{
}

impl<T> Store for T where
    T: KeyStore
        + ParticipantStore
        + ProvisioningStore
        + StepUpStore
        + ScriptStore
        + OutboxStore
        + AccountStore
{
}

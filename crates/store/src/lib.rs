//! Persistence for Provisio.
//!
//! The role traits ([`KeyStore`], [`ParticipantStore`], [`ProvisioningStore`], ...; [`Store`]
//! is all of them) are everything the token service needs from a database, and [`TsmStore`]
//! and [`SpStore`] the TSM roles'; [`SqlStore`] implements them on SQLite (the embedded
//! default) and PostgreSQL. Each method that writes is one transaction: it commits everything it was
//! given or nothing. Rules that must hold across concurrent requests and server instances
//! (one-time session ids and `jti`s, unique token PANs, idempotency keys) are unique
//! constraints, reported as [`StoreError::Conflict`] naming which one.
//!
//! The store never sees a secret in plaintext: PANs, token PANs and keys arrive sealed, API
//! keys arrive hashed.

mod account_records;
mod db;
mod error;
mod records;
mod roles;
mod sql_store;
mod step_up_records;
mod tsm_records;
mod writer;

pub use account_records::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, EnrolmentRecord, KbaSourceRecord,
    NewAccount, QuestionRecord,
};
pub use db::conn::Backend;
pub use db::migrate::SCHEMA_VERSION;
pub use error::{Conflict, StoreError};
pub use records::{
    CardQuery, Decisioning, IdempotencyRecord, IssuerRecord, ListKind, ListName, NetworkRecord,
    Principal, PushFacts, PushFactsQuery, Role, ScriptRecord, SignalQuery, SpTsmRecord,
    TokenRecord, TokenRequestorRecord,
};
pub use roles::{
    AccountStore, Decide, Decided, KeyStore, OutboxStore, ParticipantStore, PaymentStore,
    ProvisioningStore, ScriptStore, StepUpStore, Store, TokenStore,
};
pub use sql_store::SqlStore;
pub use step_up_records::{ScriptFacts, ScriptFactsQuery, StepUpFacts, StepUpFactsQuery};
pub use tsm_records::{
    ApduLogRow, OtaMessageRow, ProviderRecord, SpJobChange, SpJobRow, SpStore, TsmIntakeFacts,
    TsmPrincipal, TsmRequestRow, TsmSessionFacts, TsmStore,
};

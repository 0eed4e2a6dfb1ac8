//! Hosted wallet accounts (US 10,699,267), sans-IO.
//!
//! For wallets whose mobile payment accounts Provisio hosts (`wallet_accounts: "hosted"`),
//! a phone goes from "wallet just installed" to "may receive cards" like this:
//!
//! ```text
//!  GET /v1/wallet-module ─► wallet_module (signed) ─► SDK: verify_manifest (pinned keys, no downgrade)
//!  POST /v1/wallet-accounts ─► CreateRequest::create (LevelRules) ─► PENDING_ACTIVATION (one-time)
//!  POST …/kba/question, …/kba/answer ─► KbaFacts ─► AccountProgress (NIST SP 800-63A 5.3.2)
//!      ─► ACTIVE (authenticated on the device) │ LOCKED │ (opt-out ─► issuer verifies ─► ACTIVE)
//!  pending too long ─► EXPIRED
//! ```
//!
//! Nothing here performs I/O or reads a clock (docs/architecture.md §4): the server loads an
//! account's facts in one store call, calls the core once with `now`, the crypto provider and
//! the token service's [`Vault`], and commits the returned [`KbaChange`] (or [`Creation`],
//! [`EnrolmentLoad`], [`SourceSetting`]) in one transaction, the change under the account's
//! version together with its [`Transition`] in the append-only audit table. When the
//! issuer's question source is an HTTP service, the core says what to ask it
//! ([`Step::AskSource`]) and decides with its reply; the server only carries the call.

mod account;
mod at_rest;
mod bank;
mod config;
mod context;
mod creation;
mod enrolment;
mod error;
mod kba;
mod level;
mod manifest;
mod question;
mod records;
mod source;
mod state;
mod step;
pub mod wire;

pub use account::{AccountRecord, Decided};
pub use at_rest::{AtRest, Credential, IdentityHashes, Vault};
pub use bank::{BankQuestion, Fact, FactError, shuffle};
pub use config::{AccountsConfig, MAX_QUESTIONS, MIN_QUESTIONS};
pub use context::AccountContext;
pub use creation::{CreateRequest, Creation, CreationFacts};
pub use enrolment::{EnrolmentLoad, MAX_FACTS};
pub use error::KbaError;
pub use kba::{
    AccountProgress, AnswerCheck, AttemptOutcome, KbaChange, KbaStatus, Next, OpenAttempt, Outcome,
    ServedQuestion,
};
pub use level::{LevelDecision, LevelFacts, LevelRules, SecurityLevel};
pub use manifest::{
    MANIFEST_TYP, Manifest, ManifestError, ModuleEndpoints, check_installed_module, sign_manifest,
    verify_manifest, wallet_module,
};
pub use question::{AnswerOption, BadQuestion, Question, check_source_questions};
pub use records::{EnrolmentRecord, KbaSourceRecord, NewAccount, QuestionRecord};
pub use source::{SourceCall, SourceSetting};
pub use state::{AccountEvent, AccountState, Channel, IllegalTransition, Transition};
pub use step::{AskSource, DrawFacts, KbaFacts, Step};

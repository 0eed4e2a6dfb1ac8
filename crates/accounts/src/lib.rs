//! Hosted wallet accounts (US 10,699,267), sans-IO.
//!
//! For wallets whose mobile payment accounts Provisio hosts (`wallet_accounts: "hosted"`),
//! a phone goes from "wallet just installed" to "may receive cards" like this:
//!
//! ```text
//!  GET /v1/wallet-module ─► signed Manifest ─► SDK: verify_manifest (pinned keys, no downgrade)
//!  POST /v1/wallet-accounts ─► LevelRules::decide ─► PENDING_ACTIVATION (one-time)
//!  POST …/kba/question, …/kba/answer ─► AccountProgress (NIST SP 800-63A 5.3.2)
//!      ─► ACTIVE (authenticated on the device) │ LOCKED │ (opt-out ─► issuer verifies ─► ACTIVE)
//!  pending too long ─► EXPIRED
//! ```
//!
//! Nothing here performs I/O or reads a clock: the server loads an [`AccountProgress`],
//! calls it with `now`, fetches questions from the issuer's chosen source when told to, and
//! commits the returned [`KbaChange`] under the account's version together with its
//! [`Transition`] in the append-only audit table.

mod bank;
mod config;
mod kba;
mod level;
mod manifest;
mod question;
mod state;
pub mod wire;

pub use bank::{BankQuestion, Fact, FactError, shuffle};
pub use config::{AccountsConfig, MAX_QUESTIONS, MIN_QUESTIONS};
pub use kba::{
    AccountProgress, AnswerCheck, AttemptOutcome, KbaChange, KbaError, KbaStatus, Next,
    OpenAttempt, Outcome, PreparedQuestion, ServedQuestion,
};
pub use level::{LevelDecision, LevelFacts, LevelRules, SecurityLevel};
pub use manifest::{
    MANIFEST_TYP, Manifest, ManifestError, ModuleEndpoints, sign_manifest, verify_manifest,
};
pub use question::{AnswerOption, BadQuestion, Question, check_source_questions};
pub use state::{AccountEvent, AccountState, Channel, IllegalTransition, Transition};

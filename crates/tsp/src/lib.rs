//! The token service core: push provisioning (US 10,243,958), sans-IO.
//!
//! Nothing here performs I/O or reads a clock. The server loads what a step needs, calls
//! the core with `now` and a [`provisio_crypto::CryptoProvider`], and commits what the core
//! returns in one transaction. The push flow is a chain of states, each consuming the
//! previous one, so a step cannot be skipped:
//!
//! ```text
//!  encrypted_payload ──open()──► Opened ──verify(issuer key)──► Verified
//!     ──accept(caller, outer request, now)──► Accepted ──mint(risk decision)──► Minted
//!                                                       (records + the 200 answer)
//! ```
//!
//! A step-up decision continues in [`StepUpState`] (codes issued and verified, the changes
//! committed under a version check); an approval, or a passed step-up, carries the
//! [`Script`] the device runs and reports.
//!
//! One-time use of the session id and `jti` is not checked here but by the store's unique
//! constraints when the [`records::NewProvisioning`] is committed, so it holds across
//! concurrent requests and server instances (docs/architecture.md §3).

mod app_activation;
mod call_center;
mod config;
mod contact;
mod decisioning;
mod error;
mod events;
mod handoff;
mod ids;
mod keyring;
mod lifecycle;
mod mint;
mod payment;
pub mod payment_wire;
mod process;
mod push;
pub mod records;
mod script;
mod script_format;
mod step_up_process;
mod stepup;
pub mod token_records;
pub mod token_wire;
mod tokens;
mod vault;
mod wallet_request;
pub mod wallet_wire;
pub mod wire;

pub use app_activation::AppActivation;
pub use call_center::{CallCenterActivation, CallCenterCollect};
pub use config::{TokenBin, TspConfig};
pub use contact::Contact;
pub use decisioning::{
    Asked, DECISION_TYP, DecisioningConfig, IssuerAnswer, decision_request, read_answer,
};
pub use error::PushError;
pub use events::{EVENT_CHANNEL, EventConfig, EventDelivery, Recipient, TokenEvent, retry_delay};
pub use handoff::{
    MAX_AID_PREFIX, SP_TSM_CHANNEL, SeTarget, SpTsmDelivery, SpTsmTarget, TsmHandoff,
    open_sp_tsm_delivery, report_token_hash, token_aids,
};
pub use ids::{ordered_id, random_id};
pub use keyring::{KeyKind, NamedKey, StoredKey, TspKeys, jwk_thumbprint};
pub use lifecycle::{Action, Actor, Change, EventType, LifecycleError, Reason, Standing};
pub use mint::{
    CRYPTOGRAM_ALG, MintInput, Minted, Released, StoredToken, mint, release_access_data,
};
pub use payment::{
    Authorization, AuthorizeInput, Authorized, NewAuthorization, PayingToken, PaymentConfig,
    PaymentError, Recorded, authorize,
};
pub use process::{
    CardFacts, HostedAccount, IssuerKey, Opening, PushContext, PushFacts, PushRequest, gate,
};
pub use push::{AcceptContext, Accepted, Opened, Verified, open};
pub use script::{
    MAX_REASON, ReportedScript, ScriptEnd, ScriptError, ScriptFacts, ScriptOutcome, ScriptReport,
    SentScript, TsmReport, TsmReported, installation_of,
};
pub use script_format::{
    SCRIPT_VERSION, Script, ScriptStep, ScriptTarget, StepOp, StepReport, StepResult,
};
pub use step_up_process::{
    CODE_SENDER, CheckedOtp, OtpSend, OtpVerify, SentOtp, StepUpContext, StepUpFacts, WalletCaller,
};
pub use stepup::{
    Activation, IssuedOtp, MethodRecord, MethodType, Notification, OtpRecord, OutboxMessage, Proof,
    StepUpChange, StepUpConfig, StepUpError, StepUpState, StepUpStatus, Verification,
    issuer_method, offer_methods, open_notification,
};
pub use tokens::{
    Ask, ChangeContext, Parties, Reissue, TokenCaller, TokenError, account_ref, decide, events,
    ordering_key, parse_reason,
};
pub use vault::{Sealed, VaultKeys};
pub use wallet_request::{EnteredCard, WalletRequest};

//! Risk decisions for provisioning (US 10,140,615), sans-IO.
//!
//! The token service gathers its [`Signals`] from its store; the wallet sends its own level
//! ([`WalletInput`]), possibly marked non-override. A [`Policy`] (TOML, checked whole at load)
//! turns the signals into the service's level, and the merge applies the non-override rule:
//!
//! ```text
//!  Signals ──► policy rules (weights, floors) ──► service level ─┐
//!  wallet level, non_override, or missing/unassessable ──────────┼─► merge ─► final level
//!  trusted issuer-app path (credit unless non_override) ─────────┘      │
//!                                            bands ◄───────────────────┘
//!                              APPROVE  |  STEP_UP  |  DECLINE
//!              the way in: a trusted push approves the step-up band; on the wallet
//!              path the issuer's decisioning may decline or require authentication
//! ```
//!
//! [`evaluate`] is a pure function: the same policy and inputs always give the same
//! [`RiskDecision`], which records both levels, the final one, the merge rule, every fired
//! rule and the policy version.

mod assess;
mod decision;
mod policy;
mod signals;
mod way;

pub use assess::{FiredRule, ServiceAssessment, assess};
pub use decision::{MergeRule, Outcome, Reason, RiskDecision, Thresholds, decide, evaluate};
pub use policy::{DEFAULT_POLICY, Effect, MergeSettings, Policy, PolicyError, Profile, Rule};
pub use signals::{COUNT_CAP, Signal, SignalKind, Signals, WalletInput, WalletRisk};
pub use way::{IssuerDecision, IssuerVerdict, Way};

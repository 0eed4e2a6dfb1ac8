//! Risk levels and the merge of the wallet's level with the token service's own (US 10,140,615).
//!
//! This crate decides; it gathers nothing. The token service computes its own
//! [`ServiceAssessment`] from its signals (the policy engine comes with the risk issue), the
//! wallet sends its [`WalletRisk`], and [`decide`] merges them under the non-override rule:
//!
//! ```text
//!  wallet level ─┐
//!  non_override ─┼─► merge ─► final level ─► bands ─► APPROVE | STEP_UP | DECLINE
//!  service level ┘
//! ```

mod decision;

pub use decision::{
    decide, MergeRule, Outcome, Reason, RiskDecision, ServiceAssessment, Thresholds, WalletRisk,
};

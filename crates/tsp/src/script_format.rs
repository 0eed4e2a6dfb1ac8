//! The installation script's format (docs/protocol.md §7.1): what the token service sends and
//! the device (or the issuer's TSM) executes and reports, step by step.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The script format version this service writes and the SDK cores execute.
pub const SCRIPT_VERSION: u32 = 1;

/// Where the credential is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScriptTarget {
    /// Host card emulation: the wallet app's own keystore.
    Hce,
    /// The phone's secure element, through the TSMs (the steps name their service requests).
    SecureElement,
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepOp {
    /// Store the token (PAN, expiry, reference id) from the access data.
    StoreToken,
    /// Store the device-bound cryptogram key from the access data.
    StoreKeys,
    /// Make the card the wallet's default.
    SetDefault,
    /// The carrier's TSM creates the issuer's security domain (delivered over the air).
    TsmCreateSecurityDomain,
    /// The issuer's TSM personalises the payment applet (delivered over the air).
    TsmPersonalize,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptStep {
    /// 1-based position; steps run in this order.
    pub seq: u32,
    /// What to do.
    pub op: StepOp,
    /// The token the step is about.
    pub token_ref_id: String,
    /// For TSM steps: the service request that delivers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_request_id: Option<String>,
}

/// A provisioning script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Id, quoted in the completion report.
    pub script_id: String,
    /// Format version ([`SCRIPT_VERSION`]).
    pub version: u32,
    /// Where it installs.
    pub target: ScriptTarget,
    /// The steps, in order.
    pub steps: Vec<ScriptStep>,
}

/// How a step went on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepResult {
    /// Done.
    Ok,
    /// Failed.
    Failed,
}

/// One step's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    /// The step.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub seq: u32,
    /// How it went.
    pub result: StepResult,
}

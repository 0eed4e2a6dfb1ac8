//! The SEI-TSM's HTTP messages (docs/protocol.md §11 and §12): what the server, the SP-TSM's
//! client and the phone's OTA client share.

use provisio_jose::Jwk;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::RequestState;

/// An SCP03 key set in hex, as the carrier's operator registers it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HexKeys {
    /// Key version number, one byte of hex.
    pub kvn: String,
    /// K-ENC.
    pub enc: String,
    /// K-MAC.
    pub mac: String,
    /// K-DEK.
    pub dek: String,
}

/// `POST /v1/sei/admin/elements`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddElement {
    /// The element's id (1 to 64 characters).
    pub se_id: String,
    /// Its issuer security domain's key set; stored sealed.
    pub isd_keys: HexKeys,
}

/// The answer: the element's OTA client API key, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ElementAdded {
    /// The element.
    pub se_id: String,
    /// The OTA client's API key.
    pub ota_key: String,
}

/// `POST /v1/sei/admin/service-providers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddProvider {
    /// The provider's id.
    pub sp_id: String,
    /// Hex, 5 to 16 bytes: the AIDs its domains and applets must start with.
    pub aid_prefix: String,
    /// Its EC P-256 public key for key handover packages.
    #[schema(value_type = Object)]
    pub encryption_jwk: Jwk,
}

/// The answer: the provider's API key, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderAdded {
    /// The provider.
    pub sp_id: String,
    /// Its API key.
    pub api_key: String,
}

/// A service request's state, as its provider sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestStatus {
    /// The request.
    pub request_id: String,
    /// Where it stands.
    #[serde(flatten)]
    pub state: RequestState,
    /// For a DONE CREATE_DOMAIN: the domain's initial keys, a JWE to the provider's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<String>,
}

/// What an OTA client is told to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WakeUp {
    /// The provider whose request it is.
    pub sp_id: String,
    /// The request.
    pub request_id: String,
    /// `SEI` (open an admin session with the SEI-TSM) or the SP-TSM's URL (delegated
    /// personalisation).
    pub connect: String,
}

/// One message for an OTA client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Acknowledge with this id once acted on.
    pub message_id: String,
    /// The message.
    #[serde(flatten)]
    pub wake: WakeUp,
}

/// `GET /v1/sei/ota/messages?wait=S`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Messages {
    /// Unacknowledged messages, oldest first.
    pub messages: Vec<Message>,
}

/// `POST /v1/sei/ota/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenSession {
    /// The provider of the request.
    pub sp_id: String,
    /// The request.
    pub request_id: String,
}

/// The next command for the element, or the end of the session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionStep {
    /// The session.
    pub session_id: String,
    /// The command APDU to pass to the element (hex); absent when done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apdu: Option<String>,
    /// The plan is complete on the element.
    pub done: bool,
    /// When done: the TSM has another session for this request; open it.
    #[serde(default)]
    pub more: bool,
}

impl SessionStep {
    /// The next command (hex) for the element.
    pub fn command(session_id: String, apdu: &[u8]) -> Self {
        Self {
            session_id,
            apdu: Some(hex::encode_upper(apdu)),
            done: false,
            more: false,
        }
    }

    /// The end of the session; `more` when the TSM has another one for the same request.
    pub fn done(session_id: String, more: bool) -> Self {
        Self {
            session_id,
            apdu: None,
            done: true,
            more,
        }
    }
}

/// `POST /v1/sei/ota/sessions/{id}`: the element's response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Relayed {
    /// The response APDU (hex).
    pub apdu: String,
}

impl Relayed {
    /// The response APDU's bytes (400 `malformed_request` when it is not hex).
    pub fn response(&self) -> Result<Vec<u8>, crate::TsmError> {
        hex::decode(&self.apdu).map_err(|_| crate::TsmError::Malformed("apdu must be hex".into()))
    }
}

/// `POST /v1/sp/admin/callers`: a caller (the token service) of the SP-TSM.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddCaller {
    /// Its name.
    pub name: String,
}

/// The answer: the caller's API key, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallerAdded {
    /// The caller.
    pub name: String,
    /// Its API key.
    pub api_key: String,
}

/// `POST /v1/sp/jobs`: install a token on a phone's secure element.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpJob {
    /// Chosen by the caller; the idempotency key.
    pub job_id: String,
    /// The element.
    pub se_id: String,
    /// The issuer's security domain to create (hex AID).
    #[schema(value_type = String)]
    pub ssd: provisio_gp::Aid,
    /// The payment applet instance (hex AID).
    #[schema(value_type = String)]
    pub applet: provisio_gp::Aid,
    /// The token credential: a JWE to the SP-TSM's key ([`crate::seal_credential`]).
    pub credential: String,
    /// Where the SP-TSM reports the job's end (`POST`, a [`JobStatus`] in state `DONE` or
    /// `FAILED`), retrying until it is acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_url: Option<String>,
    /// The bearer token for that report: good for this job only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_token: Option<String>,
}

impl std::fmt::Debug for SpJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpJob")
            .field("job_id", &self.job_id)
            .field("se_id", &self.se_id)
            .field("ssd", &self.ssd)
            .field("applet", &self.applet)
            .field("report_url", &self.report_url)
            .finish_non_exhaustive()
    }
}

/// A job's state; also the SP-TSM's report to the job's `report_url` when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    /// The job.
    pub job_id: String,
    /// Where it stands.
    #[serde(flatten)]
    pub state: crate::JobState,
}

//! The SEI-TSM's intake of service requests from SP-TSMs (US 8,060,449 step 2): what a
//! carrier accepts from an issuer, and what it refuses.
//!
//! - A service provider acts only inside its own AID range (registered with the carrier):
//!   a domain or applet AID outside it is `outside_own_domain`.
//! - Delegated personalisation is accepted only for a domain this SEI-TSM has created for the
//!   same provider on the same element (`domain_not_ready`).
//! - A request id is the idempotency key: the same id with the same body is the same request
//!   (answered with its current state, applied once); with another body it is
//!   `request_conflict`.

use provisio_crypto::CryptoProvider;
use provisio_gp::Aid;
use serde::{Deserialize, Serialize};

use crate::{RequestState, TsmError};

/// A service provider (an issuer's SP-TSM) as the carrier registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProvider {
    /// Its id.
    pub sp_id: String,
    /// The AID prefix its domains and applets must start with (at least the 5-byte RID).
    pub aid_prefix: Vec<u8>,
}

/// What an SP-TSM asks of the SEI-TSM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestKind {
    /// Create the issuer's domain with the payment applet and initial keys.
    CreateDomain {
        /// The supplementary security domain (hex AID).
        #[schema(value_type = String)]
        ssd: Aid,
        /// The payment applet instance (hex AID).
        #[schema(value_type = String)]
        applet: Aid,
    },
    /// Wake the OTA client and send it to the SP-TSM for personalisation.
    DelegatePersonalization {
        /// The domain to personalise through (hex AID).
        #[schema(value_type = String)]
        ssd: Aid,
        /// Where the OTA client opens its session (the SP-TSM's admin endpoint).
        sp_endpoint: String,
    },
}

/// A service request as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceRequest {
    /// Chosen by the SP-TSM; unique per SP-TSM.
    pub request_id: String,
    /// The secure element.
    pub se_id: String,
    /// What to do.
    #[serde(flatten)]
    pub kind: RequestKind,
}

impl ServiceRequest {
    /// Whether intake needs to know the provider's other requests on the element: a
    /// delegation is accepted only for a domain created there (docs/protocol.md §11.4).
    pub fn needs_created_domain(&self) -> bool {
        matches!(self.kind, RequestKind::DelegatePersonalization { .. })
    }

    /// The stored form: the canonical JSON its fingerprint is taken of.
    pub fn encode(&self) -> String {
        // Strings and hex AIDs: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A stored service request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The provider that sent it.
    pub sp_id: String,
    /// The request.
    pub request: ServiceRequest,
    /// SHA-256 of the request's canonical JSON.
    pub fingerprint: [u8; 32],
    /// Where it stands.
    pub state: RequestState,
}

impl ServiceRecord {
    /// A request as the store keeps it: the provider, the body ([`ServiceRequest::encode`]),
    /// its fingerprint and its state ([`RequestState::encode`]).
    pub fn decode(
        sp_id: String,
        body: &str,
        fingerprint: &[u8],
        state: &str,
    ) -> Result<Self, TsmError> {
        Ok(Self {
            sp_id,
            request: serde_json::from_str(body).map_err(TsmError::internal)?,
            fingerprint: fingerprint
                .try_into()
                .map_err(|_| TsmError::internal("a stored fingerprint is not 32 bytes"))?,
            state: RequestState::decode(state)?,
        })
    }

    /// Whether this is a CREATE_DOMAIN of `ssd` that is DONE: the domain exists on the
    /// element for its provider.
    pub fn created(&self, ssd: &Aid) -> bool {
        self.state == RequestState::Done
            && matches!(&self.request.kind, RequestKind::CreateDomain { ssd: d, .. } if d == ssd)
    }
}

/// The outcome of intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// A new request: store it (and wake the element's OTA client) in one transaction.
    New(ServiceRecord),
    /// The same request again: answer with the stored one, do nothing else.
    Duplicate(ServiceRecord),
}

/// Checks a request from `sp`. `existing` is the stored request with the same id from the same
/// provider, if any; `domain_created` says whether a CREATE_DOMAIN of this provider for this
/// element and domain is DONE.
pub fn intake(
    crypto: &dyn CryptoProvider,
    sp: &ServiceProvider,
    request: ServiceRequest,
    existing: Option<ServiceRecord>,
    domain_created: bool,
) -> Result<Intake, TsmError> {
    let fingerprint = crypto.sha256(&[&serde_json::to_vec(&request).unwrap_or_default()]);
    if let Some(record) = existing {
        return if record.fingerprint == fingerprint && record.sp_id == sp.sp_id {
            Ok(Intake::Duplicate(record))
        } else {
            Err(TsmError::RequestConflict)
        };
    }
    let own = |aid: &Aid| -> Result<(), TsmError> {
        if sp.aid_prefix.len() >= 5 && aid.starts_with(&sp.aid_prefix) {
            Ok(())
        } else {
            Err(TsmError::OutsideOwnDomain(aid.to_string()))
        }
    };
    match &request.kind {
        RequestKind::CreateDomain { ssd, applet } => {
            own(ssd)?;
            own(applet)?;
        }
        RequestKind::DelegatePersonalization { ssd, .. } => {
            own(ssd)?;
            if !domain_created {
                return Err(TsmError::DomainNotReady);
            }
        }
    }
    Ok(Intake::New(ServiceRecord {
        sp_id: sp.sp_id.clone(),
        request,
        fingerprint,
        state: RequestState::Received,
    }))
}

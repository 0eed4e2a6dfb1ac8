//! What `provisio se inspect` shows: the registry, key versions with check values, counters,
//! and the payment credential masked. Never a key.

use serde::Serialize;

use crate::payment::CredentialView;
use crate::{AppKind, VirtualSe};

/// The element, for people.
#[derive(Debug, Serialize)]
pub struct SeView {
    /// Card life cycle.
    pub life_cycle: String,
    /// Issuer security domain AID.
    pub isd: String,
    /// Load files: AID, modules, domain.
    pub load_files: Vec<(String, Vec<String>, String)>,
    /// Applications, security domains first.
    pub applications: Vec<AppView>,
}

/// One application.
#[derive(Debug, Serialize)]
pub struct AppView {
    /// AID.
    pub aid: String,
    /// `security_domain`, `payment` or `inert`.
    pub kind: &'static str,
    /// Life cycle byte, hex.
    pub state: String,
    /// Privileges, hex.
    pub privileges: String,
    /// Associated security domain.
    pub domain: String,
    /// Security domains: key versions with the ENC/MAC/DEK check values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_sets: Vec<String>,
    /// Security domains: the sequence counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<u32>,
    /// Payment applets: the credential, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialView>,
}

impl VirtualSe {
    /// A view of the element without key material.
    pub fn view(&self) -> SeView {
        let mut applications: Vec<AppView> = self
            .apps
            .iter()
            .map(|a| {
                let (kind, key_sets, counter, credential) = match &a.kind {
                    AppKind::SecurityDomain(d) => (
                        "security_domain",
                        d.keys
                            .iter()
                            .map(|k| {
                                format!(
                                    "{:02X}: {} {} {} (AES-{})",
                                    k.kvn,
                                    hex::encode_upper(k.enc.check_value()),
                                    hex::encode_upper(k.mac.check_value()),
                                    hex::encode_upper(k.dek.check_value()),
                                    k.enc.len() * 8
                                )
                            })
                            .collect(),
                        Some(d.counter),
                        None,
                    ),
                    AppKind::Payment(p) => ("payment", vec![], None, p.view()),
                    AppKind::Inert => ("inert", vec![], None, None),
                };
                AppView {
                    aid: a.aid.to_string(),
                    kind,
                    state: format!("{:02X}", a.state),
                    privileges: hex::encode_upper(a.privileges.0),
                    domain: a.domain.to_string(),
                    key_sets,
                    counter,
                    credential,
                }
            })
            .collect();
        applications.sort_by_key(|a| a.kind != "security_domain");
        SeView {
            life_cycle: format!("{:?}", self.life_cycle),
            isd: self.isd.to_string(),
            load_files: self
                .load_files
                .iter()
                .map(|f| {
                    (
                        f.aid.to_string(),
                        f.modules.iter().map(ToString::to_string).collect(),
                        f.domain.to_string(),
                    )
                })
                .collect(),
            applications,
        }
    }
}

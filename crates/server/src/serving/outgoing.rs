//! TLS for this process's own calls to partners (the token service's to SP-TSMs, issuers and
//! wallets; an SP-TSM's to the carrier TSM and to the token service): extra trusted CAs, and
//! the certificate this process presents when a partner asks for one (mutual TLS).

use std::path::Path;

use super::{TlsError, TlsFiles};

/// What outgoing calls trust and present, besides the public web PKI.
#[derive(Clone, Default)]
pub struct Outgoing {
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("extra_roots", &self.roots.len())
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| super::tls::file_error(path, e))
}

impl Outgoing {
    /// Trusts the CAs in `trust_ca` (PEM) and presents `identity` (this server's own
    /// certificate and key; it needs the clientAuth purpose where a partner checks it).
    pub fn load(trust_ca: Option<&Path>, identity: Option<&TlsFiles>) -> Result<Self, TlsError> {
        let mut out = Self::default();
        if let Some(path) = trust_ca {
            out.roots = reqwest::Certificate::from_pem_bundle(&read(path)?)
                .map_err(|e| super::tls::file_error(path, e))?;
            if out.roots.is_empty() {
                return Err(super::tls::file_error(path, "no CERTIFICATE in the file"));
            }
        }
        if let Some(files) = identity {
            let mut pem = read(&files.cert)?;
            pem.push(b'\n');
            pem.extend(read(&files.key)?);
            out.identity = Some(
                reqwest::Identity::from_pem(&pem)
                    .map_err(|e| super::tls::file_error(&files.key, e))?,
            );
        }
        Ok(out)
    }

    /// A client builder with these roots and this identity.
    pub fn client(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder();
        for root in &self.roots {
            b = b.add_root_certificate(root.clone());
        }
        if let Some(identity) = &self.identity {
            b = b.identity(identity.clone());
        }
        b
    }
}

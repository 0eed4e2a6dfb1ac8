//! TLS with rustls (docs/operations.md §TLS): a certificate chain and key from PEM files,
//! reloaded on SIGHUP without dropping connections, and optionally client certificates
//! verified against a CA (mutual TLS for participants and the TSMs).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the server's TLS material lives.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// Client certificates must chain to one of these CAs (PEM), if set.
    pub client_ca: Option<PathBuf>,
}

/// Why TLS material could not be used; names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or holds no usable PEM object.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The material does not make a TLS configuration (e.g. the key does not match).
    #[error("TLS configuration: {0}")]
    Config(String),
}

pub(super) fn file_error(path: &Path, why: impl fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        why: why.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads a certificate chain and its key into a signing identity.
fn load_identity(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error(&files.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(&files.cert, e))?;
    if chain.is_empty() {
        return Err(file_error(&files.cert, "no CERTIFICATE in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| file_error(&files.key, e))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| file_error(&files.key, e))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| TlsError::Config(format!("the key does not match the certificate: {e}")))?;
    Ok(Arc::new(certified))
}

/// The server's identity, replaceable while serving.
#[derive(Debug)]
struct Identity {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Identity {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// A TLS acceptor whose certificate can be reloaded.
#[derive(Clone)]
pub struct Tls {
    identity: Arc<Identity>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.identity.files.cert)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the files; any problem is an error naming the file.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let identity = Arc::new(Identity {
            current: RwLock::new(load_identity(&files)?),
            files,
        });
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &identity.files.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_error(path, e))? {
                    roots
                        .add(cert.map_err(|e| file_error(path, e))?)
                        .map_err(|e| file_error(path, e))?;
                }
                if roots.is_empty() {
                    return Err(file_error(path, "no CERTIFICATE in the file"));
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(identity.clone());
        // HTTP/1.1 only: the limits of this layer are HTTP/1's (RFC 7301 for the name).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            identity,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads the certificate and key again; on any problem the current ones stay.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load_identity(&self.identity.files)?;
        *self
            .identity
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub(crate) fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }

    /// Reloads on every SIGHUP, for as long as the process runs.
    pub fn reload_on_sighup(&self) {
        let tls = self.clone();
        tokio::spawn(async move {
            let Ok(mut hangups) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                tracing::error!("cannot listen for SIGHUP: the certificate is not reloadable");
                return;
            };
            while hangups.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => {
                        tracing::info!(cert = %tls.identity.files.cert.display(), "TLS certificate reloaded")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "TLS certificate not reloaded; the current one stays")
                    }
                }
            }
        });
    }
}

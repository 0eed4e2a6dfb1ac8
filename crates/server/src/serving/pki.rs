//! A throwaway certificate authority for loopback: the demo and the tests run the three
//! servers over TLS (and the TSMs over mutual TLS) with certificates made at start.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::{TlsError, TlsFiles};

/// A CA whose certificate and issued certificates live in one directory.
pub struct LocalPki {
    dir: PathBuf,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
}

impl std::fmt::Debug for LocalPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(format!("{what}: {e}"))
}

impl LocalPki {
    /// A new CA; its certificate is written to `dir/ca.pem`.
    pub fn create(dir: &Path) -> Result<Self, TlsError> {
        std::fs::create_dir_all(dir).map_err(|e| super::tls::file_error(dir, e))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Provisio local CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(|e| failed("CA key", e))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| failed("CA certificate", e))?;
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).map_err(|e| super::tls::file_error(&ca, e))?;
        Ok(Self {
            dir: dir.to_owned(),
            ca_cert: cert,
            ca_key: key,
        })
    }

    /// The CA certificate (PEM file).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A certificate for `name` on loopback (127.0.0.1, ::1, localhost), good for serving
    /// and as a client certificate; written to `dir/<name>.pem` and `dir/<name>.key`.
    pub fn issue(&self, name: &str) -> Result<TlsFiles, TlsError> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(|e| failed("certificate names", e))?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(|e| failed("key", e))?;
        let cert = params
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .map_err(|e| failed("certificate", e))?;
        let files = TlsFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
            client_ca: None,
        };
        std::fs::write(&files.cert, cert.pem())
            .map_err(|e| super::tls::file_error(&files.cert, e))?;
        std::fs::write(&files.key, key.serialize_pem())
            .map_err(|e| super::tls::file_error(&files.key, e))?;
        Ok(files)
    }
}

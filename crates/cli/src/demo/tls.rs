//! The demo's TLS: a CA made at start (in the data directory), a certificate per server, TLS
//! on all three servers and mutual TLS on both TSMs, as docs/operations.md §4 describes for
//! production. Every client of the demo trusts the CA and presents the demo's client
//! certificate; each server presents its own certificate when it calls another.

use std::path::Path;

use anyhow::{Context, ensure};
use axum::Router;
use provisio_server::serving::{LocalPki, Outgoing, Serving, Tls, TlsFiles, serve};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The demo's certificate authority and the HTTP client its parties use.
pub(super) struct DemoTls {
    pki: LocalPki,
    /// Trusts the CA, presents the demo's client certificate.
    pub(super) http: reqwest::Client,
}

/// A server of the demo: its URL, what it serves with, and what its own calls use.
pub(super) struct Endpoint {
    pub(super) listener: TcpListener,
    pub(super) base: String,
    serving: Serving,
    pub(super) outgoing: Outgoing,
}

impl DemoTls {
    pub(super) fn create(dir: &Path) -> anyhow::Result<Self> {
        let pki = LocalPki::create(dir)?;
        let clients = issue(&pki, "demo-clients")?;
        let http = Outgoing::load(Some(&pki.ca()), Some(&clients))?
            .client()
            .build()
            .context("the demo's HTTP client")?;
        Ok(Self { pki, http })
    }

    /// A server called `name` on a loopback port; `mutual`: it requires client certificates.
    pub(super) async fn endpoint(&self, name: &str, mutual: bool) -> anyhow::Result<Endpoint> {
        let files = issue(&self.pki, name)?;
        let tls = Tls::load(TlsFiles {
            client_ca: mutual.then(|| self.pki.ca()),
            ..files.clone()
        })?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let serving = Serving {
            tls: Some(tls),
            ..Serving::default()
        };
        Ok(Endpoint {
            base: format!("{}://{}", serving.scheme(), listener.local_addr()?),
            listener,
            serving,
            outgoing: Outgoing::load(Some(&self.pki.ca()), Some(&files))?,
        })
    }

    /// Checks that a server requiring client certificates refuses a caller without one (the
    /// handshake fails, no HTTP answer).
    pub(super) async fn refuses_anonymous(&self, base: &str) -> anyhow::Result<()> {
        let anonymous = Outgoing::load(Some(&self.pki.ca()), None)?
            .client()
            .build()?;
        let refused = anonymous.get(format!("{base}/healthz")).send().await;
        ensure!(
            refused.is_err(),
            "{base} answered a caller without a client certificate"
        );
        let answered = self.http.get(format!("{base}/healthz")).send().await?;
        ensure!(
            answered.status().is_success(),
            "{base} refused the demo's certificate"
        );
        Ok(())
    }
}

impl Endpoint {
    /// Serves `app` here until the demo ends.
    pub(super) fn spawn(self, app: Router) -> JoinHandle<std::io::Result<()>> {
        tokio::spawn(serve(
            self.listener,
            app,
            self.serving,
            std::future::pending(),
        ))
    }
}

/// A certificate from the demo's CA; its private key goes into the secret scan's manifest
/// (`capture.rs`): it lives in its file and nowhere else.
fn issue(pki: &LocalPki, name: &str) -> anyhow::Result<TlsFiles> {
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject;
    let files = pki.issue(name)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).context("the demo's TLS key")?;
    super::capture::secret_bytes("tls_private_key", key.secret_der());
    Ok(files)
}

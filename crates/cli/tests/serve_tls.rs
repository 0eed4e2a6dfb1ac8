//! `provisio serve` and TLS (docs/operations.md §10): a non-loopback listener in clear is
//! refused unless a proxy is declared; with a certificate it serves HTTPS, and SIGHUP makes
//! it present a renewed certificate to new connections; with a client CA it serves only
//! callers holding a certificate of that CA.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use provisio_server::serving::{LocalPki, Outgoing, TlsFiles};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

const ADMIN_KEY: &str = "pvk_serve-tls-test-admin-key-0123456789abcdef";

fn provisio(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_provisio"));
    c.env("PROVISIO_ADMIN_KEY", ADMIN_KEY)
        .env(
            "PROVISIO_MASTER_KEY",
            "0123456789abcdef".repeat(2) + "fedcba9876543210fedcba9876543210",
        )
        .arg("serve")
        .arg("--data-dir")
        .arg(dir);
    c
}

#[test]
fn a_non_loopback_listener_in_clear_is_refused_unless_a_proxy_is_declared() {
    let dir = tempfile::tempdir().unwrap();
    let out = provisio(dir.path())
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without TLS") && err.contains("--behind-tls-proxy"),
        "{err}"
    );

    let mut proxied = Killed(
        provisio(dir.path())
            .args(["--listen", "0.0.0.0:0", "--behind-tls-proxy"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        proxied.0.try_wait().unwrap().is_none(),
        "it serves behind a declared proxy"
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn der(files: &TlsFiles) -> Vec<u8> {
    CertificateDer::from_pem_file(&files.cert).unwrap().to_vec()
}

async fn presented(client: &reqwest::Client, url: &str) -> Option<Vec<u8>> {
    let r = client.get(url).send().await.ok()?;
    assert_eq!(r.status(), 200);
    let info = r.extensions().get::<reqwest::tls::TlsInfo>()?;
    info.peer_certificate().map(<[u8]>::to_vec)
}

#[tokio::test]
async fn serves_https_and_reloads_the_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let pki = LocalPki::create(&dir.path().join("tls")).unwrap();
    let files = pki.issue("server").unwrap();
    let first = der(&files);
    let port = provisio_testkit::free_port();
    let server = Killed(
        provisio(&dir.path().join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--tls-cert")
            .arg(&files.cert)
            .arg("--tls-key")
            .arg(&files.key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = Outgoing::load(Some(&pki.ca()), None)
        .unwrap()
        .client()
        .tls_info(true)
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/healthz");
    let mut seen = None;
    for _ in 0..600 {
        seen = presented(&client, &url).await;
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen.as_deref(),
        Some(first.as_slice()),
        "the server did not come up on HTTPS"
    );

    let renewed = der(&pki.issue("server").unwrap());
    assert_ne!(renewed, first);
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut now = None;
    for _ in 0..300 {
        // A fresh client: a fresh connection, so a fresh handshake.
        let fresh = Outgoing::load(Some(&pki.ca()), None)
            .unwrap()
            .client()
            .tls_info(true)
            .build()
            .unwrap();
        now = presented(&fresh, &url).await;
        if now.as_deref() == Some(renewed.as_slice()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        now.as_deref(),
        Some(renewed.as_slice()),
        "SIGHUP did not reload the certificate"
    );
}

#[tokio::test]
async fn with_a_client_ca_only_callers_with_its_certificates_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let pki = LocalPki::create(&dir.path().join("tls")).unwrap();
    let files = pki.issue("carrier-tsm").unwrap();
    let port = provisio_testkit::free_port();
    let _server = Killed(
        provisio(&dir.path().join("data"))
            .args(["--role", "sei-tsm", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--tls-cert")
            .arg(&files.cert)
            .arg("--tls-key")
            .arg(&files.key)
            .arg("--tls-client-ca")
            .arg(pki.ca())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("https://127.0.0.1:{port}/healthz");
    let caller = pki.issue("bank-tsm").unwrap();
    let with_cert = Outgoing::load(Some(&pki.ca()), Some(&caller))
        .unwrap()
        .client()
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..600 {
        if let Ok(r) = with_cert.get(&url).send().await {
            assert_eq!(r.status(), 200);
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        up,
        "the server did not come up, or refused a certificate of its client CA"
    );
    let anonymous = Outgoing::load(Some(&pki.ca()), None)
        .unwrap()
        .client()
        .build()
        .unwrap();
    assert!(
        anonymous.get(&url).send().await.is_err(),
        "served a caller without a certificate"
    );
}

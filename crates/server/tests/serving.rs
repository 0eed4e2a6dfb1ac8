//! The HTTP layer on a real socket (docs/operations.md §3, §4; hardening issue 26): TLS and
//! mutual TLS, the certificate reloaded, half-open and idle connections closed, the
//! connection cap, failed authentication throttled per peer address.
//!
//! The limits here are one to a few seconds so the tests end quickly; what is asserted is
//! that the server closes or answers, never how fast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use provisio_server::serving::{HttpLimits, LocalPki, Outgoing, Serving, Tls, TlsFiles, serve};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Long enough for a loaded CI machine; a server that never closes fails at this bound.
const PATIENCE: Duration = Duration::from_secs(30);

async fn start(app: axum::Router, serving: Serving) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app, serving, std::future::pending()));
    addr
}

fn limits(header_s: u64, request_s: u64, idle_s: u64) -> HttpLimits {
    HttpLimits {
        header_read_timeout: Duration::from_secs(header_s),
        request_timeout: Duration::from_secs(request_s),
        idle_timeout: Duration::from_secs(idle_s),
        ..HttpLimits::default()
    }
}

/// Reads until the server closes the connection; what it sent before closing.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_head_that_never_ends_is_closed_without_an_answer() {
    let t = common::harness().await;
    let addr = start(
        t.app.clone(),
        Serving {
            limits: limits(1, 30, 60),
            ..Serving::default()
        },
    )
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /v1/push-provisioning HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let seen = until_closed(&mut s).await;
    assert!(!seen.contains("201"), "{seen}");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_408_and_closed() {
    let t = common::harness().await;
    let addr = start(
        t.app.clone(),
        Serving {
            limits: limits(10, 1, 60),
            ..Serving::default()
        },
    )
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/push-provisioning HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        t.wallet_key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let seen = until_closed(&mut s).await;
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
    assert!(seen.contains("\"code\":\"request_timeout\""), "{seen}");
    assert!(
        seen.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{seen}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let t = common::harness().await;
    let addr = start(
        t.app.clone(),
        Serving {
            limits: limits(120, 120, 1),
            ..Serving::default()
        },
    )
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = until_closed(&mut s).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert_eq!(
        seen.matches("HTTP/1.1").count(),
        1,
        "one answer, then closed: {seen}"
    );
}

#[tokio::test]
async fn connections_above_the_cap_wait_for_a_free_slot() {
    let t = common::harness().await;
    let serving = Serving {
        limits: HttpLimits {
            max_connections: 2,
            ..limits(30, 30, 60)
        },
        ..Serving::default()
    };
    let addr = start(t.app.clone(), serving).await;
    let held: Vec<TcpStream> = vec![
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    // The kernel completes the third handshake (listen backlog), but the server does not
    // take the connection while both slots are held.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "a third connection was served while two held the cap"
    );
    drop(held);
    let seen = until_closed(&mut third).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
}

fn client_from(local: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(local))
        .build()
        .unwrap()
}

#[tokio::test]
async fn failed_authentication_is_throttled_per_peer_address() {
    let t = common::harness().await;
    let serving = Serving {
        limits: HttpLimits {
            auth_failures_per_minute: 5,
            ..HttpLimits::default()
        },
        ..Serving::default()
    };
    let addr = start(t.app.clone(), serving).await;
    let url = format!("http://{addr}/v1/tokens/search");
    let guessing = client_from([127, 0, 0, 1]);
    let call = |client: reqwest::Client, key: String| {
        let url = url.clone();
        async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let status = r.status().as_u16();
            (status, retry, r.json::<Value>().await.unwrap())
        }
    };
    for i in 0..5 {
        let (status, _, body) = call(guessing.clone(), format!("pvk_wrong{i}")).await;
        assert_eq!(
            (status, common::code(&body)),
            (401, "unauthorized"),
            "guess {i}"
        );
    }
    let (status, retry, body) = call(guessing.clone(), "pvk_wrong".into()).await;
    assert_eq!(
        (status, common::code(&body)),
        (429, "too_many_failed_authentications")
    );
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The address is throttled whatever key it sends now, the right one too.
    let guessing_again = || client_from([127, 0, 0, 1]);
    let (status, _, _) = call(guessing, t.wallet_key.clone()).await;
    assert_eq!(status, 429);
    // The 429 carries the headers of every answer.
    let throttled = guessing_again()
        .post(&url)
        .bearer_auth("pvk_wrong")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["cache-control"], "no-store");
    assert_eq!(throttled.headers()["x-content-type-options"], "nosniff");
    // The public operations stay reachable from it.
    let health = guessing_again()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Another address is not.
    let (status, _, body) = call(client_from([127, 0, 0, 2]), t.wallet_key.clone()).await;
    assert_ne!(status, 429, "{body}");
    assert_ne!(status, 401, "{body}");
}

struct Pki {
    pki: LocalPki,
    _dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    Pki {
        pki: LocalPki::create(dir.path()).unwrap(),
        _dir: dir,
    }
}

fn trusting(pki: &LocalPki, identity: Option<&TlsFiles>) -> reqwest::Client {
    Outgoing::load(Some(&pki.ca()), identity)
        .unwrap()
        .client()
        .tls_info(true)
        .build()
        .unwrap()
}

/// The DER of the certificate the server presented.
fn presented(r: &reqwest::Response) -> Vec<u8> {
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a TLS answer carries the server's certificate")
        .to_vec()
}

fn der_of(files: &TlsFiles) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(&files.cert)
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn tls_serves_and_a_reloaded_certificate_is_presented_to_new_connections() {
    let t = common::harness().await;
    let Pki { pki, _dir } = pki();
    let files = pki.issue("token-service").unwrap();
    let tls = Tls::load(files.clone()).unwrap();
    let addr = start(
        t.app.clone(),
        Serving {
            tls: Some(tls.clone()),
            ..Serving::default()
        },
    )
    .await;
    let url = format!("https://{addr}/healthz");
    let first = trusting(&pki, None).get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let original = der_of(&files);
    assert_eq!(presented(&first), original);
    // Plain HTTP to a TLS port gets no HTTP answer.
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err()
    );
    // An untrusting client refuses the server.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());

    // A new certificate for the same name, in the same files; a broken file changes nothing.
    let renewed = pki.issue("token-service").unwrap();
    assert_ne!(der_of(&renewed), original);
    tls.reload().unwrap();
    let second = trusting(&pki, None).get(&url).send().await.unwrap();
    assert_eq!(presented(&second), der_of(&renewed));
    std::fs::write(&renewed.key, "not a key").unwrap();
    assert!(tls.reload().is_err());
    let third = trusting(&pki, None).get(&url).send().await.unwrap();
    assert_eq!(
        presented(&third),
        der_of(&renewed),
        "the current certificate stays"
    );
}

#[tokio::test]
async fn mutual_tls_refuses_a_caller_without_a_certificate_of_the_ca() {
    let t = common::harness().await;
    let Pki { pki, _dir } = pki();
    let files = pki.issue("carrier-tsm").unwrap();
    let tls = Tls::load(TlsFiles {
        client_ca: Some(pki.ca()),
        ..files
    })
    .unwrap();
    let addr = start(
        t.app.clone(),
        Serving {
            tls: Some(tls),
            ..Serving::default()
        },
    )
    .await;
    let url = format!("https://{addr}/healthz");
    let caller = pki.issue("bank-tsm").unwrap();
    let answered = trusting(&pki, Some(&caller))
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    assert!(
        trusting(&pki, None).get(&url).send().await.is_err(),
        "no client certificate"
    );
    let Pki {
        pki: other,
        _dir: _other_dir,
    } = self::pki();
    let stranger = other.issue("bank-tsm").unwrap();
    assert!(
        trusting(&pki, Some(&stranger))
            .get(&url)
            .send()
            .await
            .is_err(),
        "a certificate of another CA"
    );
}

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_authentication_is_logged_with_the_peer_and_the_kind_of_key_never_the_key() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime is one thread: the server's tasks log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let t = common::harness().await;
    let addr = start(t.app.clone(), Serving::default()).await;
    let guess = "pvk_a-guessed-admin-key-0123456789";
    let r = client_from([127, 0, 0, 3])
        .post(format!("http://{addr}/v1/admin/issuers"))
        .bearer_auth(guess)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("authentication failed"))
        .unwrap_or_else(|| panic!("no log line for the 401: {text}"));
    assert!(
        line.contains("peer=127.0.0.3") && line.contains("principal_kind=\"admin\""),
        "{line}"
    );
    assert!(!text.contains(guess), "the key reached the log");
}

//! Serving a role's router on a socket, the way an exposed service must (docs/operations.md
//! §HTTP limits and TLS): timeouts for headers, for the whole request and for idle
//! connections; a connection cap; failed authentication throttled per peer; TLS with rustls.

mod idle;
mod outgoing;
mod pki;
mod throttle;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use provisio_types::Code;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::ApiError;
use idle::{Activity, Watched};
pub use outgoing::Outgoing;
pub use pki::LocalPki;
pub use throttle::AuthThrottle;
use throttle::PeerPolicy;
pub use tls::{Tls, TlsError, TlsFiles};

/// The limits of the HTTP layer (`[http]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head (and a TLS handshake) must arrive within this.
    pub header_read_timeout: Duration,
    /// A request, body and handling, must be answered within this (408 `request_timeout`).
    pub request_timeout: Duration,
    /// A connection on which no byte moves for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Failed authentications per peer address and minute before 429 (0: no limit).
    pub auth_failures_per_minute: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            auth_failures_per_minute: 30,
        }
    }
}

/// How a role is served.
#[derive(Debug, Clone, Default)]
pub struct Serving {
    /// The limits.
    pub limits: HttpLimits,
    /// TLS, if this process terminates it.
    pub tls: Option<Tls>,
    /// A terminating proxy is in front (`--behind-tls-proxy`).
    pub behind_tls_proxy: bool,
}

impl Serving {
    /// Refuses to serve a non-loopback address in clear, unless a terminating proxy is in
    /// front: bearer keys, OTP codes and KBA answers must never cross a network unencrypted.
    pub fn check_listen(&self, addr: SocketAddr) -> Result<(), String> {
        if addr.ip().is_loopback() || self.tls.is_some() || self.behind_tls_proxy {
            return Ok(());
        }
        Err(format!(
            "refusing to listen on {addr} without TLS: give --tls-cert and --tls-key, or \
             --behind-tls-proxy when a terminating proxy is in front"
        ))
    }

    /// The scheme clients use to reach this server.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish (for
/// at most the request timeout).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    serving: Serving,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = serving.limits;
    let app = with_limits(app, &serving);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = serving.tls.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            let activity = Activity::new();
            let io = Watched::new(stream, activity.clone());
            match tls {
                None => connection(io, peer, app, limits, activity, stopping).await,
                Some(tls) => {
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, tls.acceptor().accept(io));
                    match handshake.await {
                        Ok(Ok(io)) => connection(io, peer, app, limits, activity, stopping).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    let _ = stop.send(true);
    // Every connection holds a slot until it ends.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.request_timeout, slots.acquire_many(all)).await;
    Ok(())
}

/// The layers this module adds around a role's router.
fn with_limits(app: Router, serving: &Serving) -> Router {
    let throttle = Arc::new(AuthThrottle::new(serving.limits.auth_failures_per_minute));
    let policy = PeerPolicy {
        behind_proxy: serving.behind_tls_proxy,
    };
    app.layer(axum::middleware::from_fn_with_state(
        (throttle, policy),
        throttle::throttle,
    ))
    .layer(axum::middleware::from_fn_with_state(
        serving.limits.request_timeout,
        deadline,
    ))
}

/// One connection: HTTP/1.1 with the header timeout, closed when idle or at shutdown.
async fn connection<T>(
    io: T,
    peer: SocketAddr,
    app: Router,
    limits: HttpLimits,
    activity: Activity,
    mut stopping: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        app.oneshot(request.map(axum::body::Body::new))
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => {
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        () = activity.idle_for(limits.idle_timeout) => {
            tracing::debug!(%peer, "idle connection closed");
        }
        () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// 408 `request_timeout` when a request, its body included, is not answered in time; the
/// connection is closed after it.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(answer) => answer,
        Err(_) => {
            tracing::warn!(limit_s = limit.as_secs(), "request timed out");
            let mut answer = ApiError::new(
                Code::RequestTimeout,
                format!("the request was not complete within {} s", limit.as_secs()),
            )
            .into_response();
            answer
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            crate::headers::secured(answer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_be_served_in_clear() {
        let clear = Serving::default();
        let proxied = Serving {
            behind_tls_proxy: true,
            ..Serving::default()
        };
        for local in ["127.0.0.1:8080", "[::1]:8080"] {
            assert!(
                clear.check_listen(local.parse().unwrap()).is_ok(),
                "{local}"
            );
        }
        for exposed in ["0.0.0.0:8080", "192.0.2.7:443", "[::]:8080"] {
            let refused = clear.check_listen(exposed.parse().unwrap()).unwrap_err();
            assert!(refused.contains("--behind-tls-proxy"), "{refused}");
            assert!(proxied.check_listen(exposed.parse().unwrap()).is_ok());
        }
    }
}

//! Failed authentication, throttled per peer address (docs/operations.md, `[http]`): after
//! `auth_failures_per_minute` answers of 401 to one address within a minute, that address gets
//! 429 `too_many_failed_authentications` with `Retry-After` on every request that presents a
//! key, until the minute is over.
//!
//! The count lives in the process: it slows guessing, it enforces nothing one-time (keys carry
//! 256 random bits, docs/protocol.md §1.2), so one count per instance is enough.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use provisio_types::Code;

use crate::ApiError;

/// How long one count lasts.
const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at most; beyond it, expired ones are dropped, and a new address is not
/// counted until there is room (an attacker with this many addresses is past what a count per
/// address can stop).
const MAX_PEERS: usize = 65_536;

/// The counts of failed authentications, per peer address.
#[derive(Debug)]
pub struct AuthThrottle {
    limit: u32,
    peers: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl AuthThrottle {
    /// At most `limit` failed authentications per address and minute (0: no throttling).
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// How long `peer` must wait, if it is over the limit at `now`.
    pub fn blocked(&self, peer: IpAddr, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let w = peers.get(&peer)?;
        let end = w.start + WINDOW;
        (w.failures >= self.limit && now < end).then(|| end - now)
    }

    /// Counts one failed authentication of `peer` at `now`.
    pub fn failed(&self, peer: IpAddr, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer) {
            peers.retain(|_, w| now < w.start + WINDOW);
            if peers.len() >= MAX_PEERS {
                return;
            }
        }
        let w = peers.entry(peer).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now >= w.start + WINDOW {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }
}

/// Where a request comes from, as the throttle counts it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerPolicy {
    /// A terminating proxy is in front (`--behind-tls-proxy`): the peer is the address the
    /// proxy appended last to `X-Forwarded-For`.
    pub(crate) behind_proxy: bool,
}

impl PeerPolicy {
    fn peer(self, request: &Request) -> Option<IpAddr> {
        let socket = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()?
            .0
            .ip();
        if !self.behind_proxy {
            return Some(socket);
        }
        Some(forwarded_for(request.headers()).unwrap_or(socket))
    }
}

/// The last address of `X-Forwarded-For`: the one the proxy in front of us appended (the
/// earlier ones are the client's word, RFC 7239 section 5.2).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    last.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// Which kind of key a path asks for, for the log (never the key itself).
fn principal_kind(path: &str) -> &'static str {
    if ["/v1/admin/", "/v1/sei/admin/", "/v1/sp/admin/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        "admin"
    } else if path.starts_with("/v1/network/") {
        "network"
    } else if path.starts_with("/v1/sei/ota/") || path.starts_with("/v1/sp/ota/") {
        "ota_client"
    } else {
        "participant"
    }
}

/// The middleware: refuses a throttled peer before anything else runs, and counts 401s.
pub(crate) async fn throttle(
    State((throttle, policy)): State<(Arc<AuthThrottle>, PeerPolicy)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(peer) = policy.peer(&request) else {
        return next.run(request).await;
    };
    // Only requests that present a credential are refused: the public operations (health,
    // the documents, the key set) stay reachable from a throttled address.
    let presents_key = request.headers().contains_key(header::AUTHORIZATION);
    if let Some(wait) = throttle
        .blocked(peer, Instant::now())
        .filter(|_| presents_key)
    {
        tracing::warn!(%peer, "throttled: too many failed authentications");
        let seconds = wait.as_secs().max(1);
        let mut answer = ApiError::new(
            Code::TooManyFailedAuthentications,
            format!("too many failed authentications from this address; retry in {seconds} s"),
        )
        .into_response();
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return crate::headers::secured(answer);
    }
    let kind = principal_kind(request.uri().path());
    let answer = next.run(request).await;
    if answer.status() == StatusCode::UNAUTHORIZED {
        throttle.failed(peer, Instant::now());
        tracing::warn!(%peer, principal_kind = kind, "authentication failed");
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_peer_over_the_limit_waits_until_its_minute_is_over() {
        let t = AuthThrottle::new(3);
        let t0 = Instant::now();
        for _ in 0..2 {
            t.failed(A, t0);
        }
        assert_eq!(t.blocked(A, t0), None, "two failures are under the limit");
        t.failed(A, t0);
        assert_eq!(
            t.blocked(A, t0 + Duration::from_secs(20)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(t.blocked(B, t0), None, "another address is not affected");
        assert_eq!(t.blocked(A, t0 + WINDOW), None, "the minute is over");
        t.failed(A, t0 + WINDOW);
        assert_eq!(
            t.blocked(A, t0 + WINDOW),
            None,
            "a new minute counts from zero"
        );
    }

    #[test]
    fn the_log_names_the_kind_of_key_a_path_asks_for() {
        assert_eq!(principal_kind("/v1/admin/issuers"), "admin");
        assert_eq!(principal_kind("/v1/sei/admin/elements"), "admin");
        assert_eq!(principal_kind("/v1/sp/admin/callers"), "admin");
        assert_eq!(principal_kind("/v1/network/authorizations"), "network");
        assert_eq!(principal_kind("/v1/sei/ota/sessions"), "ota_client");
        assert_eq!(principal_kind("/v1/push-provisioning"), "participant");
    }

    #[test]
    fn zero_means_no_throttling() {
        let t = AuthThrottle::new(0);
        let t0 = Instant::now();
        for _ in 0..100 {
            t.failed(A, t0);
        }
        assert_eq!(t.blocked(A, t0), None);
    }

    #[test]
    fn behind_a_proxy_the_last_forwarded_address_counts() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 192.0.2.1"),
        );
        assert_eq!(forwarded_for(&h), Some(A));
        h.append("x-forwarded-for", HeaderValue::from_static("192.0.2.2"));
        assert_eq!(forwarded_for(&h), Some(B));
        assert_eq!(forwarded_for(&HeaderMap::new()), None);
    }
}
